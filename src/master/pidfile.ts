/** --pid FILE: the master's pid, written at start and removed at exit (only if still ours). */
import { closeSync, fchmodSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { TsgiError } from '../errors.js';

export class PidfileError extends TsgiError {
  constructor(message: string) {
    super('TSGI_ERR_PIDFILE', message);
  }
}

function readPid(path: string): number | null {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function writePidfile(path: string): void {
  const existing = readPid(path);
  if (existing !== null && existing !== process.pid && existing !== process.ppid && alive(existing)) {
    throw new PidfileError(`${path} names a running process (pid ${existing}); stop it or choose another --pid file`);
  }
  // 0644 whatever the umask (--umask is 0 by default, which would make it world-writable, and a
  // writable pid file lets anyone point the next `kill "$(cat tsgi.pid)"` at another process).
  const fd = openSync(path, 'w', 0o644);
  try {
    fchmodSync(fd, 0o644);
    writeSync(fd, `${process.pid}\n`);
  } finally {
    closeSync(fd);
  }
}

export function removePidfile(path: string): void {
  if (readPid(path) !== process.pid) return;
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}

/** USR2: the old master steps aside to `<file>.oldbin` (Gunicorn's name), so both can be found. */
export function moveAsideForUpgrade(path: string): string {
  const aside = `${path}.oldbin`;
  renameSync(path, aside);
  return aside;
}
