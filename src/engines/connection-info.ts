import type net from 'node:net';
import type { ConnectionInfo } from '../gateway/environ.js';

/** The environ's view of a connection, computed once per socket; `scheme` is https when tsgi terminated TLS on it. */
export function connectionInfo(socket: net.Socket, scheme: 'http' | 'https' = 'http'): ConnectionInfo {
  const remoteAddr = socket.remoteAddress;
  if (remoteAddr === undefined) {
    // A unix socket has no addresses; SERVER_NAME/PORT then come from Host (spec §3.1).
    return { serverName: '', serverPort: '', remoteAddr: '', remotePort: '', scheme, unix: true };
  }
  return {
    serverName: unmapped(socket.localAddress ?? ''),
    serverPort: String(socket.localPort ?? ''),
    remoteAddr: unmapped(remoteAddr),
    remotePort: String(socket.remotePort ?? ''),
    scheme,
    unix: false,
  };
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
