/**
 * TLS end to end (`--certfile`), on both engines and all three interfaces, with real clients (curl
 * and node:https) and certificates made by openssl for this run: https as the scheme, ALPN
 * http/1.1, client certificates under --cert-reqs 1 and 2 (the verified one in
 * `tsgi.peer_certificate`), a renewed certificate served after `kill -HUP` with no request failing,
 * a bad one at HUP keeping the old workers, a bad one at start refused, and TLS behind HAProxy's
 * PROXY protocol.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { startTsgi, stopAll, type RunningServer } from '../helpers/server.js';
import { makeCertificates, type TestCertificates } from '../helpers/certificates.js';
import { freePort, startHaproxy, stopAllProxies } from '../helpers/haproxy.js';
import { startLoad } from '../helpers/load.js';
import { count, sleep, until } from '../helpers/wait.js';
import { openRaw } from '../helpers/raw.js';
import { PACKAGES, findCommand } from '../helpers/system.js';

const ENGINES = ['tsgi', 'node'] as const;
const APP = 'test/fixtures/apps/edge.js';

let certs: TestCertificates;
let ca: Buffer;

beforeAll(() => {
  certs = makeCertificates();
  ca = readFileSync(certs.caCert);
}, 120_000);

afterAll(async () => {
  await stopAllProxies();
  await stopAll();
  certs?.cleanup();
});

interface Answer {
  status: number;
  body: Record<string, unknown>;
  alpn: string | false | null;
  /** The server certificate's SHA-256 fingerprint. */
  fingerprint: string;
}

/** One GET over a new TLS connection with node:https. */
function get(port: number, path: string, options: https.RequestOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path, ca, agent: false, timeout: 10_000, ...options }, (res) => {
      const socket = res.socket as TLSSocket;
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) as Record<string, unknown>, alpn: socket.alpnProtocol, fingerprint: socket.getPeerCertificate().fingerprint256 }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** curl, as a user would run it; resolves with its exit code and output. */
function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const command = findCommand('curl') ?? 'curl';
  return new Promise((resolve) => {
    execFile(command, ['--silent', '--show-error', '--max-time', '10', ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

function fingerprintOf(certFile: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(findCommand(PACKAGES.openssl.command)!, ['x509', '-in', certFile, '-noout', '-fingerprint', '-sha256'], (err, out) => (err ? reject(err) : resolve(out.trim().split('=')[1]!)));
  });
}

/** Waits (bounded) for a tsgi that is expected to exit on its own. */
async function exitCode(server: RunningServer): Promise<number | null> {
  await until(() => server.proc.exitCode !== null || server.proc.signalCode !== null, 'tsgi to exit', { server, timeoutMs: 15_000 });
  return server.proc.exitCode;
}

const tlsArgs = (): string[] => ['--certfile', certs.serverCert, '--keyfile', certs.serverKey];

describe.each(ENGINES)('engine %s', (engine) => {
  let optional: RunningServer;
  let required: RunningServer;
  let fetchServer: RunningServer;
  let nodeServer: RunningServer;

  beforeAll(async () => {
    [optional, required, fetchServer, nodeServer] = await Promise.all([
      startTsgi({ args: ['--http', engine, ...tlsArgs(), '--ca-certs', certs.caCert, '--cert-reqs', 'optional', `${APP}:app`] }),
      startTsgi({ args: ['--http', engine, ...tlsArgs(), '--ca-certs', certs.caCert, '--cert-reqs', '2', '--header-timeout', '1', `${APP}:app`] }),
      startTsgi({ args: ['--http', engine, ...tlsArgs(), `${APP}:fetchApp`] }),
      startTsgi({ args: ['--http', engine, ...tlsArgs(), '--interface', 'node', `${APP}:nodeApp`] }),
    ]);
  }, 60_000);

  it('serves https to curl: the scheme is https, HTTP/1.1 over ALPN, the URL in the log says https', async () => {
    expect(optional.url).toBe(`https://127.0.0.1:${optional.port}`);
    const r = await curl(['--cacert', certs.caCert, '-w', '\\n%{http_version} %{scheme}', `https://localhost:${optional.port}/env`, '--resolve', `localhost:${optional.port}:127.0.0.1`, '-v']);
    expect(r.code, r.stderr).toBe(0);
    const [body, tail] = r.stdout.split('\n');
    expect(JSON.parse(body!)).toMatchObject({ scheme: 'https', serverName: 'localhost', serverPort: String(optional.port), certificate: null });
    expect(tail).toMatch(/^1\.1 https$/i);
    expect(r.stderr).toMatch(/ALPN: server accepted http\/1\.1|ALPN, server accepted to use http\/1\.1/);
  });

  it('serves node:https with ALPN http/1.1, and shows a verified client certificate to the app (--cert-reqs 1)', async () => {
    const anonymous = await get(optional.port, '/env', { ALPNProtocols: ['h2', 'http/1.1'] });
    expect(anonymous).toMatchObject({ status: 200, alpn: 'http/1.1', body: { scheme: 'https', certificate: null } });
    const alice = await get(optional.port, '/env', { cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) });
    expect(alice.body.certificate).toMatchObject({ subject: 'CN=alice', issuer: 'CN=tsgi test CA', pem: true, fingerprint256: await fingerprintOf(certs.clientCert) });
  });

  it('closes a connection whose client certificate does not verify (--cert-reqs 1), and logs it', async () => {
    await expect(get(optional.port, '/env', { cert: readFileSync(certs.strangerCert), key: readFileSync(certs.strangerKey) })).rejects.toThrow();
    await until(() => /closed a TLS connection: the client certificate does not verify/.test(optional.output()), 'the log line', { server: optional });
  });

  it('--cert-reqs 2 refuses a client without a certificate, or with a stranger’s, in the handshake', async () => {
    const none = await curl(['--cacert', certs.caCert, `https://127.0.0.1:${required.port}/env`]);
    expect(none.code).not.toBe(0);
    expect(none.stdout).toBe('');
    await expect(get(required.port, '/env', { cert: readFileSync(certs.strangerCert), key: readFileSync(certs.strangerKey) })).rejects.toThrow();
    const alice = await curl(['--cacert', certs.caCert, '--cert', certs.clientCert, '--key', certs.clientKey, `https://127.0.0.1:${required.port}/env`]);
    expect(alice.code, alice.stderr).toBe(0);
    expect(JSON.parse(alice.stdout)).toMatchObject({ scheme: 'https', certificate: { subject: 'CN=alice' } });
    await until(() => /TLS handshake failed/.test(required.output()), 'the failed handshakes logged', { server: required });
  });

  it('cuts a connection that does not finish its TLS handshake within --header-timeout of the accept', async () => {
    const conn = await openRaw(required.port);
    const opened = Date.now();
    conn.write(Buffer.from([0x16, 0x03, 0x01])); // the start of a ClientHello, and nothing more
    expect(await conn.closed(5000)).toBe(true);
    const took = Date.now() - opened;
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(3000);
  });

  it('gives a fetch app an https URL and a node handler an encrypted socket', async () => {
    expect((await get(fetchServer.port, '/where?x=1')).body).toMatchObject({ url: `https://127.0.0.1:${fetchServer.port}/where?x=1` });
    expect((await get(nodeServer.port, '/where')).body).toMatchObject({ encrypted: true, remoteAddress: '127.0.0.1' });
  });
});

describe.each(ENGINES)('kill -HUP on engine %s', (engine) => {
  let tsgi: RunningServer;
  let cert = '';
  let key = '';

  beforeAll(async () => {
    cert = join(certs.dir, `hup-${engine}.pem`);
    key = join(certs.dir, `hup-${engine}.key`);
    copyFileSync(certs.serverCert, cert);
    copyFileSync(certs.serverKey, key);
    tsgi = await startTsgi({ args: ['--http', engine, '--workers', '2', '--certfile', cert, '--keyfile', key, `${APP}:app`] });
    await until(() => count(tsgi, /Worker ready/) >= 2, 'two workers', { server: tsgi });
  }, 30_000);

  it('serves a renewed certificate from the new workers, with no request failing under keep-alive load', async () => {
    const old = await fingerprintOf(cert);
    expect((await get(tsgi.port, '/env')).fingerprint).toBe(old);
    const load = startLoad(tsgi.port, { concurrency: 4, keepAlive: true, maxMs: 30_000, path: '/env', ca });
    await sleep(300);
    certs.renew(cert, key);
    const renewed = await fingerprintOf(cert);
    expect(renewed).not.toBe(old);
    const ready = count(tsgi, /Worker ready/);
    tsgi.proc.kill('SIGHUP');
    await until(() => count(tsgi, /Worker ready/) >= ready + 2 && count(tsgi, /Worker exiting/) >= 2, 'the new workers', { server: tsgi, timeoutMs: 20_000 });
    await sleep(500);
    const result = await load.stop();
    expect(result.errors).toEqual([]);
    expect(result.failed).toBe(0);
    expect(result.ok).toBeGreaterThan(20);
    expect((await get(tsgi.port, '/env')).fingerprint).toBe(renewed);
  }, 60_000);

  it('keeps the running workers on the old certificate when the new one cannot be used, and says so once', async () => {
    const serving = await get(tsgi.port, '/env');
    const booted = count(tsgi, /Booting worker/);
    // A renewal half done: the certificate replaced, the key not (it belongs to another certificate).
    copyFileSync(certs.otherKey, key);
    tsgi.proc.kill('SIGHUP');
    await until(() => /Reload \(HUP\) refused/.test(tsgi.output()), 'the refusal', { server: tsgi });
    await sleep(1500);
    expect(count(tsgi, /Reload \(HUP\) refused/)).toBe(1);
    expect(tsgi.output()).toMatch(/Reload \(HUP\) refused[^\n]*does not match the certificate/);
    expect(count(tsgi, /Booting worker/)).toBe(booted);
    const after = await get(tsgi.port, '/env');
    expect(after.fingerprint).toBe(serving.fingerprint);
    expect(after.body.pid).toBeTypeOf('number');
  }, 30_000);
});

describe('a certificate that cannot be used at start', () => {
  it('stops tsgi before it binds, with the problem in one line; --check-config reports the same', async () => {
    const bad = await startTsgi({ args: ['--certfile', certs.serverCert, '--keyfile', certs.otherKey, `${APP}:app`], waitReady: false });
    expect(await exitCode(bad)).toBe(2);
    expect(bad.output()).toMatch(/^tsgi: keyfile \S+ does not match the certificate in \S+; give the key the certificate was issued for\n$/);
    expect(bad.output()).not.toMatch(/Listening at/);
    const check = await startTsgi({ args: ['--check-config', '--certfile', certs.serverCert, '--keyfile', certs.serverKey, `${APP}:app`], waitReady: false });
    expect(await exitCode(check)).toBe(0);
    expect(check.output()).toMatch(/TLS certificate for .*localhost.* OK/);
  });
});

describe.each(ENGINES)('TLS behind the PROXY protocol on engine %s', (engine) => {
  it('HAProxy send-proxy-v2 in front: the TLS handshake follows the header, and the app sees the relayed client', async () => {
    const tsgi = await startTsgi({ args: ['--http', engine, ...tlsArgs(), '--proxy-protocol', 'v2', `${APP}:app`] });
    const port = await freePort();
    const haproxy = await startHaproxy(
      `global\n  maxconn 64\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\nfrontend f\n  bind 127.0.0.1:${port}\n  default_backend b\nbackend b\n  server tsgi 127.0.0.1:${tsgi.port} send-proxy-v2\n`,
      port,
    );
    try {
      const r = await get(port, '/env', { localAddress: '127.0.0.4' });
      expect(r.body).toMatchObject({ scheme: 'https', remoteAddr: '127.0.0.4' });
    } finally {
      await haproxy.stop();
      await tsgi.stop();
    }
  }, 30_000);
});
