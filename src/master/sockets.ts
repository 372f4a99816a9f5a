/**
 * The master binds every listening socket itself, before any worker exists, so a bad address
 * fails at start and the sockets outlive any one worker (Gunicorn's model). Workers get the
 * bound handles over IPC and accept on them directly: with Connection: close traffic, node's
 * round-robin master measured 1.7x slower than workers accepting from the shared socket.
 */
import net from 'node:net';
import { lookup } from 'node:dns/promises';
import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import { parseBindAddress, type BindAddress } from '../config/bind.js';
import { TsgiError } from '../errors.js';

export class BindError extends TsgiError {
  constructor(address: string, why: string) {
    super('TSGI_ERR_BIND', `cannot listen on ${address}: ${why}`);
  }
}

export interface BoundSocket {
  address: BindAddress;
  /** The libuv handle, bound but not yet listening: the master never accepts on it. */
  handle: object;
  /** How logs and users name it: http://127.0.0.1:8000 or unix:/run/app.sock */
  url: string;
}

interface CreateServerHandle {
  _createServerHandle(address: string | null, port: number, addressType: number, fd?: number): object | number;
}

/**
 * node:cluster binds shared sockets with this function too; it returns a bound handle that the
 * master never polls, where net.Server.listen would also accept connections in the master.
 */
const createHandle = (net as unknown as CreateServerHandle)._createServerHandle;

const ERRNO: Record<number, string> = { [-98]: 'address already in use (EADDRINUSE)', [-13]: 'permission denied (EACCES)', [-99]: 'address not available (EADDRNOTAVAIL)' };

/**
 * Set by a master started for a USR2 upgrade: how many listening sockets it inherited, as file
 * descriptors 3, 4, ... in --bind order (the convention of systemd's LISTEN_FDS).
 */
export const LISTEN_FDS_ENV = 'TSGI_LISTEN_FDS';

/** The new master of an upgrade takes over the old master's sockets instead of binding. */
export function adoptInherited(binds: string[]): BoundSocket[] {
  const count = Number(process.env[LISTEN_FDS_ENV]);
  if (count !== binds.length) throw new BindError(binds.join(' '), `inherited ${count} sockets for ${binds.length} --bind addresses`);
  return binds.map((text, i) => {
    const address = parseBindAddress(text);
    const handle = createHandle(null, 0, 0, 3 + i);
    if (typeof handle === 'number') throw new BindError(text, `cannot use inherited file descriptor ${3 + i} (${ERRNO[handle] ?? `error ${handle}`})`);
    if (address.kind === 'unix') return { address, handle, url: `unix:${address.path}` };
    const name: { address?: string; port?: number; family?: string } = {};
    (handle as { getsockname(out: object): number }).getsockname(name);
    const host = name.address ?? address.host;
    const port = name.port ?? address.port;
    return { address: { ...address, host, port }, handle, url: `http://${host.includes(':') ? `[${host}]` : host}:${port}` };
  });
}

export async function bindAll(binds: string[]): Promise<BoundSocket[]> {
  const bound: BoundSocket[] = [];
  try {
    for (const text of binds) bound.push(await bindOne(text));
  } catch (err) {
    closeAll(bound);
    throw err;
  }
  return bound;
}

async function bindOne(text: string): Promise<BoundSocket> {
  const address = parseBindAddress(text);
  if (address.kind === 'unix') {
    removeStaleSocket(address.path, text);
    const handle = createHandle(address.path, -1, -1);
    if (typeof handle === 'number') throw new BindError(text, ERRNO[handle] ?? `error ${handle}`);
    return { address, handle, url: `unix:${address.path}` };
  }
  let host = address.host;
  let family: number = address.family;
  if (family === 0) {
    try {
      const found = await lookup(host);
      host = found.address;
      family = found.family;
    } catch {
      throw new BindError(text, `host name ${JSON.stringify(address.host)} does not resolve`);
    }
  }
  const handle = createHandle(host, address.port, family);
  if (typeof handle === 'number') throw new BindError(text, ERRNO[handle] ?? `error ${handle}`);
  const name: { address?: string; port?: number } = {};
  // libuv defers a TCP bind error (EADDRINUSE) to the first call that needs the socket; without
  // this check the worker would listen on an unbound socket: every interface, a random port.
  const err = (handle as { getsockname(out: object): number }).getsockname(name);
  if (err !== 0) {
    (handle as { close(): void }).close();
    throw new BindError(text, ERRNO[err] ?? `error ${err}`);
  }
  const port = name.port ?? address.port;
  return {
    address: { ...address, host, port },
    handle,
    url: `http://${family === 6 ? `[${host}]` : host}:${port}`,
  };
}

/** A socket file left by a server that died is removed; anything else at that path is not. */
function removeStaleSocket(path: string, text: string): void {
  if (!existsSync(path)) return;
  if (!lstatSync(path).isSocket()) throw new BindError(text, `${path} exists and is not a socket`);
  unlinkSync(path);
}

export function closeAll(sockets: BoundSocket[]): void {
  for (const s of sockets) {
    (s.handle as { close(): void }).close();
    if (s.address.kind === 'unix') {
      try {
        unlinkSync(s.address.path);
      } catch {
        // Already gone.
      }
    }
  }
}
