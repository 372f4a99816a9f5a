/**
 * What a request's environ shows of its connection when the peer is a proxy tsgi trusts
 * (`--forwarded-allow-ips`, docs/proxies.md): the client's address and port, the scheme, and the
 * host and port the client asked for, from the proxy's X-Forwarded-* and Forwarded headers
 * (gateway/forwarded.ts reads them).
 *
 * Trust is decided once per connection, from the peer's address (after a PROXY protocol header, the
 * client it names). An untrusted connection has no TrustedPeer and costs the request nothing: the
 * environ is built from the connection's own facts and the headers stay plain headers. A trusted
 * one owns one scratch ConnectionInfo and one ForwardedView, refilled by each of its requests, so a
 * request behind a proxy allocates only the strings its headers give.
 */
import type { HttpParseError } from '../errors.js';
import type { ConnectionInfo } from '../gateway/environ.js';
import { emptyView, type ForwardedView, type Forwarding, type Peer } from '../gateway/forwarded.js';
import type { Environ } from '../gateway/types.js';
import type { Socket } from 'node:net';

/**
 * spec §3.7: the client certificate TLS verified on the connection (`--cert-reqs`), on each of its
 * requests' environs; absent when there is none.
 */
export const PEER_CERTIFICATE = 'tsgi.peer_certificate';

/**
 * The connection as a request from a trusted proxy shows it: what read() found, and the socket's
 * own local address, read only if a request needs it (spec §3.5: Host first).
 */
class ForwardedInfo implements ConnectionInfo {
  remoteAddr: string;
  remotePort: string;
  scheme: 'http' | 'https';
  readonly unix: boolean;

  constructor(private readonly own: ConnectionInfo) {
    this.remoteAddr = own.remoteAddr;
    this.remotePort = own.remotePort;
    this.scheme = own.scheme;
    this.unix = own.unix;
  }

  get serverName(): string {
    return this.own.serverName;
  }

  get serverPort(): string {
    return this.own.serverPort;
  }
}

export class TrustedPeer {
  /** The connection as the environ of the request being begun shows it. */
  readonly info: ConnectionInfo;
  private readonly peer: Peer;
  private readonly view: ForwardedView = emptyView();

  constructor(
    private readonly forwarding: Forwarding,
    own: ConnectionInfo,
  ) {
    this.info = new ForwardedInfo(own);
    this.peer = { address: own.remoteAddr, port: own.remotePort, scheme: own.scheme };
  }

  /**
   * Reads one request's forwarding headers (flat: name, value, ...) into `info`; returns the 400
   * to answer when they conflict or are malformed (TSGI_ERR_FORWARDED_CONFLICT, TSGI_ERR_FORWARDED).
   */
  read(headers: readonly string[]): HttpParseError | null {
    const view = this.view;
    const refusal = this.forwarding.apply(this.peer, true, headers, view);
    if (refusal !== null) return refusal;
    const info = this.info;
    info.remoteAddr = view.remoteAddr;
    info.remotePort = view.remotePort;
    info.scheme = view.scheme;
    return null;
  }

  /** Sets what read() found of the host on the environ built from `info`. */
  finish(environ: Environ): void {
    const view = this.view;
    if (view.host !== null) environ.HTTP_HOST = view.host;
    if (view.serverName !== null) environ.SERVER_NAME = view.serverName;
    if (view.serverPort !== null) environ.SERVER_PORT = view.serverPort;
  }
}

/**
 * A node app reads the client from its request's socket (Express's `req.ip` and `req.protocol`,
 * Fastify's `request.ip`): on a connection from a trusted proxy, the socket shows, for each
 * request, the client and scheme that request's environ has. Own properties of this connection's
 * socket; nothing shared is changed, and tsgi itself read the socket's facts when it accepted it.
 */
export function showForwarded(socket: Socket, environ: Environ): void {
  const address = environ.REMOTE_ADDR;
  define(socket, 'remoteAddress', address === '' ? undefined : address);
  define(socket, 'remotePort', environ.REMOTE_PORT === '' ? undefined : Number(environ.REMOTE_PORT));
  define(socket, 'remoteFamily', address === '' ? undefined : address.includes(':') ? 'IPv6' : 'IPv4');
  define(socket, 'encrypted', environ['tsgi.url_scheme'] === 'https' ? true : undefined);
}

function define(socket: Socket, key: string, value: unknown): void {
  Object.defineProperty(socket, key, { value, writable: true, configurable: true, enumerable: false });
}
