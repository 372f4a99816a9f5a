/**
 * Certificates made by Debian's openssl at test time: a CA, a server certificate it signed for
 * localhost and 127.0.0.1, client certificates from it and from another CA, a key that matches
 * nothing, and an encrypted key. The global setup installs openssl when it is missing
 * (helpers/system.ts). Every command is bounded in time.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGES, requireCommand } from './system.js';

const TIMEOUT_MS = 120_000;

export interface TestCertificates {
  dir: string;
  /** CA certificate and key. */
  caCert: string;
  caKey: string;
  /** Server certificate (signed by the CA, for localhost and 127.0.0.1) and its key. */
  serverCert: string;
  serverKey: string;
  /** The server certificate followed by its key, in one file. */
  combined: string;
  /** A private key that matches no certificate here. */
  otherKey: string;
  /** The server key, encrypted with the passphrase "secret". */
  encryptedKey: string;
  /** A client certificate signed by the CA, and its key. */
  clientCert: string;
  clientKey: string;
  /** A client certificate from another CA, and its key. */
  strangerCert: string;
  strangerKey: string;
  /** Signs a new server certificate (for localhost and 127.0.0.1) by the CA into `cert` and `key`, as a renewal would. */
  renew(cert: string, key: string): void;
  cleanup(): void;
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync(requireCommand(PACKAGES.openssl), args, { cwd: dir, stdio: 'pipe', timeout: TIMEOUT_MS });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
const LEAF = ['-addext', 'basicConstraints=critical,CA:FALSE'];

export function makeCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-tls-'));
  const at = (name: string): string => join(dir, name);
  openssl(dir, 'req', '-x509', ...EC, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '365', '-subj', '/CN=tsgi test CA');
  openssl(dir, 'req', '-x509', ...EC, '-keyout', 'other-ca.key', '-out', 'other-ca.pem', '-days', '365', '-subj', '/CN=another CA');
  const signed = (name: string, subject: string, ca: string, extra: string[] = []): void =>
    openssl(dir, 'req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '365', '-subj', subject, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, ...LEAF, ...extra);
  signed('server', '/CN=localhost', 'ca', ['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1']);
  signed('client', '/CN=alice', 'ca');
  signed('stranger', '/CN=mallory', 'other-ca');
  openssl(dir, 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'other.key');
  openssl(dir, 'pkey', '-in', 'server.key', '-aes256', '-passout', 'pass:secret', '-out', 'encrypted.key');
  execFileSync('sh', ['-c', 'cat server.pem server.key > combined.pem'], { cwd: dir, timeout: TIMEOUT_MS });
  return {
    dir,
    caCert: at('ca.pem'),
    caKey: at('ca.key'),
    serverCert: at('server.pem'),
    serverKey: at('server.key'),
    combined: at('combined.pem'),
    otherKey: at('other.key'),
    encryptedKey: at('encrypted.key'),
    clientCert: at('client.pem'),
    clientKey: at('client.key'),
    strangerCert: at('stranger.pem'),
    strangerKey: at('stranger.key'),
    renew: (cert, key) =>
      openssl(dir, 'req', '-x509', ...EC, '-keyout', key, '-out', cert, '-days', '365', '-subj', '/CN=localhost', '-CA', 'ca.pem', '-CAkey', 'ca.key', ...LEAF, '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
