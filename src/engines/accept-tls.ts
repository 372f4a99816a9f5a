/**
 * The TLS side of accept.ts (`--certfile`): the engine's tls.Server or https.Server does the
 * handshake (ALPN offers http/1.1, --cert-reqs asks for and verifies client certificates), and
 * hands over a connection once it is secure, with https as its scheme and the client certificate
 * it verified. A failed handshake, or a client certificate that does not verify under
 * `--cert-reqs 1`, closes the connection; a burst of them is logged once a second.
 */
import type net from 'node:net';
import type tls from 'node:tls';
import { clientCertificate, clientCertificateProblem } from '../config/tls.js';
import { connectionInfo } from './connection-info.js';
import type { EngineCore } from './driver.js';
import type { EngineOptions } from './engine.js';
import { EverySecond } from './every-second.js';
import { kArrival, openArrival, type RawSocket, type Ready } from './accept.js';

export function acceptTls(server: net.Server, core: EngineCore, options: EngineOptions, ready: Ready): void {
  const log = options.log;
  const certReqs = options.tls?.certReqs ?? 0;
  const failures = new EverySecond(log, 'info');
  server.on('connection', (raw: RawSocket) => {
    // Accepted by this server itself (no PROXY protocol in front): the opening starts here.
    raw[kArrival] ??= openArrival(core, raw);
  });
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    // node:tls keeps the TCP socket it wrapped as `_parent` (every Node since 0.11).
    const raw = (socket as unknown as { _parent?: RawSocket })._parent;
    const arrival = raw?.[kArrival];
    if (raw !== undefined) core.opened(raw);
    if (arrival === undefined) {
      log.error('a TLS connection arrived without its TCP socket; closing it');
      return void socket.destroy();
    }
    const problem = clientCertificateProblem(socket, certReqs);
    if (problem !== null) {
      socket.destroy();
      failures.note({ remote: socket.remoteAddress }, (count) => `closed a TLS connection: ${problem}${count > 1 ? ` (${count} in the last second)` : ''}`);
      return;
    }
    const certificate = clientCertificate(socket);
    // This connection's own info (from the gate, or made here): it is https from now on.
    const info = arrival.info ?? connectionInfo(socket, 'https');
    info.scheme = 'https';
    ready(socket, { info, certificate: certificate === null ? null : Object.freeze(certificate), acceptedAt: arrival.acceptedAt, head: null });
  });
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
    failures.note(
      { remote: socket.remoteAddress, code: err.code },
      (count) => `TLS handshake failed: ${err.message.split('\n')[0]}${count > 1 ? ` (${count} in the last second)` : ''}`,
    );
  });
}
