/**
 * config/nginx.conf as it ships, with a real Nginx (Debian's package) in front of tsgi, over TCP
 * and over the unix socket: a 100 MB upload streams through, a streamed response arrives in
 * pieces, a HUP under load fails no request, and the WebSocket Upgrade map is in place.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { chmodSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, startTsgi, stopAll, type RunningServer } from '../helpers/server.js';
import { checkNginxConfig, freePort, renderNginxConfig, startNginx, stopAllProxies } from '../helpers/nginx.js';
import type { ProxyProcess } from '../helpers/proxy-process.js';
import { startLoad } from '../helpers/load.js';
import { count, sleep, until } from '../helpers/wait.js';

const APP = join(ROOT, 'test/deploy/fixtures/proxy-app.js:app');
let tsgi: RunningServer;
let nginx: ProxyProcess;
let nginxUnix: ProxyProcess;
let port = 0;
let unixPort = 0;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-behind-nginx-'));
  chmodSync(dir, 0o755);
  const socket = join(dir, 'tsgi.sock');
  tsgi = await startTsgi({ args: ['--workers', '2', '-b', '127.0.0.1:0', '-b', `unix:${socket}`, '-m', '000', APP] });
  await until(() => count(tsgi, /Worker ready/) >= 2, 'two workers', { server: tsgi });
  port = await freePort();
  nginx = await startNginx(renderNginxConfig({ listenPort: port, upstreamPort: tsgi.port, upstreamSocket: socket }, '@PREFIX@'), port);
  // The same file with the unix-socket upstream, as its comment says.
  unixPort = await freePort();
  const unixConf = renderNginxConfig({ listenPort: unixPort, upstreamPort: tsgi.port, upstreamSocket: socket }, '@PREFIX@').replace('proxy_pass http://tsgi;', 'proxy_pass http://tsgi_unix;');
  nginxUnix = await startNginx(unixConf, unixPort);
}, 60_000);

afterAll(async () => {
  await stopAllProxies();
  await stopAll();
});

function request(p: number, path: string, options: { method?: string; body?: { chunk: Buffer; times: number } } = {}): Promise<{ status: number; body: string; chunksAt: number[]; endAt: number }> {
  return new Promise((resolve, reject) => {
    const chunksAt: number[] = [];
    const req = http.request({ host: '127.0.0.1', port: p, path, method: options.method ?? 'GET', agent: false, timeout: 60_000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => {
        chunksAt.push(Date.now());
        body += d.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, chunksAt, endAt: Date.now() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    const body = options.body;
    if (body === undefined) return void req.end();
    let sent = 0;
    const pump = (): void => {
      while (sent < body.times) {
        sent++;
        if (!req.write(body.chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

describe('behind Nginx (config/nginx.conf)', () => {
  it('is a configuration nginx -t accepts, with the WebSocket Upgrade map and X-Forwarded-* headers', async () => {
    const shipped = readFileSync(join(ROOT, 'config/nginx.conf'), 'utf8');
    expect(shipped).toMatch(/map \$http_upgrade \$connection_upgrade \{\s*default upgrade;\s*''\s*'';\s*\}/);
    expect(shipped).toContain('proxy_set_header Upgrade $http_upgrade;');
    expect(shipped).toContain('proxy_set_header Connection $connection_upgrade;');
    for (const h of ['X-Forwarded-For $proxy_add_x_forwarded_for', 'X-Forwarded-Proto $scheme', 'X-Forwarded-Host $host', 'X-Forwarded-Port $server_port']) expect(shipped).toContain(`proxy_set_header ${h};`);
    expect(shipped).toMatch(/keepalive \d+;/);
    const t = await checkNginxConfig(renderNginxConfig({ listenPort: 1, upstreamPort: 2, upstreamSocket: '/tmp/x.sock' }, '@PREFIX@'));
    expect(t.ok, t.output).toBe(true);
  });

  it('passes a 100 MB upload through to the app', async () => {
    const r = await request(port, '/upload', { method: 'POST', body: { chunk: Buffer.alloc(1024 * 1024, 0x61), times: 100 } });
    expect(r).toMatchObject({ status: 200, body: String(100 * 1024 * 1024) });
  }, 60_000);

  it('streams a response: the first piece arrives before the app has written the last', async () => {
    const r = await request(port, '/stream');
    expect(r.body).toBe('first;second;');
    expect(r.chunksAt.length).toBeGreaterThanOrEqual(2);
    expect(r.endAt - r.chunksAt[0]!).toBeGreaterThan(250);
  });

  it('serves over the unix-socket upstream too', async () => {
    const r = await request(unixPort, '/stream');
    expect(r).toMatchObject({ status: 200, body: 'first;second;' });
    expect((await request(unixPort, '/upload', { method: 'POST', body: { chunk: Buffer.alloc(65536, 1), times: 16 } })).body).toBe(String(16 * 65536));
  });

  it('fails no request through Nginx while tsgi reloads (HUP) under load', async () => {
    const load = startLoad(port, { concurrency: 8, keepAlive: true, maxMs: 30_000 });
    const before = count(tsgi, /Worker ready/);
    await sleep(300);
    tsgi.proc.kill('SIGHUP');
    await until(() => count(tsgi, /Worker ready/) >= before + 2 && /Reloading/.test(tsgi.output()), 'the reload', { server: tsgi, timeoutMs: 20_000 });
    await sleep(1000);
    const result = await load.stop();
    expect(result.errors).toEqual([]);
    expect(result.failed).toBe(0);
    expect(result.ok).toBeGreaterThan(100);
    // Nginx had no upstream error to hide by retrying either.
    expect(readFileSync(join(nginx.prefix, 'error.log'), 'utf8')).not.toMatch(/\[(error|crit|alert|emerg)\]/);
  }, 60_000);

  // Turned on when tsgi reads X-Forwarded-* from trusted proxies (--forwarded-allow-ips).
  it.todo('the app sees the client address and scheme Nginx forwards (X-Forwarded-For/Proto, --forwarded-allow-ips)');
});
