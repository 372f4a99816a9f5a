/**
 * Proxy trust end to end, on both engines and all three interfaces: from a peer in
 * --forwarded-allow-ips (loopback by default, and any unix-socket peer), X-Forwarded-* and
 * Forwarded give the app the client's address and port, the scheme, and the host and port it
 * asked for, and the access log names the client; conflicting scheme headers are refused with 400
 * before the app runs. From any other peer they are plain headers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTsgi, stopAll, type RunningServer } from '../helpers/server.js';
import { rawRequest } from '../helpers/raw.js';
import { until } from '../helpers/wait.js';

const ENGINES = ['tsgi', 'node'] as const;
const APP = 'test/fixtures/apps/edge.js';

afterAll(stopAll);

function get(path: string, fields: string[]): string {
  return `GET ${path} HTTP/1.1\r\nHost: internal:8000\r\n${fields.map((f) => `${f}\r\n`).join('')}Connection: close\r\n\r\n`;
}

async function json(port: number, path: string, fields: string[], socketPath?: string): Promise<Record<string, unknown>> {
  const r = await rawRequest(port, get(path, fields), socketPath === undefined ? { responses: 1 } : { responses: 1, socketPath });
  expect(r.responses[0]?.status, r.data.toString('latin1')).toBe(200);
  return JSON.parse(r.responses[0]!.body.toString()) as Record<string, unknown>;
}

const NGINX_LIKE = ['X-Forwarded-For: 203.0.113.5, 198.51.100.7', 'X-Forwarded-Proto: https', 'X-Forwarded-Host: www.example.com', 'X-Forwarded-Port: 8443'];

describe.each(ENGINES)('engine %s', (engine) => {
  let trusting: RunningServer;
  let untrusting: RunningServer;
  let socket: string;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsgi-proxies-'));
    chmodSync(dir, 0o755);
    socket = join(dir, 'tsgi.sock');
    [trusting, untrusting] = await Promise.all([
      startTsgi({
        args: ['--http', engine, '-b', '127.0.0.1:0', '-b', `unix:${socket}`, '--access-logfile', '-', '--access-logformat', 'CLIENT %(h)s %(s)s %(U)s', '-c', 'test/fixtures/driver/record.mjs', `${APP}:app`],
      }),
      startTsgi({ args: ['--http', engine, '--forwarded-allow-ips', '192.0.2.1,10.0.0.0/8', `${APP}:app`] }),
    ]);
  }, 30_000);

  it('from a trusted peer, X-Forwarded-* set the client address, the scheme, the host and port; the fields stay visible', async () => {
    const seen = await json(trusting.port, '/env', NGINX_LIKE);
    expect(seen).toMatchObject({
      // The right-most hop that is not itself trusted: 198.51.100.7 connected to the proxy.
      remoteAddr: '198.51.100.7',
      remotePort: '',
      scheme: 'https',
      host: 'www.example.com:8443',
      serverName: 'www.example.com',
      serverPort: '8443',
      forwardedFor: '203.0.113.5, 198.51.100.7',
      forwardedProto: 'https',
    });
  });

  it('takes the client from RFC 7239 Forwarded, with its port, and proto= sets the scheme and its default port', async () => {
    const seen = await json(trusting.port, '/env', ['Forwarded: for="[2001:db8::17]:4711";proto=https;host=shop.example']);
    expect(seen).toMatchObject({ remoteAddr: '2001:db8::17', remotePort: '4711', scheme: 'https', host: 'shop.example', serverName: 'shop.example', serverPort: '443' });
  });

  it('names the forwarded client in the access log, and the peer when nothing was forwarded', async () => {
    await json(trusting.port, '/logged', NGINX_LIKE);
    await json(trusting.port, '/direct', []);
    await until(() => /CLIENT 198\.51\.100\.7 200 \/logged/.test(trusting.output()) && /CLIENT 127\.0\.0\.1 200 \/direct/.test(trusting.output()), 'both access log lines', { server: trusting });
  });

  it('refuses conflicting scheme headers from a trusted peer with 400 and the code, without calling the app', async () => {
    const r = await rawRequest(trusting.port, get('/conflict', ['X-Forwarded-Proto: https', 'X-Forwarded-Ssl: off']), { responses: 1 });
    expect(r.responses[0]!.status).toBe(400);
    expect(r.responses[0]!.header('connection')).toBe('close');
    expect(r.responses[0]!.body.toString()).toMatch(/secure scheme headers disagree/);
    await until(() => /TSGI_ERR_FORWARDED_CONFLICT/.test(trusting.output()) && /MARK RECORDED 400 -/.test(trusting.output()), 'the refusal logged and recorded', { server: trusting });
    expect(trusting.output()).not.toMatch(/CLIENT \S+ 200 \/conflict/);
  });

  it('refuses a malformed X-Forwarded-Port from a trusted peer with 400', async () => {
    const r = await rawRequest(trusting.port, get('/bad-port', ['X-Forwarded-Port: 99999']), { responses: 1 });
    expect(r.responses[0]!.status).toBe(400);
    await until(() => /TSGI_ERR_FORWARDED\b/.test(trusting.output()), 'the refusal logged', { server: trusting });
  });

  it('trusts a peer on the unix socket, as Gunicorn does', async () => {
    const seen = await json(0, '/env', ['X-Forwarded-For: 198.51.100.9', 'X-Forwarded-Proto: https'], socket);
    expect(seen).toMatchObject({ remoteAddr: '198.51.100.9', scheme: 'https' });
    expect((await json(0, '/env', [], socket)).remoteAddr).toBe('');
  });

  it('from a peer not in --forwarded-allow-ips, the headers are plain headers and the connection stands', async () => {
    const seen = await json(untrusting.port, '/env', [...NGINX_LIKE, 'X-Forwarded-Ssl: off']);
    expect(seen).toMatchObject({
      remoteAddr: '127.0.0.1',
      scheme: 'http',
      host: 'internal:8000',
      serverName: 'internal',
      serverPort: '8000',
      forwardedFor: '203.0.113.5, 198.51.100.7',
      forwardedProto: 'https',
    });
    expect(Number(seen.remotePort)).toBeGreaterThan(0);
  });
});

describe.each(ENGINES)('the fetch and node interfaces on engine %s', (engine) => {
  let fetchServer: RunningServer;
  let nodeServer: RunningServer;

  beforeAll(async () => {
    [fetchServer, nodeServer] = await Promise.all([
      startTsgi({ args: ['--http', engine, `${APP}:fetchApp`] }),
      startTsgi({ args: ['--http', engine, '--interface', 'node', `${APP}:nodeApp`] }),
    ]);
  }, 30_000);

  it("build the fetch app's request URL from what the trusted proxy forwarded", async () => {
    const seen = await json(fetchServer.port, '/env?x=1', NGINX_LIKE);
    expect(seen).toMatchObject({ url: 'https://www.example.com:8443/env?x=1', remoteAddr: '198.51.100.7' });
    expect((await json(fetchServer.port, '/plain', [])).url).toBe('http://internal:8000/plain');
  });

  it("give a node handler the client's address and an encrypted socket", async () => {
    const seen = await json(nodeServer.port, '/env', NGINX_LIKE);
    expect(seen).toMatchObject({ remoteAddress: '198.51.100.7', encrypted: true, url: '/env' });
    expect(await json(nodeServer.port, '/env', [])).toMatchObject({ remoteAddress: '127.0.0.1', encrypted: false });
  });
});
