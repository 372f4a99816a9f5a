/**
 * PID 1 duties. In a container, the first process is the parent of every orphan: a process
 * whose parent exited is re-parented to it, and when the orphan exits it stays a zombie until
 * PID 1 waits for it. libuv waits only for the children Node spawned (by their pids), so Node
 * cannot reap an orphan on its own: that takes waitpid(2), from native/reaper.c.
 *
 * With the addon built (the Dockerfile builds it; `npm run build:native` elsewhere), the master,
 * when it is PID 1, looks at its children every turn of its loop and reaps a zombie that is not
 * one Node spawned and has been a zombie for half a second (libuv reaps its own children on the
 * first turn after SIGCHLD, so a zombie still there half a second later is an orphan). Orphans are
 * logged at debug level only: they are never workers, so their exit never counts as a crash and
 * their exit code can never stop the server. Without the addon, tsgi says so once at start and
 * orphans stay zombies: run the container with an init (`docker run --init`, tini).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.js';

export const REAPER_ADDON = fileURLToPath(new URL('../../native/build/reaper.node', import.meta.url));

interface Addon {
  reap(pid: number): number;
}

function loadAddon(path: string): Addon | null {
  if (!existsSync(path)) return null;
  return createRequire(import.meta.url)(path) as Addon;
}

/** The pids of this process's children (CONFIG_PROC_CHILDREN, else a scan of /proc). */
function childPids(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return text === '' ? [] : text.split(/\s+/).map(Number);
  } catch {
    // Fall through to the scan.
  }
  const found: number[] = [];
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return found;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat !== null && stat.ppid === pid) found.push(Number(name));
  }
  return found;
}

function readStat(pid: number): { state: string; ppid: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0]!, ppid: Number(rest[1]) };
  } catch {
    return null;
  }
}

/** How long a zombie must have been one before it is taken for an orphan. */
const SETTLE_MS = 500;

export class OrphanReaper {
  /** Zombies seen on earlier turns, not yet reaped, and when they were first seen. */
  private seen = new Map<number, number>();
  reaped = 0;

  private constructor(
    private readonly addon: Addon,
    private readonly log: Logger,
  ) {}

  /**
   * The reaper when this process is PID 1 and the addon is built; null otherwise (logging, as
   * PID 1 without the addon, what that means).
   */
  static forPid1(log: Logger, path = REAPER_ADDON): OrphanReaper | null {
    if (process.pid !== 1) return null;
    let addon: Addon | null = null;
    try {
      addon = loadAddon(path);
    } catch (err) {
      log.warn(`running as PID 1, but the orphan reaper ${path} does not load (${(err as Error).message}); orphaned processes will stay zombies: rebuild it with npm run build:native, or run under an init (docker run --init)`);
      return null;
    }
    if (addon === null) {
      log.warn(`running as PID 1 without the orphan reaper (${path} is not built): orphaned processes will stay zombies; build it with npm run build:native, or run under an init (docker run --init)`);
      return null;
    }
    log.info('Running as PID 1: orphaned processes are reaped');
    return new OrphanReaper(addon, log);
  }

  /**
   * One turn: reaps zombies that are not Node's children (`own`) and have been zombies for
   * SETTLE_MS, many turns of the event loop in which libuv would have reaped a child of its own.
   */
  tick(own: ReadonlySet<number>, now = Date.now()): void {
    const zombies = new Map<number, number>();
    for (const pid of childPids(process.pid)) {
      if (own.has(pid) || readStat(pid)?.state !== 'Z') continue;
      const since = this.seen.get(pid) ?? now;
      if (now - since < SETTLE_MS) {
        zombies.set(pid, since);
        continue;
      }
      const status = this.addon.reap(pid);
      if (status === -1) continue;
      this.reaped++;
      this.log.debug(`reaped orphaned process ${pid} (exit status ${status})`);
    }
    this.seen = zombies;
  }
}
