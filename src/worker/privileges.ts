/**
 * --user / --group: workers give up root before they load the app or touch a request; the master
 * keeps its privileges to bind low ports and manage workers (Gunicorn's model).
 */
import { execFileSync } from 'node:child_process';
import type { Config } from '../config/settings.js';
import { TsgiError } from '../errors.js';

export class PrivilegeError extends TsgiError {
  constructor(message: string) {
    super('TSGI_ERR_PRIVILEGES', message);
  }
}

export function dropPrivileges(config: Pick<Config, 'user' | 'group'>): void {
  const { user, group } = config;
  if (user === null && group === null) return;
  if (typeof process.setuid !== 'function' || typeof process.setgid !== 'function') {
    throw new PrivilegeError('--user/--group need a POSIX system; remove them on this platform');
  }
  try {
    // Group first: once the user is switched, changing the group is no longer allowed.
    if (group !== null) process.setgid(/^\d+$/.test(group) ? Number(group) : group);
    if (user !== null) {
      const uid = /^\d+$/.test(user) ? Number(user) : user;
      if (group === null && typeof uid === 'string') process.setgid(primaryGroupOf(uid));
      // Supplementary groups of root would survive setuid; keep only the one chosen.
      process.setgroups?.([process.getgid!()]);
      process.setuid(uid);
    }
  } catch (err) {
    throw new PrivilegeError(`cannot switch to user ${user ?? '(unchanged)'} / group ${group ?? '(unchanged)'}: ${(err as Error).message}; the master must run as root to drop privileges`);
  }
}

function primaryGroupOf(user: string): number {
  return Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
}
