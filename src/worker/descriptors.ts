/**
 * File descriptors: every connection costs one, and a worker that runs out must lose only the
 * connections it cannot accept, never itself.
 *
 * Running out is quiet at the socket: libuv keeps one descriptor in reserve, and when accept()
 * fails with EMFILE it closes the reserve, accepts and closes the waiting connections, and takes
 * the reserve back, without telling Node. What does fail loudly is anything else that needs a
 * descriptor, such as `process.memoryUsage.rss()` (it reads /proc/self/stat): thrown from a timer,
 * that used to kill the worker and every request on it. So the worker's periodic work goes through
 * `Shortage.sample()`, which turns EMFILE into one log line per shortage, and the rest of its
 * timers are guarded (see main.ts).
 *
 * The limit itself: servers raise their soft RLIMIT_NOFILE to the hard limit at start. Node does
 * this itself on POSIX systems before any JavaScript runs (measured: under `ulimit -S -n 1024`
 * with a hard limit of 20000, `node` starts with 20000), so tsgi only checks, and where the soft
 * limit is still lower (a Node built or embedded without it) raises it with util-linux's
 * `prlimit`, since Node has no setrlimit; when that cannot be done it says so in one line.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Logger } from '../log.js';

export interface OpenFileLimit {
  soft: number;
  hard: number;
}

/** The RLIMIT_NOFILE of a process, from /proc (Linux); null where there is no /proc. */
export function openFileLimit(pid: number): OpenFileLimit | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/limits`, 'utf8');
  } catch {
    return null;
  }
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (m === null) return null;
  const value = (v: string): number => (v === 'unlimited' ? Number.POSITIVE_INFINITY : Number(v));
  return { soft: value(m[1]!), hard: value(m[2]!) };
}

export type RaiseResult =
  | { raised: true; from: number; to: number }
  | { raised: false; limit: OpenFileLimit | null; why: string | null };

/**
 * Raises the soft open-file limit of `pid` to its hard limit. `why` is null when there was
 * nothing to do (already at the hard limit, or no /proc to tell).
 */
export function raiseOpenFileLimit(pid: number): RaiseResult {
  const limit = openFileLimit(pid);
  if (limit === null || limit.soft >= limit.hard) return { raised: false, limit, why: null };
  const hard = Number.isFinite(limit.hard) ? String(limit.hard) : 'unlimited';
  const run = spawnSync('prlimit', ['--pid', String(pid), `--nofile=${hard}:${hard}`], { encoding: 'utf8', timeout: 5000 });
  const after = openFileLimit(pid);
  if (after !== null && after.soft >= limit.hard) return { raised: true, from: limit.soft, to: after.soft };
  const why =
    run.error !== undefined
      ? (run.error as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'prlimit (util-linux) is not installed'
        : run.error.message
      : (run.stderr.trim().split('\n')[0] ?? `prlimit exited with ${run.status}`);
  return { raised: false, limit, why };
}

/** At the master's start: the limit workers inherit, raised if it can be, one line if not. */
export function raiseOwnOpenFileLimit(log: Logger): void {
  const result = raiseOpenFileLimit(process.pid);
  if (result.raised) log.info(`Raised the open-file limit from ${result.from} to ${result.to}`);
  else if (result.why !== null) {
    log.warn(
      `could not raise the open-file limit from ${result.limit!.soft} to ${result.limit!.hard}: ${result.why}; each connection needs one, so raise it before tsgi starts (ulimit -n, LimitNOFILE= in systemd, --ulimit nofile= in Docker)`,
    );
  }
}

export function isDescriptorShortage(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}

/**
 * A worker's view of descriptor shortages: one warning when one starts, one line when it ends,
 * nothing in between however many connections it costs.
 */
export class Shortage {
  private since = 0;
  private rss = 0;
  private readonly limit: number | null;

  constructor(
    private readonly log: Logger,
    private readonly connections: () => number,
  ) {
    const limit = openFileLimit(process.pid);
    this.limit = limit === null ? null : limit.soft;
  }

  get active(): boolean {
    return this.since !== 0;
  }

  /**
   * The resident set size, or the last one measured while descriptors are short (reading it needs
   * one). Also how a shortage is noticed, and its end.
   */
  sample(now: number): number {
    try {
      this.rss = process.memoryUsage.rss();
    } catch (err) {
      if (!isDescriptorShortage(err)) throw err;
      this.begin(now, err as NodeJS.ErrnoException);
      return this.rss;
    }
    if (this.since !== 0) this.end(now);
    return this.rss;
  }

  /** Something failed for want of a descriptor (EMFILE, ENFILE). */
  begin(now: number, err: NodeJS.ErrnoException): void {
    if (this.since !== 0) return;
    this.since = now;
    const limit = this.limit === null ? '' : `; it may have ${this.limit} open (ulimit -n)`;
    const which = err.code === 'ENFILE' ? 'the system is out of file descriptors (ENFILE)' : 'this worker is out of file descriptors (EMFILE)';
    this.log.warn(
      { code: err.code, connections: this.connections() },
      `${which}: it holds ${this.connections()} connections${limit}. New connections are closed unanswered until some close; the ones open are served. Raise the limit (ulimit -n, LimitNOFILE= in systemd, --ulimit nofile= in Docker), or keep --worker-connections below it`,
    );
  }

  private end(now: number): void {
    const seconds = ((now - this.since) / 1000).toFixed(1);
    this.since = 0;
    this.log.info(`file descriptors are available again, after ${seconds}s short of them`);
  }
}
