/**
 * A warning that can come in bursts (connections closed at --worker-connections, PROXY protocol
 * headers refused, TLS handshakes failed): the first of a burst is logged at once, the rest are
 * counted and the next line, a second later at the soonest, says how many there were. A flood of
 * bad connections costs a line a second, and none goes unmentioned.
 */
import type { Logger } from '../log.js';

const EVERY_MS = 1000;

export class EverySecond {
  private loggedAt = -Infinity;
  /** Occurrences since the last line, the one that is logged now included. */
  private count = 0;

  constructor(
    private readonly log: Logger,
    private readonly level: 'info' | 'warn' | 'error' = 'warn',
  ) {}

  /** One occurrence; `message(count)` gives the line, where `count` is how many it covers. */
  note(fields: Record<string, unknown>, message: (count: number) => string): void {
    this.count++;
    const now = performance.now();
    if (now - this.loggedAt < EVERY_MS) return;
    this.loggedAt = now;
    const count = this.count;
    this.count = 0;
    this.log[this.level]({ ...fields, count }, message(count));
  }
}
