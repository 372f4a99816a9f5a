/**
 * How an engine accepts connections, the same for both: plain TCP (or a unix socket), TLS
 * (`--certfile`: a tls.Server or https.Server does the handshake), and a PROXY protocol header read
 * at the start of the connection (`--proxy-protocol`: a net.Server in front reads it, then hands
 * the socket and the bytes that followed the header to the engine's server as if that server had
 * accepted it). An engine is called once per connection, when it speaks HTTP, with what the
 * driver needs to know of it.
 *
 * Until then a connection is one of the engine's openings (driver.ts): the sweep closes it when
 * the PROXY header or the TLS handshake has not come through within --header-timeout of the
 * accept, and the first request's --header-timeout counts from the accept too.
 */
import net from 'node:net';
import type { ClientCertificate } from '../config/tls.js';
import type { ConnectionInfo } from '../gateway/environ.js';
import { connectionInfo } from './connection-info.js';
import type { EngineCore } from './driver.js';
import type { EngineOptions } from './engine.js';
import { ProxyGate } from './proxy-gate.js';

/** A connection that speaks HTTP now. */
export interface Accepted {
  /** Its addresses (after a PROXY header) and scheme. */
  info: ConnectionInfo;
  /** The client certificate TLS verified (--cert-reqs 1 or 2), or null. */
  certificate: Readonly<ClientCertificate> | null;
  /** performance.now() when the connection was accepted. */
  acceptedAt: number;
  /**
   * Bytes already read from the socket that the engine must take before any other (what followed
   * a PROXY header, on a connection without TLS), or null. The socket is then paused.
   */
  head: Buffer | null;
}

export type Ready = (socket: net.Socket, accepted: Accepted) => void;

/** What the front server and the gate learnt of a raw connection, for the engine's server. */
export interface Arrival {
  acceptedAt: number;
  info: ConnectionInfo | null;
  head: Buffer | null;
}

export const kArrival = Symbol('tsgi.arrival');
export type RawSocket = net.Socket & { [kArrival]?: Arrival };

/**
 * Wires `server` (the engine's net.Server or http.Server, or with --certfile its tls.Server or
 * https.Server, not listening) to call `ready` for each connection once it speaks HTTP. Returns
 * the server that listens on the master's handle: `server`, or with --proxy-protocol the net.Server
 * in front of it.
 */
export async function acceptConnections(server: net.Server, core: EngineCore, options: EngineOptions, ready: Ready): Promise<net.Server> {
  const secure = options.tls !== undefined;
  if (secure) {
    // node:tls and node:crypto are loaded only by a server that serves TLS.
    const { acceptTls } = await import('./accept-tls.js');
    acceptTls(server, core, options, ready);
  } else {
    server.on('connection', (raw: RawSocket) => {
      const arrival = raw[kArrival];
      if (arrival === undefined) {
        ready(raw, { info: connectionInfo(raw), certificate: null, acceptedAt: performance.now(), head: null });
      } else {
        ready(raw, { info: arrival.info!, certificate: null, acceptedAt: arrival.acceptedAt, head: arrival.head });
      }
    });
  }

  const proxy = options.proxyProtocol;
  if (proxy === undefined) return server;
  const gate = new ProxyGate(proxy, options.log);
  // As node:http's own server: a client may half-close after its request and still get the answer.
  return net.createServer({ allowHalfOpen: true, noDelay: true }, (raw: RawSocket) => {
    const arrival = openArrival(core, raw);
    gate.open(raw, ({ info, head }) => {
      arrival.info = info;
      if (secure) {
        // node:tls reads what the socket has buffered as the start of the handshake.
        if (head.length > 0) raw.unshift(head);
      } else {
        core.opened(raw);
        arrival.head = head.length > 0 ? head : null;
      }
      raw[kArrival] = arrival;
      server.emit('connection', raw);
    });
  });
}

/** Counts `raw` among the engine's openings until it speaks HTTP or closes. */
export function openArrival(core: EngineCore, raw: net.Socket): Arrival {
  const acceptedAt = performance.now();
  core.opening(raw, acceptedAt);
  raw.once('close', () => core.opened(raw));
  return { acceptedAt, info: null, head: null };
}
