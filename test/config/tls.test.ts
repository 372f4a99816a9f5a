/**
 * The TLS settings checked into node:tls options, with certificates made by openssl for this run
 * and real handshakes on 127.0.0.1: what serves, and a one-line TSGI_ERR_TLS for what cannot.
 */
import { chmodSync, copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { clientCertificate, clientCertificateProblem, loadTls, type LoadedTls, type TlsSettings } from '../../src/config/tls.js';
import { makeCertificates, type TestCertificates } from '../helpers/certificates.js';

let certs: TestCertificates;
beforeAll(() => {
  certs = makeCertificates();
}, 120_000);
afterAll(() => certs?.cleanup());

const OFF: TlsSettings = { certfile: null, keyfile: null, caCerts: null, certReqs: 0, ciphers: null, sslMinVersion: 'TLSv1.2' };
const serving = (extra: Partial<TlsSettings> = {}): TlsSettings => ({ ...OFF, certfile: certs.serverCert, keyfile: certs.serverKey, ...extra });

function tlsError(settings: TlsSettings): string {
  let error: unknown;
  try {
    loadTls(settings, '/');
  } catch (caught) {
    error = caught;
  }
  expect(error).toMatchObject({ code: 'TSGI_ERR_TLS' });
  const message = (error as Error).message;
  expect(message).not.toContain('\n');
  return message;
}

interface Handshake {
  /** What the server answered, or null when the connection failed. */
  answer: string | null;
  alpn: string | false | null;
  protocol: string | null;
  error: string | null;
  /** What the server saw of the client certificate. */
  subject: string | null;
}

/** A real TLS server with `loaded`'s options on 127.0.0.1:0 and one client connection to it. */
async function handshake(loaded: LoadedTls, certReqs: number, client: tls.ConnectionOptions = {}): Promise<Handshake> {
  let subject: string | null = null;
  const server = tls.createServer(loaded.options, (socket) => {
    const problem = clientCertificateProblem(socket, certReqs);
    subject = clientCertificate(socket)?.subject ?? null;
    socket.end(problem === null ? 'served' : 'refused');
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const { port } = server.address() as { port: number };
  try {
    return await new Promise<Handshake>((done) => {
      let answer = '';
      const socket = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: readFileSync(certs.caCert), ALPNProtocols: ['http/1.1'], ...client });
      const timer = setTimeout(() => finish('timed out'), 5000);
      let protocol: string | null = null;
      socket.once('secureConnect', () => (protocol = socket.getProtocol()));
      const finish = (error: string | null): void => {
        clearTimeout(timer);
        const alpn = socket.alpnProtocol ?? null;
        socket.destroy();
        // A TLS 1.3 server refuses a client certificate after the client's side of the handshake
        // is done: the client then sees the connection end with no answer.
        done({ answer: error === null && answer !== '' ? answer : null, alpn, protocol, error, subject });
      };
      socket.setEncoding('latin1');
      socket.on('data', (data: string) => (answer += data));
      socket.on('end', () => finish(null));
      socket.on('error', (error) => finish(error.message));
    });
  } finally {
    server.close();
  }
}

describe('loading', () => {
  test('no certfile: TLS is off', () => {
    expect(loadTls(OFF, '/')).toBeNull();
  });

  test('a certificate and its key: options for node:tls, with ALPN http/1.1 and the certificate described', async () => {
    const loaded = loadTls(serving(), '/')!;
    expect(loaded.options).toMatchObject({ minVersion: 'TLSv1.2', requestCert: false, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    expect(loaded.options.cert).toEqual(readFileSync(certs.serverCert));
    expect(loaded.certificate).toMatchObject({ subject: 'CN=localhost', issuer: 'CN=tsgi test CA', subjectAltName: 'DNS:localhost, IP Address:127.0.0.1' });
    expect(loaded.warnings).toEqual([]);
    const result = await handshake(loaded, 0);
    expect(result).toMatchObject({ answer: 'served', alpn: 'http/1.1', error: null });
  });

  test('relative paths are taken from the directory given', () => {
    expect(loadTls({ ...OFF, certfile: 'server.pem', keyfile: 'server.key' }, certs.dir)).not.toBeNull();
  });

  test('the key may be in the certificate file, as with Gunicorn', async () => {
    const loaded = loadTls({ ...OFF, certfile: certs.combined }, '/')!;
    expect((await handshake(loaded, 0)).answer).toBe('served');
  });

  test('--ssl-min-version TLSv1.3 refuses a TLS 1.2 client', async () => {
    const loaded = loadTls(serving({ sslMinVersion: 'TLSv1.3' }), '/')!;
    expect((await handshake(loaded, 0)).protocol).toBe('TLSv1.3');
    const old = await handshake(loaded, 0, { maxVersion: 'TLSv1.2' });
    expect(old.answer).toBeNull();
  });

  test('--ciphers restricts TLS 1.2 suites', async () => {
    const loaded = loadTls(serving({ ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' }), '/')!;
    const result = await handshake(loaded, 0, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-CHACHA20-POLY1305' });
    expect(result.answer).toBeNull();
    expect((await handshake(loaded, 0, { maxVersion: 'TLSv1.2' })).answer).toBe('served');
  });

  test('an expired or soon expiring certificate is a warning, not an error', () => {
    const validTo = loadTls(serving(), '/')!.certificate.validTo;
    expect(loadTls(serving(), '/', new Date(validTo.getTime() + 86_400_000))!.warnings).toEqual([expect.stringMatching(/expired on/)]);
    expect(loadTls(serving(), '/', new Date(validTo.getTime() - 86_400_000))!.warnings).toEqual([expect.stringMatching(/expires on .*renew it/)]);
  });
});

describe('one-line errors for what cannot serve', () => {
  test('a missing file names the setting and the path', () => {
    expect(tlsError(serving({ certfile: '/nonexistent/cert.pem' }))).toBe('certfile /nonexistent/cert.pem does not exist');
    expect(tlsError(serving({ keyfile: '/nonexistent/key.pem' }))).toBe('keyfile /nonexistent/key.pem does not exist');
    expect(tlsError(serving({ caCerts: '/nonexistent/ca.pem', certReqs: 2 }))).toBe('ca-certs /nonexistent/ca.pem does not exist');
    expect(tlsError(serving({ certfile: certs.dir }))).toMatch(/is a directory/);
  });

  test.skipIf(process.getuid?.() === 0)('an unreadable key says so', () => {
    const copy = join(certs.dir, 'unreadable.key');
    copyFileSync(certs.serverKey, copy);
    chmodSync(copy, 0o000);
    expect(tlsError(serving({ keyfile: copy }))).toMatch(/cannot be read by this user/);
  });

  test('files that hold no certificate or no key', () => {
    expect(tlsError(serving({ certfile: certs.serverKey }))).toMatch(/holds no PEM certificate/);
    expect(tlsError(serving({ keyfile: certs.serverCert }))).toMatch(/holds no PEM private key/);
    expect(tlsError({ ...OFF, certfile: certs.serverCert })).toMatch(/holds no private key; set --keyfile/);
    expect(tlsError(serving({ caCerts: certs.serverKey, certReqs: 1 }))).toMatch(/ca-certs .* holds no PEM certificate/);
  });

  test('a key that does not match the certificate', () => {
    expect(tlsError(serving({ keyfile: certs.otherKey }))).toMatch(/does not match the certificate/);
  });

  test('an encrypted key', () => {
    expect(tlsError(serving({ keyfile: certs.encryptedKey }))).toMatch(/is encrypted; tsgi needs an unencrypted key/);
  });

  test('a cipher list that matches nothing', () => {
    expect(tlsError(serving({ ciphers: 'NOT-A-CIPHER' }))).toMatch(/matches no cipher/);
  });

  test('settings that make no sense together', () => {
    expect(tlsError({ ...OFF, keyfile: certs.serverKey })).toMatch(/keyfile is set but certfile is not/);
    expect(tlsError({ ...OFF, certReqs: 2 })).toMatch(/need TLS/);
    expect(tlsError(serving({ certReqs: 2 }))).toMatch(/ca-certs is not set/);
  });
});

describe('client certificates (--cert-reqs, --ca-certs)', () => {
  const client = (): tls.ConnectionOptions => ({ cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) });
  const stranger = (): tls.ConnectionOptions => ({ cert: readFileSync(certs.strangerCert), key: readFileSync(certs.strangerKey) });

  test('2 (required): a client without one, or with one from another CA, is refused; a signed one is verified', async () => {
    const loaded = loadTls(serving({ certReqs: 2, caCerts: certs.caCert }), '/')!;
    expect(loaded.options).toMatchObject({ requestCert: true, rejectUnauthorized: true });
    expect((await handshake(loaded, 2)).answer).toBeNull();
    expect((await handshake(loaded, 2, stranger())).answer).toBeNull();
    expect(await handshake(loaded, 2, client())).toMatchObject({ answer: 'served', subject: 'CN=alice' });
  });

  test('1 (optional): a client may send none, but one it sends must verify', async () => {
    const loaded = loadTls(serving({ certReqs: 1, caCerts: certs.caCert }), '/')!;
    expect(loaded.options).toMatchObject({ requestCert: true, rejectUnauthorized: false });
    expect(await handshake(loaded, 1)).toMatchObject({ answer: 'served', subject: null });
    expect(await handshake(loaded, 1, client())).toMatchObject({ answer: 'served', subject: 'CN=alice' });
    expect(await handshake(loaded, 1, stranger())).toMatchObject({ answer: 'refused', subject: null });
  });
});
