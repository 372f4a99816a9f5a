/**
 * The watchdog: a thread of the worker process that wakes a few times a second and, when the
 * worker's event loop has not ticked for `stallMs`, writes one line to the pipe the master reads
 * (WATCHDOG_FD): which request was last handed to the app, and since when the loop is stuck. The
 * master then names that request when it times the worker out, instead of whatever was in flight
 * at the last heartbeat. It sleeps in Atomics.wait, so it costs nothing between checks.
 */
import { writeSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import { CurrentRequest, STOP } from './current-request.js';
import type { WatchdogReport } from '../ipc/messages.js';

export interface WatchdogData {
  buffer: SharedArrayBuffer;
  fd: number;
  checkMs: number;
  stallMs: number;
}

function watch({ buffer, fd, checkMs, stallMs }: WatchdogData): void {
  const board = new CurrentRequest(buffer);
  let reported = 0;
  for (;;) {
    if (Atomics.wait(board.ints, STOP, 0, checkMs) === 'not-equal') return;
    const tick = board.lastTick();
    if (tick === 0 || tick === reported || Date.now() - tick < stallMs) continue;
    reported = tick;
    const report: WatchdogReport = { type: 'stalled', since: tick, request: board.read() };
    try {
      writeSync(fd, `${JSON.stringify(report)}\n`);
    } catch {
      // No master reading (it is gone, or this worker was started without the pipe): nobody to tell.
      return;
    }
  }
}

watch(workerData as WatchdogData);
