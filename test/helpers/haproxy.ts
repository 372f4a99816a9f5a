/**
 * A real HAProxy in front of tsgi, in the same shape as nginx.ts: a configuration written into a
 * temp prefix, Debian's haproxy run in the foreground (`-db`), stopped by PID. For the PROXY
 * protocol tests: `send-proxy` / `send-proxy-v2` on the backend server line.
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGES, requireCommand } from './system.js';
import { startProxyProcess, type ProxyProcess } from './proxy-process.js';

export { freePort, stopAllProxies } from './proxy-process.js';

export interface HaproxyOptions {
  listenPort: number;
  /** tsgi's address: `127.0.0.1:PORT` or `/path/to.sock`. */
  upstream: string;
  /** Options after the backend server line, e.g. `send-proxy-v2`. */
  serverOptions?: string;
  /** `http` (default) or `tcp`. */
  mode?: 'http' | 'tcp';
}

/** A minimal configuration: one frontend on 127.0.0.1:listenPort, one backend server. */
export function renderHaproxyConfig(o: HaproxyOptions): string {
  const mode = o.mode ?? 'http';
  return `global
  maxconn 1024

defaults
  mode ${mode}
  timeout connect 5s
  timeout client 30s
  timeout server 30s
${mode === 'http' ? '  option http-keep-alive\n' : ''}
frontend web
  bind 127.0.0.1:${o.listenPort}
  default_backend tsgi

backend tsgi
  server tsgi ${o.upstream} ${o.serverOptions ?? ''}
`;
}

/** Writes `config` into a new temp prefix and runs haproxy on it until stop(). */
export async function startHaproxy(config: string, listenPort: number): Promise<ProxyProcess> {
  const haproxy = requireCommand(PACKAGES.haproxy);
  const prefix = mkdtempSync(join(tmpdir(), 'tsgi-haproxy-'));
  chmodSync(prefix, 0o755);
  const confPath = join(prefix, 'haproxy.cfg');
  writeFileSync(confPath, config);
  // -db: stay in the foreground, no daemon; -W: master-worker, so TERM stops it cleanly.
  return startProxyProcess(haproxy, ['-W', '-db', '-f', confPath], prefix, listenPort);
}
