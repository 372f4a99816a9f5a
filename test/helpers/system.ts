/**
 * System packages the tests need (nginx, haproxy, openssl, systemd's systemd-socket-activate),
 * installed from Debian with apt-get when missing, so that `npm test` alone passes on a fresh
 * machine. test/helpers/global-setup.ts calls ensureAll() once per run; a test calls
 * `requireCommand()` to get the path (or a clear error saying what could not be installed).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface SystemPackage {
  /** The Debian package. */
  name: string;
  /** The command it provides, looked up on PATH and in /usr/sbin, /sbin. */
  command: string;
}

export const PACKAGES = {
  nginx: { name: 'nginx', command: 'nginx' },
  haproxy: { name: 'haproxy', command: 'haproxy' },
  openssl: { name: 'openssl', command: 'openssl' },
  socketActivate: { name: 'systemd', command: 'systemd-socket-activate' },
} as const satisfies Record<string, SystemPackage>;

/** apt-get is given this long in all (update and install); a run never waits on it forever. */
const APT_TIMEOUT_MS = 5 * 60_000;

/** The command's full path, or null. */
export function findCommand(command: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const dir of dirs) if (dir !== '' && existsSync(`${dir}/${command}`)) return `${dir}/${command}`;
  return null;
}

function apt(args: string[], timeoutMs: number): { ok: boolean; output: string } {
  const r = spawnSync('apt-get', args, {
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

/**
 * Installs whichever of `packages` is missing, in one apt-get call (after `apt-get update` if the
 * first try fails: a fresh machine has no package lists). Returns what is still missing after.
 */
export function ensurePackages(packages: readonly SystemPackage[]): { missing: SystemPackage[]; log: string } {
  const wanted = packages.filter((p) => findCommand(p.command) === null);
  if (wanted.length === 0) return { missing: [], log: '' };
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return { missing: wanted, log: `not root: cannot apt-get install ${wanted.map((p) => p.name).join(' ')}` };
  }
  const names = [...new Set(wanted.map((p) => p.name))];
  const started = Date.now();
  const left = (): number => Math.max(1000, APT_TIMEOUT_MS - (Date.now() - started));
  const install = ['install', '-y', '--no-install-recommends', '-o', 'Dpkg::Options::=--force-confold', ...names];
  let log = '';
  let r = apt(install, left());
  log += r.output;
  if (!r.ok) {
    log += apt(['update'], left()).output;
    r = apt(install, left());
    log += r.output;
  }
  return { missing: wanted.filter((p) => findCommand(p.command) === null), log };
}

/** The path of a command the test needs; throws naming the package when it is not installed. */
export function requireCommand(pkg: SystemPackage): string {
  const path = findCommand(pkg.command);
  if (path === null) throw new Error(`${pkg.command} is not installed and could not be installed (apt-get install ${pkg.name}); see the global setup's output`);
  return path;
}
