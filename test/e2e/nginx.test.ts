/**
 * config/nginx.conf as it ships, with a real Nginx (Debian's package) in front of tsgi, over TCP
 * and over the unix socket: a 100 MB upload streams through, a streamed response arrives in
 * pieces, a HUP under load fails no request, and the WebSocket Upgrade map is in place.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import https from 'node:https';
import { chmodSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, startTsgi, stopAll, type RunningServer } from '../helpers/server.js';
import { checkNginxConfig, freePort, renderNginxConfig, startNginx, stopAllProxies } from '../helpers/nginx.js';
import type { ProxyProcess } from '../helpers/proxy-process.js';
import { startLoad } from '../helpers/load.js';
import { count, sleep, until } from '../helpers/wait.js';
import { makeCertificates, type TestCertificates } from '../helpers/certificates.js';

const APP = join(ROOT, 'test/deploy/fixtures/proxy-app.js:app');
let tsgi: RunningServer;
let nginx: ProxyProcess;
let nginxUnix: ProxyProcess;
let nginxTls: ProxyProcess;
let certs: TestCertificates;
let port = 0;
let unixPort = 0;
let tlsPort = 0;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-behind-nginx-'));
  chmodSync(dir, 0o755);
  const socket = join(dir, 'tsgi.sock');
  tsgi = await startTsgi({ args: ['--workers', '2', '-b', '127.0.0.1:0', '-b', `unix:${socket}`, '-m', '000', '--forwarded-allow-ips', '127.0.0.1', APP] });
  await until(() => count(tsgi, /Worker ready/) >= 2, 'two workers', { server: tsgi });
  port = await freePort();
  nginx = await startNginx(renderNginxConfig({ listenPort: port, upstreamPort: tsgi.port, upstreamSocket: socket }, '@PREFIX@'), port);
  // The same file with the unix-socket upstream, as its comment says.
  unixPort = await freePort();
  const unixConf = renderNginxConfig({ listenPort: unixPort, upstreamPort: tsgi.port, upstreamSocket: socket }, '@PREFIX@').replace('proxy_pass http://tsgi;', 'proxy_pass http://tsgi_unix;');
  nginxUnix = await startNginx(unixConf, unixPort);
  // The same file, terminating TLS: the shipped server block listening with ssl.
  certs = makeCertificates();
  tlsPort = await freePort();
  const tlsConf = renderNginxConfig({ listenPort: tlsPort, upstreamPort: tsgi.port, upstreamSocket: socket }, '@PREFIX@').replace(
    `listen 127.0.0.1:${tlsPort};`,
    `listen 127.0.0.1:${tlsPort} ssl;\n    ssl_certificate ${certs.serverCert};\n    ssl_certificate_key ${certs.serverKey};`,
  );
  nginxTls = await startNginx(tlsConf, tlsPort);
}, 120_000);

afterAll(async () => {
  await stopAllProxies();
  await stopAll();
  certs?.cleanup();
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

  it('the app sees the client address and scheme Nginx forwards (X-Forwarded-For/Proto, --forwarded-allow-ips)', async () => {
    // The client connects from 127.0.0.2 and tries to claim another address and https itself.
    const spoof = { 'X-Forwarded-For': '6.6.6.6', 'X-Forwarded-Proto': 'https', Forwarded: 'for=6.6.6.6;proto=https' };
    for (const p of [port, unixPort]) {
      const seen = await envThrough(p, spoof);
      expect(seen).toMatchObject({ remoteAddr: '127.0.0.2', scheme: 'http', host: `127.0.0.1:${p}`, serverPort: String(p) });
    }
    // Over TLS at Nginx: https reaches the app, with the port the client used.
    const secure = await envThrough(tlsPort, spoof, true);
    expect(secure).toMatchObject({ remoteAddr: '127.0.0.2', scheme: 'https', serverPort: String(tlsPort) });
  });
});

/** GET /env through Nginx from 127.0.0.2. */
function envThrough(p: number, headers: Record<string, string>, secure = false): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port: p, path: '/env', localAddress: '127.0.0.2', headers, agent: false, timeout: 10_000 };
    const onResponse = (res: http.IncomingMessage): void => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body) as Record<string, unknown>) : reject(new Error(`status ${res.statusCode}: ${body}`))));
    };
    const req = secure ? https.get({ ...options, ca: readFileSync(certs.caCert) }, onResponse) : http.get(options, onResponse);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}
