/**
 * The master binds every listening socket itself, before any worker exists, so a bad address
 * fails at start and the sockets outlive any one worker (Gunicorn's model). Workers get the
 * bound handles over IPC and accept on them directly: with Connection: close traffic, node's
 * round-robin master measured 1.7x slower than workers accepting from the shared socket.
 *
 * Sockets come from one of three places, checked in this order:
 *   1. a USR2 upgrade: the old master passes its sockets as fds 3, 4, ... (TSGI_LISTEN_FDS);
 *   2. systemd socket activation: LISTEN_PID is this process and LISTEN_FDS counts fds from 3
 *      (sd_listen_fds(3)); --bind is then ignored, as in Gunicorn;
 *   3. --bind: TCP and unix addresses are bound here, `fd://N` adopts an inherited descriptor.
 */
import net from 'node:net';
import { lookup } from 'node:dns/promises';
import { lstatSync, readFileSync, readlinkSync, unlinkSync } from 'node:fs';
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
  /** How logs and users name it: http://127.0.0.1:8000, unix:/run/app.sock or fd://3 */
  url: string;
  /**
   * The master created this unix socket file and removes it when it closes the socket. An
   * inherited socket (systemd, fd://N) belongs to whoever created it and is never unlinked.
   */
  owned: boolean;
}

/** Where the sockets came from, for the start-up log. */
export type SocketSource = 'bind' | 'systemd' | 'upgrade';

interface CreateServerHandle {
  _createServerHandle(address: string | null, port: number, addressType: number, fd?: number): object | number;
}

/**
 * node:cluster binds shared sockets with this function too; it returns a bound handle that the
 * master never polls, where net.Server.listen would also accept connections in the master.
 */
const createHandle = (net as unknown as CreateServerHandle)._createServerHandle;

const ERRNO: Record<number, string> = {
  [-98]: 'address already in use (EADDRINUSE)',
  [-13]: 'permission denied (EACCES)',
  [-99]: 'address not available (EADDRNOTAVAIL)',
  [-22]: 'not a TCP or unix socket (EINVAL)',
  [-9]: 'no such file descriptor (EBADF)',
};

/**
 * Set by a master started for a USR2 upgrade: how many listening sockets it inherited, as file
 * descriptors 3, 4, ... in the old master's order (the convention of systemd's LISTEN_FDS).
 */
export const LISTEN_FDS_ENV = 'TSGI_LISTEN_FDS';

/** sd_listen_fds(3): inherited sockets start at this descriptor. */
const SD_LISTEN_FDS_START = 3;

/** Opens the listening sockets from wherever they come (see the top of this file). */
export async function openSockets(binds: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ sockets: BoundSocket[]; source: SocketSource }> {
  const upgrade = env[LISTEN_FDS_ENV];
  if (upgrade !== undefined) {
    delete env[LISTEN_FDS_ENV];
    return { sockets: adoptUpgrade(binds, Number(upgrade)), source: 'upgrade' };
  }
  const systemd = systemdFds(env);
  if (systemd > 0) {
    const sockets: BoundSocket[] = [];
    for (let i = 0; i < systemd; i++) sockets.push(adoptFd(SD_LISTEN_FDS_START + i, `fd://${SD_LISTEN_FDS_START + i} (LISTEN_FDS)`));
    return { sockets, source: 'systemd' };
  }
  return { sockets: await bindAll(binds), source: 'bind' };
}

/**
 * systemd's protocol (sd_listen_fds(3)): LISTEN_FDS sockets start at fd 3 when LISTEN_PID names
 * this process. The variables are removed either way, so that no child (a worker, a USR2 master)
 * takes them for its own.
 */
export function systemdFds(env: NodeJS.ProcessEnv): number {
  const pid = env.LISTEN_PID;
  const fds = env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  if (pid === undefined || fds === undefined || Number(pid) !== process.pid) return 0;
  const count = Number(fds);
  if (!Number.isInteger(count) || count < 0) throw new BindError(`LISTEN_FDS=${fds}`, 'LISTEN_FDS is not a count of file descriptors');
  return count;
}

/** The new master of an upgrade takes over the old master's sockets instead of binding. */
function adoptUpgrade(binds: string[], count: number): BoundSocket[] {
  if (!Number.isInteger(count) || count < 1) throw new BindError(binds.join(' '), `${LISTEN_FDS_ENV} is ${count}, not a count of inherited sockets`);
  // The old master had the same command line; when its --bind list matches the fds, unix paths
  // keep their names (and their owner, who removes the file at the end).
  const named = binds.length === count ? binds.map(parseBindAddress) : null;
  const sockets: BoundSocket[] = [];
  for (let i = 0; i < count; i++) {
    const fd = SD_LISTEN_FDS_START + i;
    const socket = adoptFd(fd, `inherited file descriptor ${fd}`);
    const address = named?.[i];
    if (address?.kind === 'unix' && socket.address.kind === 'fd') sockets.push({ address, handle: socket.handle, url: `unix:${address.path}`, owned: true });
    else sockets.push(socket);
  }
  return sockets;
}

/** A listening socket inherited as a file descriptor (fd://N, systemd, an upgrade). */
function adoptFd(fd: number, text: string): BoundSocket {
  if (isListening(fd) === false) throw new BindError(text, `file descriptor ${fd} is not a listening socket`);
  const handle = createHandle(null, 0, 0, fd);
  if (typeof handle === 'number') throw new BindError(text, `cannot use file descriptor ${fd}: ${ERRNO[handle] ?? `error ${handle}`}`);
  const tcp = tcpName(handle);
  if (tcp !== null) return { address: { kind: 'tcp', host: tcp.host, port: tcp.port, family: tcp.family }, handle, url: httpUrl(tcp.host, tcp.port), owned: false };
  return { address: { kind: 'fd', fd }, handle, url: `fd://${fd}`, owned: false };
}

/**
 * Whether a descriptor is a listening socket, from /proc (Linux): a TCP socket in LISTEN state
 * (st 0A in /proc/net/tcp{,6}) or a unix socket with __SO_ACCEPTCON (flag 00010000 in
 * /proc/net/unix). Undefined when /proc cannot tell.
 */
function isListening(fd: number): boolean | undefined {
  let inode: string;
  try {
    const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
    if (m === null) return false;
    inode = m[1]!;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? false : undefined;
  }
  const tables: [string, (f: string[]) => boolean][] = [
    ['/proc/net/tcp', (f) => f[9] === inode && f[3] === '0A'],
    ['/proc/net/tcp6', (f) => f[9] === inode && f[3] === '0A'],
    ['/proc/net/unix', (f) => f[6] === inode && (parseInt(f[3]!, 16) & 0x10000) !== 0],
  ];
  let read = false;
  for (const [table, matches] of tables) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    read = true;
    for (const line of text.split('\n')) if (matches(line.trim().split(/\s+/))) return true;
  }
  return read ? false : undefined;
}

function tcpName(handle: object): { host: string; port: number; family: 4 | 6 } | null {
  const h = handle as { getsockname?(out: object): number };
  if (typeof h.getsockname !== 'function') return null;
  const name: { address?: string; port?: number; family?: string } = {};
  if (h.getsockname(name) !== 0 || name.address === undefined) return null;
  return { host: name.address, port: name.port ?? 0, family: name.family === 'IPv6' ? 6 : 4 };
}

function httpUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
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
  if (address.kind === 'fd') return adoptFd(address.fd, text);
  if (address.kind === 'unix') {
    await claimSocketPath(address.path, text);
    const handle = createHandle(address.path, -1, -1);
    if (typeof handle === 'number') throw new BindError(text, ERRNO[handle] ?? `error ${handle}`);
    return { address, handle, url: `unix:${address.path}`, owned: true };
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
  return { address: { ...address, host, port }, handle, url: httpUrl(host, port), owned: false };
}

/** What a connection attempt says about the server behind a socket file. */
export type SocketPathState = 'live' | 'stale' | 'gone' | { unknown: string };

/**
 * Connects to the socket file: a server that accepts (or whose queue is full) is live; a refused
 * connection means nothing listens any more, so the file is a leftover of a server that died.
 */
export function probeSocketPath(path: string, timeoutMs = 1000): Promise<SocketPathState> {
  return new Promise((resolve) => {
    const socket = net.connect(path);
    const done = (state: SocketPathState): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(state);
    };
    // A connect that neither succeeds nor fails in time is a listener too busy to accept.
    const timer = setTimeout(() => done('live'), timeoutMs);
    socket.once('connect', () => done('live'));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') done('stale');
      else if (err.code === 'ENOENT') done('gone');
      else if (err.code === 'EAGAIN') done('live');
      else done({ unknown: err.code ?? err.message });
    });
  });
}

/**
 * A socket file left by a server that died is removed; a socket a live server answers on, or
 * anything that is not a socket, is refused: unlinking it would silently take the address from
 * the server using it.
 */
async function claimSocketPath(path: string, text: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return;
  }
  if (!isSocket) throw new BindError(text, `${path} exists and is not a socket; remove it or bind another path`);
  const state = await probeSocketPath(path);
  if (state === 'live') throw new BindError(text, `a server is already listening on ${path}; stop it first, or bind another path`);
  if (typeof state === 'object') throw new BindError(text, `cannot tell whether a server listens on ${path} (${state.unknown}); remove the file if it is stale`);
  if (state === 'stale') {
    try {
      unlinkSync(path);
    } catch {
      // Removed meanwhile.
    }
  }
}

/** The file descriptor of a bound socket's handle (-1 when the platform hides it). */
export function socketFd(socket: BoundSocket): number {
  const fd = (socket.handle as { fd?: number }).fd;
  return typeof fd === 'number' ? fd : -1;
}

export function closeAll(sockets: BoundSocket[]): void {
  for (const s of sockets) {
    (s.handle as { close(): void }).close();
    if (s.owned && s.address.kind === 'unix') {
      try {
        unlinkSync(s.address.path);
      } catch {
        // Already gone.
      }
    }
  }
}
