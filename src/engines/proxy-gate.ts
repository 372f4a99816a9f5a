/**
 * `--proxy-protocol`: the PROXY protocol header read at the start of a connection, before any HTTP
 * parser (or TLS) sees a byte of it. A connection from a peer in `--proxy-allow-from` must start
 * with a header (the specification: the receiver "MUST not try to guess whether the protocol
 * header is present or not"); one from any other peer must not start with one, and is otherwise
 * handed over as it came. What the header says of the client becomes the connection's addresses.
 *
 * The gate holds only the bytes that can still belong to a header (http/proxy-protocol.ts bounds
 * them); it is an opening of the engine, so the driver's sweep closes a connection that takes
 * longer than --header-timeout to get through it.
 */
import type net from 'node:net';
import { TsgiError } from '../errors.js';
import type { AddressList } from '../http/addresses.js';
import { PROXY_CLOSED, PROXY_DONE, PROXY_ERROR, ProxyHeaderParser, startsWithProxyHeader, type ProxyHeader, type ProxyProtocolMode } from '../http/proxy-protocol.js';
import type { ConnectionInfo } from '../gateway/environ.js';
import type { Logger } from '../log.js';
import { connectionInfo, unmapped } from './connection-info.js';
import { EverySecond } from './every-second.js';

export interface ProxyProtocolOptions {
  mode: ProxyProtocolMode;
  /** `--proxy-allow-from`, compiled. Unix-socket peers are allowed, as in Gunicorn. */
  allowFrom: AddressList;
}

/** What a connection that got through the gate is. */
export interface Admitted {
  /** The connection's addresses: the relayed client's, or the socket's own (LOCAL, UNKNOWN, no header). */
  info: ConnectionInfo;
  /** Bytes read past the header: the start of what the client sent (possibly empty). */
  head: Buffer;
}

export class ProxyGate {
  private readonly refusals: EverySecond;

  constructor(
    readonly options: ProxyProtocolOptions,
    log: Logger,
  ) {
    this.refusals = new EverySecond(log);
  }

  /**
   * Reads the header from `socket`, then calls `admit` once (the socket is paused, with no 'data'
   * listener of the gate left); a connection that fails is destroyed and logged.
   */
  open(socket: net.Socket, admit: (admitted: Admitted) => void): void {
    const own = connectionInfo(socket);
    const allowed = own.unix || this.options.allowFrom.has(own.remoteAddr);
    const parser = allowed ? new ProxyHeaderParser(this.options.mode) : null;
    let held: Buffer | null = null;
    const hand = (head: Buffer, info: ConnectionInfo): void => {
      socket.removeListener('data', onData);
      socket.removeListener('end', onEnd);
      socket.pause();
      // Chunks the stream had buffered behind this one (none, in flowing mode) go with it.
      const more = socket.readableLength > 0 ? (socket.read() as Buffer | null) : null;
      admit({ info, head: more === null ? head : Buffer.concat([head, more]) });
    };
    const onData = (data: Buffer): void => {
      if (parser === null) {
        // A peer that may not send a header: look at its first bytes only.
        const bytes = held === null ? data : Buffer.concat([held, data]);
        const proxy = startsWithProxyHeader(bytes);
        if (proxy === null) {
          held = bytes;
        } else if (proxy) {
          this.refuse(socket, own, new TsgiError('TSGI_ERR_PROXY_PROTOCOL_PEER', 'a peer not in --proxy-allow-from sent a PROXY protocol header; add the proxy to --proxy-allow-from'));
        } else {
          hand(bytes, own);
        }
        return;
      }
      const event = parser.feed(data);
      if (event === PROXY_DONE) hand(parser.rest, relayed(own, parser.header!));
      else if (event === PROXY_ERROR) this.refuse(socket, own, parser.error!);
    };
    const onEnd = (): void => {
      // A TCP health check connects and closes without a byte: not an error.
      if (parser === null || parser.feedEnd() === PROXY_CLOSED) socket.destroy();
      else this.refuse(socket, own, parser.error!);
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    // ECONNRESET and friends: the peer went away; 'close' follows and ends the opening.
    socket.on('error', ignore);
  }

  private refuse(socket: net.Socket, own: ConnectionInfo, error: TsgiError): void {
    socket.destroy();
    this.refusals.note(
      { code: error.code, remote: own.remoteAddr },
      (count) => `closed a connection from ${own.remoteAddr || 'a unix socket'}: ${error.message}${count > 1 ? ` (${count} such connections in the last second)` : ''}`,
    );
  }
}

function ignore(): void {}

/**
 * The connection's addresses after the header. PROXY over TCP4 or TCP6: the client's (source) and
 * what it connected to on the proxy (destination). PROXY over UNIX: a local client of the proxy's
 * host, shown as a unix-socket peer is ('' addresses). LOCAL and UNKNOWN: the socket's own
 * ("the receiver must ... use the real connection endpoints").
 */
function relayed(own: ConnectionInfo, header: ProxyHeader): ConnectionInfo {
  if (header.command === 'LOCAL' || header.family === 'UNKNOWN') return own;
  if (header.family === 'UNIX') return { serverName: own.serverName, serverPort: own.serverPort, remoteAddr: '', remotePort: '', scheme: own.scheme, unix: true };
  const destination = unmapped(header.destinationAddress);
  return {
    // As the socket's own local address would be (spec §3.5): an IPv6 address in brackets.
    serverName: destination.includes(':') ? `[${destination}]` : destination,
    serverPort: header.destinationPort,
    remoteAddr: unmapped(header.sourceAddress),
    remotePort: header.sourcePort,
    scheme: own.scheme,
    unix: false,
  };
}
