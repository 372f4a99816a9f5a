/**
 * Addresses accepted by `--bind`: `HOST:PORT`, `[IPv6]:PORT`, `HOST` (port 8000), `unix:PATH` and
 * `fd://N` (a listening socket inherited as file descriptor N, e.g. from systemd), as in Gunicorn.
 */
import { isIP } from 'node:net';
import { ConfigError } from './errors.js';

export const DEFAULT_PORT = 8000;

export type BindAddress =
  | { kind: 'tcp'; host: string; port: number; family: 4 | 6 | 0 }
  | { kind: 'unix'; path: string }
  | { kind: 'fd'; fd: number };

// RFC 1123 §2.1: labels of letters, digits and hyphens, not starting or ending with a hyphen.
const HOSTNAME = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?$/;

/** Parses one `--bind` value; throws ConfigError saying which forms are valid. */
export function parseBindAddress(text: string): BindAddress {
  const fail = (why: string): never => {
    throw new ConfigError(`${JSON.stringify(text)} ${why}; use HOST:PORT, [IPv6]:PORT, HOST, unix:PATH or fd://N`);
  };
  if (text.startsWith('fd://')) {
    const fd = text.slice('fd://'.length);
    // 0-2 are stdin, stdout and stderr; inherited listening sockets start at 3 (sd_listen_fds(3)).
    if (!/^\d{1,7}$/.test(fd) || Number(fd) < 3) fail('is not fd:// followed by a file descriptor number of 3 or more');
    return { kind: 'fd', fd: Number(fd) };
  }
  if (text.startsWith('unix:')) {
    const path = text.slice('unix:'.length);
    if (path === '') fail('has no socket path');
    return { kind: 'unix', path };
  }

  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close === -1) fail('opens an IPv6 bracket without closing it');
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) fail('has text after the IPv6 address that is not :PORT');
    portText = rest === '' ? undefined : rest.slice(1);
    if (isIP(host) !== 6) fail(`has ${JSON.stringify(host)} in brackets, which is not an IPv6 address`);
    return { kind: 'tcp', host, port: parsePort(portText, fail), family: 6 };
  }

  // Gunicorn users write a bare port; as a host name it would resolve as an IPv4 number.
  const barePort = /^:?(\d{1,5})$/.exec(text)?.[1];
  if (barePort !== undefined) fail(`is a port without a host: did you mean 0.0.0.0:${barePort}? (127.0.0.1:${barePort} for this machine only)`);
  const colons = text.split(':').length - 1;
  if (colons > 1) fail(isIP(text) === 6 ? 'is an IPv6 address without brackets' : 'has more than one colon');
  [host, portText] = colons === 1 ? (text.split(':') as [string, string]) : [text, undefined];
  if (host === '') fail('has no host (0.0.0.0 listens on every IPv4 interface)');
  const family = isIP(host);
  if (family === 0 && !HOSTNAME.test(host)) fail(`has ${JSON.stringify(host)}, which is neither an IP address nor a host name`);
  return { kind: 'tcp', host, port: parsePort(portText, fail), family: family as 4 | 0 };
}

function parsePort(text: string | undefined, fail: (why: string) => never): number {
  if (text === undefined) return DEFAULT_PORT;
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) fail(`has port ${JSON.stringify(text)}; a port is 0 to 65535`);
  return Number(text);
}

/** Validator for the `bind` setting: every address must parse. */
export function validBindList(addresses: string[]): void {
  if (addresses.length === 0) throw new ConfigError('expected at least one address, got none');
  for (const address of addresses) parseBindAddress(address);
}

/** Validator for `metricsBind`: one TCP address (Prometheus and Kubernetes probes speak TCP). */
export function validMetricsBind(text: string | null): void {
  if (text === null) return;
  if (parseBindAddress(text).kind !== 'tcp') throw new ConfigError(`${JSON.stringify(text)} is not HOST:PORT; metrics are served over TCP`);
}

/** The StatsD server: `HOST:PORT` (UDP); the port defaults to 8125. */
export function parseStatsdHost(text: string): { host: string; port: number } {
  const hasPort = text.startsWith('[') ? /\]:\d+$/.test(text) : /:\d+$/.test(text);
  const address = parseBindAddress(hasPort ? text : `${text}:8125`);
  if (address.kind !== 'tcp') throw new ConfigError(`${JSON.stringify(text)} is not HOST:PORT`);
  return { host: address.host, port: address.port };
}

export function validStatsdHost(text: string | null): void {
  if (text !== null) parseStatsdHost(text);
}
