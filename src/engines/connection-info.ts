import type net from 'node:net';
import type { ConnectionInfo } from '../gateway/environ.js';

/**
 * The environ's view of a connection, made once per socket. The peer's address is read at once
 * (every request shows it); the local one only when a request names no host (spec §3.5: SERVER_NAME
 * comes from Host), which saves a getsockname() per connection in the common case.
 */
class SocketInfo implements ConnectionInfo {
  readonly remoteAddr: string;
  readonly remotePort: string;
  /** https when tsgi terminated TLS on the connection (set once, before its first request). */
  scheme: 'http' | 'https';
  readonly unix: boolean;
  private local: { name: string; port: string } | null = null;

  constructor(
    private readonly socket: net.Socket,
    scheme: 'http' | 'https',
  ) {
    this.scheme = scheme;
    const remoteAddr = socket.remoteAddress;
    this.unix = remoteAddr === undefined;
    this.remoteAddr = remoteAddr === undefined ? '' : unmapped(remoteAddr);
    this.remotePort = remoteAddr === undefined ? '' : String(socket.remotePort ?? '');
  }

  get serverName(): string {
    return this.localAddress().name;
  }

  get serverPort(): string {
    return this.localAddress().port;
  }

  private localAddress(): { name: string; port: string } {
    if (this.local === null) {
      // A unix socket has no addresses (spec §3.5: Host, else 'localhost').
      // An IPv6 address keeps its brackets, as in Host.
      const address = unmapped(this.socket.localAddress ?? '');
      this.local = this.unix
        ? { name: 'localhost', port: this.scheme === 'http' ? '80' : '443' }
        : { name: address.includes(':') ? `[${address}]` : address, port: String(this.socket.localPort ?? '') };
    }
    return this.local;
  }
}

/** `scheme` is https when tsgi terminates TLS on the socket. */
export function connectionInfo(socket: net.Socket, scheme: 'http' | 'https' = 'http'): ConnectionInfo {
  return new SocketInfo(socket, scheme);
}

/**
 * RFC 4291 §2.5.5.2: a dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d; apps, logs and
 * allow-lists know it as a.b.c.d (spec §3.5).
 */
export function unmapped(address: string): string {
  return address.length > 7 && address.startsWith('::ffff:') && address.includes('.', 7) ? address.slice(7) : address;
}

/** [n0, v0, n1, v1] → [[n0, v0], [n1, v1]] */
export function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = new Array(flat.length >> 1);
  for (let i = 0, j = 0; i < flat.length; i += 2, j++) out[j] = [flat[i]!, flat[i + 1]!];
  return out;
}
