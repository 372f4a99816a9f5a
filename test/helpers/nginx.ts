/**
 * A real Nginx in front of tsgi: renders a configuration (config/nginx.conf, or any text) for
 * ephemeral ports and a temp prefix, and runs Debian's nginx as a foreground process
 * (`daemon off`), stopped by PID. The package is installed by the global setup when missing.
 */
import { mkdtempSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGES, requireCommand } from './system.js';
import { startProxyProcess, type ProxyProcess } from './proxy-process.js';
import { ROOT } from './server.js';

export { freePort, stopAllProxies } from './proxy-process.js';

export interface NginxPlaces {
  /** Where nginx listens (127.0.0.1). */
  listenPort: number;
  /** tsgi's TCP port (replaces 127.0.0.1:8000). */
  upstreamPort: number;
  /** tsgi's unix socket (replaces /run/tsgi/tsgi.sock). */
  upstreamSocket?: string;
}

/**
 * config/nginx.conf as it ships, pointed at test ports and a temp prefix: the listen port, the
 * upstream addresses, and the pid, log and temp paths (so nothing outside the prefix is touched).
 */
export function renderNginxConfig(places: NginxPlaces, prefix: string, template = readFileSync(join(ROOT, 'config/nginx.conf'), 'utf8')): string {
  const replace = (text: string, from: string | RegExp, to: string): string => {
    const next = text.replace(from, to);
    if (next === text) throw new Error(`config/nginx.conf has no ${String(from)} to point at the test's place`);
    return next;
  };
  let conf = template;
  // As root, nginx switches its workers to `user`; the test's files belong to root.
  conf = replace(conf, /^user .*;$/m, typeof process.getuid === 'function' && process.getuid() === 0 ? 'user root;' : '');
  conf = replace(conf, /^pid .*;$/m, `pid ${prefix}/nginx.pid;`);
  conf = replace(conf, /^error_log \S+/m, `error_log ${prefix}/error.log`);
  conf = conf.replace(/access_log \/var\/log\/nginx\/\S+;/g, `access_log ${prefix}/access.log;`);
  conf = replace(conf, /listen 80;/g, `listen 127.0.0.1:${places.listenPort};`);
  conf = replace(conf, /server 127\.0\.0\.1:8000/g, `server 127.0.0.1:${places.upstreamPort}`);
  if (places.upstreamSocket !== undefined) conf = replace(conf, /unix:\/run\/tsgi\/tsgi\.sock/g, `unix:${places.upstreamSocket}`);
  conf = replace(conf, /^http \{$/m, `http {\n  client_body_temp_path ${prefix}/client_body;\n  proxy_temp_path ${prefix}/proxy;\n  fastcgi_temp_path ${prefix}/fastcgi;\n  uwsgi_temp_path ${prefix}/uwsgi;\n  scgi_temp_path ${prefix}/scgi;`);
  return conf;
}

/** Writes `config` into a new temp prefix and runs nginx on it until stop(). */
export async function startNginx(config: string, listenPort: number): Promise<ProxyProcess> {
  const nginx = requireCommand(PACKAGES.nginx);
  const prefix = mkdtempSync(join(tmpdir(), 'tsgi-nginx-'));
  chmodSync(prefix, 0o755);
  const confPath = join(prefix, 'nginx.conf');
  writeFileSync(confPath, config.replaceAll('@PREFIX@', prefix));
  return startProxyProcess(nginx, ['-p', prefix, '-c', confPath, '-e', join(prefix, 'error.log'), '-g', 'daemon off;'], prefix, listenPort);
}

/** `nginx -t` on a configuration: resolves with nginx's verdict. */
export async function checkNginxConfig(config: string): Promise<{ ok: boolean; output: string }> {
  const { spawnSync } = await import('node:child_process');
  const nginx = requireCommand(PACKAGES.nginx);
  const prefix = mkdtempSync(join(tmpdir(), 'tsgi-nginx-t-'));
  const confPath = join(prefix, 'nginx.conf');
  writeFileSync(confPath, config.replaceAll('@PREFIX@', prefix));
  const r = spawnSync(nginx, ['-t', '-p', prefix, '-c', confPath, '-e', join(prefix, 'error.log')], { encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}
