/**
 * The TLS settings (`--certfile`, `--keyfile`, `--ca-certs`, `--cert-reqs`, `--ciphers`,
 * `--ssl-min-version`) read and checked into the options node:tls takes. Every problem is one
 * TsgiError (TSGI_ERR_TLS) with a one-line message naming the file or setting, so the same check
 * serves `--check-config`, the start and a reload: a certificate that cannot be used at `kill -HUP`
 * is reported and the running workers keep serving.
 *
 * The files are read here, once, into the options (PEM bytes). The master can read them before it
 * drops privileges and hand the bytes to its workers, so a key readable only by root works as it
 * does with Nginx.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import tls from 'node:tls';
import { TsgiError } from '../errors.js';

export interface TlsSettings {
  certfile: string | null;
  keyfile: string | null;
  caCerts: string | null;
  /** 0 none, 1 optional, 2 required (Gunicorn's ssl.CERT_* values). */
  certReqs: number;
  ciphers: string | null;
  sslMinVersion: 'TLSv1.2' | 'TLSv1.3';
}

/** What tls.createServer (or https.createServer) takes; also valid for tls.createSecureContext. */
export interface TlsServerOptions {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
  ciphers?: string;
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  /** Ask for a client certificate (certReqs 1 and 2). */
  requestCert: boolean;
  /** Fail the handshake without a verified client certificate (certReqs 2 only). */
  rejectUnauthorized: boolean;
  /** RFC 7301: tsgi speaks HTTP/1.1. */
  ALPNProtocols: string[];
}

export interface ServedCertificate {
  subject: string;
  issuer: string;
  subjectAltName: string | null;
  validFrom: Date;
  validTo: Date;
  fingerprint256: string;
}

export interface LoadedTls {
  options: TlsServerOptions;
  /** The context built from `options` while checking them; one per process serves every socket. */
  context: tls.SecureContext;
  /** The first certificate of --certfile: for the start-up log line. */
  certificate: ServedCertificate;
  /** Things worth a warning that do not stop the server: an expired or soon expiring certificate. */
  warnings: string[];
}

const SOON_MS = 14 * 24 * 3600 * 1000;

/**
 * Reads and checks the TLS settings; null when TLS is off (no certfile). Relative paths are taken
 * from `cwd`. `now` is for the expiry warnings.
 */
export function loadTls(settings: TlsSettings, cwd: string, now: Date = new Date()): LoadedTls | null {
  const { certfile, keyfile, caCerts, certReqs } = settings;
  if (certfile === null) {
    if (keyfile !== null) fail('keyfile is set but certfile is not; set --certfile to serve TLS');
    if (caCerts !== null || certReqs !== 0) fail('ca-certs and cert-reqs need TLS; set --certfile and --keyfile too');
    return null;
  }
  if (certReqs !== 0 && caCerts === null) {
    fail(`cert-reqs ${certReqs} asks for client certificates but ca-certs is not set; set --ca-certs to the CA that signs them`);
  }

  const certPem = readPem('certfile', certfile, cwd);
  const chain = certificatesIn(certPem);
  if (chain.length === 0) fail(`certfile ${certfile} holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`);
  const leaf = parseCertificate('certfile', certfile, chain[0]!);

  const keySource = keyfile ?? certfile;
  const keyPem = keyfile === null ? certPem : readPem('keyfile', keyfile, cwd);
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(keyPem.toString('latin1'))) {
    fail(keyfile === null ? `certfile ${certfile} holds no private key; set --keyfile` : `keyfile ${keyfile} holds no PEM private key`);
  }
  const key = parseKey(keySource, keyPem);
  if (!leaf.checkPrivateKey(key)) {
    fail(`keyfile ${keySource} does not match the certificate in ${certfile}; give the key the certificate was issued for`);
  }

  let ca: Buffer | undefined;
  if (caCerts !== null) {
    ca = readPem('ca-certs', caCerts, cwd);
    const authorities = certificatesIn(ca);
    if (authorities.length === 0) fail(`ca-certs ${caCerts} holds no PEM certificate`);
    for (const pem of authorities) parseCertificate('ca-certs', caCerts, pem);
  }

  const options: TlsServerOptions = {
    cert: certPem,
    key: keyPem,
    minVersion: settings.sslMinVersion,
    requestCert: certReqs !== 0,
    rejectUnauthorized: certReqs === 2,
    ALPNProtocols: ['http/1.1'],
  };
  if (ca !== undefined) options.ca = ca;
  if (settings.ciphers !== null) options.ciphers = settings.ciphers;

  let context: tls.SecureContext;
  try {
    context = tls.createSecureContext(options);
  } catch (error) {
    const reason = openSslReason(error);
    if (settings.ciphers !== null && /no cipher match|cipher/i.test(reason)) {
      fail(`ciphers ${JSON.stringify(settings.ciphers)} matches no cipher; give an OpenSSL cipher list such as ECDHE+AESGCM:ECDHE+CHACHA20`);
    }
    fail(`the TLS settings cannot be used: ${reason}`);
  }

  const certificate: ServedCertificate = {
    subject: oneLine(leaf.subject),
    issuer: oneLine(leaf.issuer),
    subjectAltName: leaf.subjectAltName ?? null,
    validFrom: new Date(leaf.validFrom),
    validTo: new Date(leaf.validTo),
    fingerprint256: leaf.fingerprint256,
  };
  const warnings: string[] = [];
  const left = certificate.validTo.getTime() - now.getTime();
  if (left <= 0) warnings.push(`the certificate in ${certfile} expired on ${certificate.validTo.toISOString()}; clients will refuse it`);
  else if (left < SOON_MS) warnings.push(`the certificate in ${certfile} expires on ${certificate.validTo.toISOString()}; renew it`);
  if (certificate.validFrom.getTime() > now.getTime()) warnings.push(`the certificate in ${certfile} is not valid before ${certificate.validFrom.toISOString()}`);
  return { options, context, certificate, warnings };
}

/** A verified client certificate, as the app sees it (`environ['tsgi.peer_certificate']`, spec §3.7). */
export interface ClientCertificate {
  /** Distinguished names on one line, as node:crypto writes them ("CN=alice"; several joined by ", "). */
  subject: string;
  issuer: string;
  /** As node:crypto gives it ("DNS:a.example, URI:spiffe://..."), or null when the certificate has none. */
  subjectAltName: string | null;
  serialNumber: string;
  /** SHA-256 of the DER certificate, as colon-separated hex pairs. */
  fingerprint256: string;
  validFrom: Date;
  validTo: Date;
  /** The certificate in PEM. */
  pem: string;
}

/**
 * After the handshake: why this connection must be closed (a string), or null. With certReqs 1 a
 * client may send no certificate, but one it sends must verify against --ca-certs (Python's
 * CERT_OPTIONAL); node:tls only checks that when certReqs is 2, so this does it for 1.
 */
export function clientCertificateProblem(socket: tls.TLSSocket, certReqs: number): string | null {
  if (certReqs !== 1 || socket.authorized) return null;
  const peer = socket.getPeerCertificate();
  if (peer === null || Object.keys(peer).length === 0) return null; // none sent: allowed
  return `the client certificate does not verify (${String(socket.authorizationError)})`;
}

/** The verified client certificate of a connection, or null when there is none. */
export function clientCertificate(socket: tls.TLSSocket): ClientCertificate | null {
  if (!socket.authorized) return null;
  const peer = socket.getPeerX509Certificate();
  if (peer === undefined) return null;
  return {
    subject: oneLine(peer.subject),
    issuer: oneLine(peer.issuer),
    subjectAltName: peer.subjectAltName ?? null,
    serialNumber: peer.serialNumber,
    fingerprint256: peer.fingerprint256,
    validFrom: new Date(peer.validFrom),
    validTo: new Date(peer.validTo),
    pem: peer.toString(),
  };
}

function fail(message: string): never {
  throw new TsgiError('TSGI_ERR_TLS', message);
}

function readPem(setting: string, path: string, cwd: string): Buffer {
  const full = resolve(cwd, path);
  try {
    return readFileSync(full);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') fail(`${setting} ${full} does not exist`);
    if (code === 'EACCES') fail(`${setting} ${full} cannot be read by this user (permission denied)`);
    if (code === 'EISDIR') fail(`${setting} ${full} is a directory, not a PEM file`);
    fail(`${setting} ${full} cannot be read: ${(error as Error).message}`);
  }
}

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function certificatesIn(pem: Buffer): string[] {
  return pem.toString('latin1').match(CERTIFICATE_BLOCK) ?? [];
}

function parseCertificate(setting: string, path: string, pem: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    fail(`${setting} ${path} holds a certificate that cannot be parsed: ${openSslReason(error)}`);
  }
}

function parseKey(path: string, pem: Buffer): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_MISSING_PASSPHRASE' || /ENCRYPTED/.test(pem.toString('latin1'))) {
      fail(`keyfile ${path} is encrypted; tsgi needs an unencrypted key (openssl pkey -in KEY -out KEY.plain), readable only by the user tsgi starts as`);
    }
    fail(`keyfile ${path} holds a private key that cannot be parsed: ${openSslReason(error)}`);
  }
}

/** The useful part of an OpenSSL error, on one line. */
function openSslReason(error: unknown): string {
  const e = error as { reason?: string; message?: string };
  return oneLine(e.reason ?? e.message ?? String(error));
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ', ').trim();
}
