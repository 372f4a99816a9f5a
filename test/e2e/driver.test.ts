/**
 * The request driver both engines stand on, seen from the wire: how each way a request can end is
 * handled (the client leaving, timeouts, malformed bodies, graceful stops), what the app sees of it
 * (tsgi.signal, rejected reads and writes, return() and close()), and the response heads, which
 * are the same bytes on both engines.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { startTsgi, stopAll, type RunningServer } from '../helpers/server.js';
import { openRaw, rawRequest } from '../helpers/raw.js';
import { count, sleep, until } from '../helpers/wait.js';

const ENGINES = ['tsgi', 'node'] as const;
const APP = 'test/fixtures/apps/driver:app';

afterAll(stopAll);

function get(path: string, extra = '', version = '1.1'): string {
  return `GET ${path} HTTP/${version}\r\nHost: h\r\n${extra}\r\n`;
}

function headOf(raw: string): string {
  return raw.slice(0, raw.indexOf('\r\n\r\n') + 4);
}

function rssOf(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
}

describe.each(ENGINES)('engine %s', (engine) => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startTsgi({
      args: ['--http', engine, '--workers', '1', '--request-timeout', '1', '-c', 'test/fixtures/driver/record.mjs', APP],
    });
  });

  afterAll(async () => {
    await server.stop();
  });

  it('never writes 100 Continue once the response head is out, and closes instead of reading on', async () => {
    const conn = await openRaw(server.port);
    conn.write('POST /write-then-read HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n');
    await conn.until((d) => d.includes('head-sent;'));
    // The client waited for a 100 that never came (the answer did); it sends its body anyway.
    conn.write('hello');
    expect(await conn.closed(3000)).toBe(true);
    const raw = conn.data().toString('latin1');
    expect(raw).not.toContain('100 Continue');
    expect(raw).toMatch(/\r\nConnection: close\r\n/);
    expect(raw).toContain('read 5 bytes');
  });

  it('aborts tsgi.signal when the client leaves, so a pending event stream ends and is closed', async () => {
    const conn = await openRaw(server.port);
    conn.write(get('/sse'));
    await conn.until((d) => d.includes('data: first'));
    const before = count(server, /MARK SSE_FINALLY/);
    conn.destroy();
    await server.waitFor(/MARK SSE_ABORTED TSGI_ERR_CLIENT_GONE/, 3000);
    await until(() => count(server, /MARK SSE_FINALLY/) > before && count(server, /MARK SSE_CLOSED/) > before, 'the body to be finished and closed', { timeoutMs: 3000, server });
  });

  it('calls return() and close() on a body whose next() is pending when the client leaves', async () => {
    const conn = await openRaw(server.port);
    conn.write(get('/stuck'));
    await conn.until((d) => d.includes('first;'));
    const before = count(server, /MARK STUCK_CLOSED/);
    conn.destroy();
    await until(() => count(server, /MARK STUCK_CLOSED/) > before, 'return() then close()', { timeoutMs: 3000, server });
    expect(count(server, /MARK STUCK_RETURN/)).toBeGreaterThan(before);
  });

  it('rejects write() once the client has gone', async () => {
    const conn = await openRaw(server.port);
    conn.write(get('/write-loop'));
    await conn.until((d) => d.includes('tick 1'));
    conn.destroy();
    await server.waitFor(/MARK WRITE_REJECTED TSGI_ERR_CLIENT_GONE/, 3000);
  });

  it('answers 504 at --request-timeout, logs the request once, and tells the app through its signal', async () => {
    const started = Date.now();
    const { responses } = await rawRequest(server.port, get('/late?ms=1500'), { responses: 1, timeoutMs: 4000 });
    expect(responses[0]!.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(3500);
    await server.waitFor(/MARK LATE_SIGNAL true TSGI_ERR_REQUEST_TIMEOUT/, 3000);
    // The app answering after the 504 is not an app error: its answer has nowhere to go.
    await sleep(100);
    expect(server.output()).not.toMatch(/the app raised/);
    expect(count(server, /MARK RECORDED 504 GET \/late\?ms=1500/)).toBe(1);
  });

  it('records a request refused for a malformed body, and the app sees the code', async () => {
    const { responses } = await rawRequest(server.port, 'POST /read HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\n\r\n', { timeoutMs: 3000 });
    expect(responses[0]!.status).toBe(400);
    await server.waitFor(/MARK READ_FAILED TSGI_ERR_HTTP_CHUNK/, 3000);
    await server.waitFor(/MARK RECORDED 400 POST \/read/, 3000);
    // A head the parser refuses has no environ; it is recorded all the same.
    const refused = await rawRequest(server.port, 'GET /x HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', { timeoutMs: 3000 });
    expect(refused.responses[0]!.status).toBe(400);
    await server.waitFor(/MARK RECORDED 400 -/, 3000);
  });

  it('sends no Content-Length on HEAD or 304 answered with an empty body, and 0 on an empty 200', async () => {
    const head = await rawRequest(server.port, 'HEAD /empty HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n', {});
    expect(head.data.toString('latin1')).not.toMatch(/content-length/i);
    const notModified = await rawRequest(server.port, get('/empty?status=304%20Not%20Modified'), { responses: 1 });
    expect(notModified.responses[0]!.status).toBe(304);
    expect(notModified.responses[0]!.header('content-length')).toBeUndefined();
    const empty = await rawRequest(server.port, get('/empty'), { responses: 1 });
    expect(empty.responses[0]!.header('content-length')).toBe('0');
  });

  it('gives a bare status code its reason phrase, keeping the SP when there is none', async () => {
    const ok = await rawRequest(server.port, get('/bare-status'), { responses: 1 });
    expect(ok.data.toString('latin1')).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    const unknown = await rawRequest(server.port, get('/bare-status?status=299'), { responses: 1 });
    expect(unknown.data.toString('latin1')).toMatch(/^HTTP\/1\.1 299 \r\n/);
  });

  it("sends the app's own Date once, and no second one", async () => {
    const { data } = await rawRequest(server.port, get('/app-date'), { responses: 1 });
    const dates = data.toString('latin1').match(/\r\nDate: [^\r]*/gi) ?? [];
    expect(dates).toEqual(['\r\nDate: Tue, 01 Dec 2026 00:00:00 GMT']);
  });

  it('says keep-alive with its idle timeout on a persistent connection', async () => {
    const { data } = await rawRequest(server.port, get('/pid'), { responses: 1 });
    expect(data.toString('latin1')).toMatch(/\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n/);
  });

  it('sends 103 Early Hints before the response on HTTP/1.1 and none on HTTP/1.0', async () => {
    const v11 = await rawRequest(server.port, get('/hints'), { responses: 1 });
    expect(v11.data.toString('latin1')).toMatch(/^HTTP\/1\.1 103 Early Hints\r\nLink: <\/style\.css>; rel=preload; as=style\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    const v10 = await rawRequest(server.port, 'GET /hints HTTP/1.0\r\n\r\n', {});
    expect(v10.data.toString('latin1')).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });

  it('survives an app that writes after its response without awaiting it', async () => {
    const before = (await rawRequest(server.port, get('/pid'), { responses: 1 })).responses[0]!.body.toString();
    const { responses } = await rawRequest(server.port, get('/write-after-end'), { responses: 1 });
    expect(responses[0]!.body.toString()).toBe('done');
    await server.waitFor(/MARK WROTE_LATE/, 3000);
    await sleep(200);
    const after = (await rawRequest(server.port, get('/pid'), { responses: 1 })).responses[0]!.body.toString();
    expect(after).toBe(before);
    expect(server.output()).toMatch(/the app called write\(\) after its response had ended/);
    expect(server.output()).not.toMatch(/unhandled/i);
  });

  it('answers a malformed pipelined request only after the request before it', async () => {
    const { responses, closed } = await rawRequest(server.port, get('/late?ms=300') + 'GARBAGE\r\n\r\n', { timeoutMs: 4000 });
    expect(responses.map((r) => r.status)).toEqual([200, 400]);
    expect(closed).toBe(true);
  });

  it('answers a Connection: close request sent in one packet with another, then closes', async () => {
    const v10 = await rawRequest(server.port, 'GET /pid HTTP/1.0\r\n\r\n' + get('/pid'), { timeoutMs: 3000 });
    expect(v10.responses.length).toBe(1);
    expect(v10.closed).toBe(true);
    const close = await rawRequest(server.port, get('/pid', 'Connection: close\r\n') + get('/pid'), { timeoutMs: 3000 });
    expect(close.responses.length).toBe(1);
    expect(close.closed).toBe(true);
  });

  it('stops answering a client that pipelines requests and reads nothing, holding bounded memory', async () => {
    const pid = Number((await rawRequest(server.port, get('/pid'), { responses: 1 })).responses[0]!.body.toString());
    const before = rssOf(pid);
    const conn = await openRaw(server.port);
    conn.socket.pause(); // read nothing
    const batch = Buffer.from(get('/pid').repeat(2000), 'latin1');
    // Up to 600,000 requests (about 16 MB). A server that kept answering would take them all and
    // hold every response; one that stops reading leaves the client blocked by the kernel.
    let blockedMs = 0;
    let written = 0;
    for (let i = 0; i < 300 && blockedMs < 1500; i++) {
      written += batch.length;
      if (!conn.socket.write(batch)) {
        const t = Date.now();
        await Promise.race([new Promise((r) => conn.socket.once('drain', r)), sleep(250)]);
        blockedMs += Date.now() - t;
      }
    }
    await sleep(500);
    const grown = rssOf(pid) - before;
    // What the kernel took (bytesWritten also counts what still waits in the client's own buffer).
    const taken = conn.socket.bytesWritten - conn.socket.writableLength;
    conn.destroy();
    expect(blockedMs, 'the server kept reading').toBeGreaterThanOrEqual(1500);
    expect(taken).toBeLessThan(written);
    expect(grown).toBeLessThan(100 * 1024 * 1024);
  });
});

describe('both engines', () => {
  const servers: Record<string, RunningServer> = {};

  beforeAll(async () => {
    for (const engine of ENGINES) servers[engine] = await startTsgi({ args: ['--http', engine, '--workers', '1', APP] });
  });

  afterAll(async () => {
    for (const s of Object.values(servers)) await s.stop();
  });

  it('send the same head bytes for the same response', async () => {
    const requests = [get('/pid'), get('/bare-status'), get('/app-date'), get('/empty'), 'HEAD /empty HTTP/1.1\r\nHost: h\r\n\r\n', 'GET /pid HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', get('/sse')];
    for (const request of requests) {
      const heads: string[] = [];
      for (const engine of ENGINES) {
        const { data } = await rawRequest(servers[engine]!.port, request, { timeoutMs: 400 });
        heads.push(headOf(data.toString('latin1')).replace(/\r\nDate: [^\r]*/, '\r\nDate: X'));
      }
      expect(heads[1], request).toBe(heads[0]);
    }
  });
});

describe.each(ENGINES)('settings on engine %s', (engine) => {
  it('--root-path: the app is mounted at the prefix, and nothing outside it reaches the app', async () => {
    const server = await startTsgi({ args: ['--http', engine, '--root-path', '/mnt', APP] });
    try {
      const inside = await rawRequest(server.port, get('/mnt/env'), { responses: 1 });
      expect(JSON.parse(inside.responses[0]!.body.toString())).toMatchObject({ SCRIPT_NAME: '/mnt', PATH_INFO: '/env' });
      const root = await rawRequest(server.port, get('/mnt'), { responses: 1 });
      expect(JSON.parse(root.responses[0]!.body.toString())).toMatchObject({ SCRIPT_NAME: '/mnt', PATH_INFO: '' });
      for (const outside of ['/env', '/mntx/env', '/']) {
        const r = await rawRequest(server.port, get(outside), { responses: 1 });
        expect(r.responses[0]!.status, outside).toBe(404);
      }
      const star = await rawRequest(server.port, 'OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n', { responses: 1 });
      expect(JSON.parse(star.responses[0]!.body.toString())).toMatchObject({ SCRIPT_NAME: '', PATH_INFO: '*' });
    } finally {
      await server.stop();
    }
  });

  it('reads SCRIPT_NAME from the environment as the default root path', async () => {
    const server = await startTsgi({ args: ['--http', engine, APP], env: { SCRIPT_NAME: '/api/' } });
    try {
      const r = await rawRequest(server.port, get('/api/v1'), { responses: 1 });
      expect(JSON.parse(r.responses[0]!.body.toString())).toMatchObject({ SCRIPT_NAME: '/api', PATH_INFO: '/v1' });
    } finally {
      await server.stop();
    }
  });

  it('--keep-alive 0 closes after every response; --keep-alive 1 closes an idle connection after a second', async () => {
    const none = await startTsgi({ args: ['--http', engine, '--keep-alive', '0', APP] });
    const one = await startTsgi({ args: ['--http', engine, '--keep-alive', '1', APP] });
    try {
      const conn = await openRaw(none.port);
      conn.write(get('/pid'));
      expect(await conn.closed(1500)).toBe(true);
      expect(conn.data().toString('latin1')).toMatch(/\r\nConnection: close\r\n/);
      const idle = await openRaw(one.port);
      idle.write(get('/pid'));
      await idle.until((d) => d.includes('Keep-Alive: timeout=1'));
      const t = Date.now();
      expect(await idle.closed(4000)).toBe(true);
      expect(Date.now() - t).toBeGreaterThanOrEqual(900);
    } finally {
      await none.stop();
      await one.stop();
    }
  });

  it('a graceful stop waits for a request whose client left, and for its close()', async () => {
    const server = await startTsgi({ args: ['--http', engine, APP] });
    const conn = await openRaw(server.port);
    conn.write(get('/cleanup'));
    await conn.until((d) => d.includes('started;'));
    conn.destroy();
    await sleep(100);
    const result = await server.stop('SIGTERM');
    expect(result.code).toBe(0);
    const out = server.output();
    expect(out).toMatch(/MARK CLEANUP_DONE/);
    expect(out).toMatch(/MARK CLOSE_DONE/);
  });

  it('fails no keep-alive request while workers are replaced under load (3 HUPs)', async () => {
    const server = await startTsgi({ args: ['--http', engine, '--workers', '2', APP] });
    try {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
      let ok = 0;
      const failures: string[] = [];
      let running = true;
      const loop = async (): Promise<void> => {
        while (running) {
          await new Promise<void>((resolve) => {
            const req = http.get({ host: '127.0.0.1', port: server.port, path: '/pid', agent }, (res) => {
              res.resume();
              res.on('end', () => {
                if (res.statusCode === 200) ok++;
                else failures.push(`status ${res.statusCode}`);
                resolve();
              });
            });
            req.on('error', (err) => {
              failures.push(err.message);
              resolve();
            });
          });
        }
      };
      const loops = Array.from({ length: 8 }, loop);
      for (let i = 0; i < 3; i++) {
        await sleep(700);
        server.proc.kill('SIGHUP');
      }
      await sleep(1500);
      running = false;
      await Promise.all(loops);
      agent.destroy();
      expect(failures).toEqual([]);
      expect(ok).toBeGreaterThan(200);
    } finally {
      await server.stop();
    }
  });
});
