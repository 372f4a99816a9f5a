/**
 * Starts and stops the watchdog thread (watchdog-thread.ts) of a worker. Only with --timeout:
 * without a heartbeat timeout the master never names a blocking request.
 */
import { Worker as Thread } from 'node:worker_threads';
import type { Logger } from '../log.js';
import { WATCHDOG_FD } from '../ipc/messages.js';
import { CurrentRequest, STOP } from './current-request.js';
import type { WatchdogData } from './watchdog-thread.js';

const THREAD = new URL('./watchdog-thread.js', import.meta.url);

export class Watchdog {
  private readonly thread: Thread;

  /** `beatMs`: how often the main thread ticks; a loop silent for two ticks is stuck. */
  constructor(
    readonly board: CurrentRequest,
    beatMs: number,
    log: Logger,
  ) {
    const data: WatchdogData = { buffer: board.buffer, fd: WATCHDOG_FD, checkMs: Math.max(50, beatMs / 2), stallMs: Math.max(250, 2 * beatMs) };
    // A few MB for a second V8 isolate; kept small, as it runs one loop and nothing else.
    this.thread = new Thread(THREAD, { workerData: data, resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1 } });
    this.thread.unref();
    this.thread.on('error', (err) => log.warn({ err }, `the watchdog thread failed: ${err.message}; a worker timeout will name the requests of the last heartbeat`));
  }

  stop(): void {
    Atomics.store(this.board.ints, STOP, 1);
    Atomics.notify(this.board.ints, STOP);
  }
}
