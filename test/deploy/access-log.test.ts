/**
 * The access log: Gunicorn's atoms, safe escaping, JSON lines, and lines that reach the file at
 * once and survive the worker that wrote them.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileFormat, escapeValue, jsonLine } from '../../src/worker/access-log.js';
import { DEFAULT_ACCESS_LOG_FORMAT } from '../../src/config/access-log-format.js';
import type { RequestRecord } from '../../src/engines/engine.js';
import type { Environ } from '../../src/gateway/types.js';
import { startTsgi, stopAll } from '../helpers/server.js';
import { rawRequest } from '../helpers/raw.js';
import { sleep, until } from '../helpers/wait.js';

afterAll(stopAll);

function record(over: Partial<RequestRecord> = {}, environ: Record<string, string> | null = {}): RequestRecord {
  return {
    environ: environ === null ? null : ({ PATH_INFO: '/a b', SCRIPT_NAME: '', QUERY_STRING: 'x=1', ...environ } as unknown as Environ),
    method: 'GET',
    target: '/a%20b?x=1',
    protocol: 'HTTP/1.1',
    remoteAddr: '10.0.0.1',
    status: 200,
    responseHeaders: [['Content-Type', 'text/plain'], ['Set-Cookie', 'a=1'], ['set-cookie', 'b=2']],
    bytesSent: 1234,
    bytesReceived: 5,
    startedAt: Date.UTC(2026, 0, 31, 12, 0, 0),
    durationMs: 12.3456,
    outcome: 'ok',
    ...over,
  };
}

const NOW = Date.UTC(2026, 0, 31, 12, 0, 1);

describe('access log format', () => {
  it('renders the default: combined, then the request time in decimal seconds', () => {
    const line = compileFormat(DEFAULT_ACCESS_LOG_FORMAT)(record({}, { HTTP_REFERER: 'http://r/', HTTP_USER_AGENT: 'ua/1' }), NOW);
    expect(line).toBe('10.0.0.1 - - [31/Jan/2026:12:00:01 +0000] "GET /a%20b?x=1 HTTP/1.1" 200 1234 "http://r/" "ua/1" 0.012346');
  });

  it("knows Gunicorn's atoms", () => {
    const auth = `Basic ${Buffer.from('alice:secret').toString('base64')}`;
    const f = compileFormat('%(m)s|%(U)s|%(q)s|%(H)s|%(s)s|%(B)s|%(b)s|%(T)s|%(M)s|%(D)s|%(L)s|%(u)s|%(l)s|%({X-Id}i)s|%({set-cookie}o)s|%(zz)s|%%|%(p)s');
    expect(f(record({}, { HTTP_AUTHORIZATION: auth, HTTP_X_ID: 'abc' }), NOW)).toBe(`GET|/a b|x=1|HTTP/1.1|200|1234|1234|0|12|12346|0.012346|alice|-|abc|a=1, b=2|-|%|<${process.pid}>`);
    expect(compileFormat('%(b)s %(B)s %(s)s')(record({ bytesSent: 0, status: 0 }), NOW)).toBe('- 0 -');
  });

  it('escapes what the client controls so no request can forge a line', () => {
    expect(escapeValue('a"b\\c\nd\x1b[31m')).toBe('a\\x22b\\x5Cc\\x0Ad\\x1B[31m');
    expect(escapeValue('caf\u00e9')).toBe('caf\\xE9');
    const line = compileFormat('"%(a)s" "%(r)s"')(record({ target: '/x"\n127.0.0.1 - - fake' }, { HTTP_USER_AGENT: 'evil"\r\nx' }), NOW);
    expect(line.split('\n')).toHaveLength(1);
    expect(line).toBe('"evil\\x22\\x0D\\x0Ax" "GET /x\\x22\\x0A127.0.0.1 - - fake HTTP/1.1"');
  });

  it('logs a request refused before an environ existed', () => {
    const line = compileFormat(DEFAULT_ACCESS_LOG_FORMAT)(record({ method: '', target: '', protocol: '', status: 400, bytesSent: 11, outcome: 'refused' }, null), NOW);
    expect(line).toBe('10.0.0.1 - - [31/Jan/2026:12:00:01 +0000] "-" 400 11 "-" "-" 0.012346');
  });

  it('--access-log-json writes one valid object per request', () => {
    const text = jsonLine(record({ target: '/\u2028"x' }, { HTTP_USER_AGENT: 'a\nb' }), NOW);
    expect(text.includes('\n')).toBe(false);
    expect(JSON.parse(text)).toMatchObject({ time: '2026-01-31T12:00:01.000Z', remote_addr: '10.0.0.1', method: 'GET', target: '/\u2028"x', status: 200, bytes_sent: 1234, bytes_received: 5, duration_ms: 12.346, user_agent: 'a\nb', outcome: 'ok' });
  });
});

describe('access log file', () => {
  it('writes each line at once while the server runs, with the bytes sent and the duration', async () => {
    const log = join(mkdtempSync(join(tmpdir(), 'tsgi-access-')), 'access.log');
    const server = await startTsgi({ args: ['--access-logfile', log, 'examples/hello:app'] });
    await rawRequest(server.port, 'GET /one HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    // One request at low traffic: the line is in the file within a second, not at exit.
    await until(() => existsSync(log) && readFileSync(log, 'utf8').includes('/one'), 'the access log line', { timeoutMs: 1000 });
    expect(readFileSync(log, 'utf8')).toMatch(/"GET \/one HTTP\/1\.1" 200 13 "-" "-" 0\.\d{6}\n$/);
    await server.stop();
  });

  it('keeps the lines of a worker killed with SIGKILL', async () => {
    const log = join(mkdtempSync(join(tmpdir(), 'tsgi-access-')), 'access.log');
    const server = await startTsgi({ args: ['--access-logfile', log, '--access-log-json', 'examples/hello:app'] });
    for (let i = 0; i < 5; i++) await rawRequest(server.port, `GET /n${i} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`);
    // Killed 100 ms after the last response: sooner than any timed flush, and with less than
    // a buffer's worth of lines waiting.
    await sleep(100);
    const worker = Number(/Booting worker with pid: (\d+)/.exec(server.output())![1]);
    process.kill(worker, 'SIGKILL');
    await until(() => /exited unexpectedly/.test(server.output()), 'the worker to die', { server });
    const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { target: string; status: number; bytes_sent: number });
    expect(lines.map((l) => l.target)).toEqual(['/n0', '/n1', '/n2', '/n3', '/n4']);
    expect(lines.every((l) => l.status === 200 && l.bytes_sent === 13)).toBe(true);
    await server.stop();
  });

  it('takes --access-logformat', async () => {
    const log = join(mkdtempSync(join(tmpdir(), 'tsgi-access-')), 'access.log');
    const server = await startTsgi({ args: ['--access-logfile', log, '--access-logformat', '%(m)s %(U)s %(s)s %(b)s %({x-id}i)s', 'examples/hello:app'] });
    await rawRequest(server.port, 'POST /p?q=1 HTTP/1.1\r\nHost: t\r\nX-Id: 42\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc');
    await server.stop();
    expect(readFileSync(log, 'utf8')).toBe('POST /p 200 13 42\n');
  });
});

describe('error log', () => {
  it('JSON lines carry the level name and an ISO time', async () => {
    const server = await startTsgi({ args: ['examples/hello:app'] });
    await server.stop();
    const first = JSON.parse(server.output().split('\n').find((l) => l.includes('Listening at'))!) as Record<string, unknown>;
    expect(first.level).toBe('info');
    expect(first.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(first).toMatchObject({ role: 'master', pid: server.proc.pid });
  });

  it('pretty output is one line per event', async () => {
    const server = await startTsgi({ args: ['examples/hello:app'], env: { TSGI_LOG_FORMAT: 'pretty' }, waitReady: false });
    await server.waitFor(/Worker ready/);
    await server.stop();
    const lines = server.output().trim().split('\n');
    // eslint-disable-next-line no-control-regex
    const plain = lines.map((l) => l.replace(/\x1b\[[0-9;]*m/g, ''));
    expect(plain.length).toBeGreaterThan(4);
    for (const l of plain) expect(l).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] [A-Z]+ \(\d+\): (master|worker \d+): /);
  });
});
