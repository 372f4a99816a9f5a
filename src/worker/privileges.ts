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
      if (group === null && typeof uid === 'string') process.setgid(idOf(uid, '-g'));
      // Supplementary groups of root would survive setuid; keep only the one chosen.
      process.setgroups?.([process.getgid!()]);
      process.setuid(uid);
    }
  } catch (err) {
    throw new PrivilegeError(`cannot switch to user ${user ?? '(unchanged)'} / group ${group ?? '(unchanged)'}: ${(err as Error).message}; the master must run as root to drop privileges`);
  }
}

/**
 * Who should own the unix sockets the master binds, when it runs as root with --user/--group
 * (Gunicorn chowns them the same way); null when nothing is to change. -1 leaves an id as it is.
 */
export function socketOwner(config: Pick<Config, 'user' | 'group'>): { uid: number; gid: number } | null {
  const { user, group } = config;
  if ((user === null && group === null) || process.getuid?.() !== 0) return null;
  const uid = user === null ? -1 : idOf(user, '-u');
  const gid = group !== null ? idOf(group, 'group') : user !== null ? idOf(user, '-g') : -1;
  return { uid, gid };
}

function idOf(name: string, what: '-u' | '-g' | 'group'): number {
  if (/^\d+$/.test(name)) return Number(name);
  try {
    if (what === 'group') return Number(execFileSync('getent', ['group', name], { encoding: 'utf8' }).split(':')[2]);
    return Number(execFileSync('id', [what, name], { encoding: 'utf8' }).trim());
  } catch (err) {
    throw new PrivilegeError(`cannot find ${what === 'group' ? 'group' : 'user'} ${name}: ${(err as Error).message.split('\n')[0]}`);
  }
}
