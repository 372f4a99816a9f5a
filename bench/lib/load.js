// The bench side of the load generator: one long-lived child process (bench/lib/load-child.js),
// so autocannon's code is warmed by the warm-up runs like any other part of the system, and a
// run that does not finish in time is ended by killing that child by PID.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isAlive, readPidStat } from './procfs.js';

const CHILD = fileURLToPath(new URL('./load-child.js', import.meta.url));
const START_TIMEOUT_MS = 20_000;
/** Seconds a run may take past its duration before the child is killed. */
const RUN_GRACE_S = 30;

export class LoadGenerator {
  constructor() {
    this.child = null;
    this.startTime = undefined;
    this.pending = null;
  }

  get pid() {
    return this.child?.pid;
  }

  async start() {
    const child = fork(CHILD, [], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child = child;
    this.startTime = readPidStat(child.pid)?.startTime;
    child.on('message', (msg) => {
      if (this.pending && msg.id === this.pending.id) this.pending.settle(msg);
    });
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      this.pending?.settle({ type: 'failed', message: `load generator exited (${signal ?? code})` });
    });
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('load generator did not start in time')), START_TIMEOUT_MS);
      child.once('message', (msg) => {
        clearTimeout(timer);
        if (msg.type === 'ready') resolve();
        else reject(new Error(`unexpected first message from load generator: ${JSON.stringify(msg)}`));
      });
      child.once('exit', () => reject(new Error('load generator exited during start')));
    });
  }

  /**
   * Runs one job. `before` runs right before the job is handed over and `after` right when the
   * result arrives, so what they measure brackets the run with only an IPC message either side.
   */
  async run(job, { before, after }) {
    if (this.child === null) await this.start();
    const id = `${Date.now()}-${Math.random()}`;
    const outcome = new Promise((resolve) => {
      const limit = setTimeout(() => {
        this.kill();
        resolve({ type: 'failed', message: `run did not finish within ${job.duration + RUN_GRACE_S} s; load generator killed` });
      }, (job.duration + RUN_GRACE_S) * 1000);
      this.pending = {
        id,
        settle: (msg) => {
          clearTimeout(limit);
          this.pending = null;
          resolve(msg);
        },
      };
    });
    const started = before();
    this.child.send({ ...job, type: 'run', id });
    const msg = await outcome;
    const ended = after();
    if (msg.type !== 'result') throw new Error(`load run failed: ${msg.message}`);
    return { started, ended, load: msg };
  }

  kill() {
    const child = this.child;
    if (child && isAlive(child.pid, this.startTime)) child.kill('SIGKILL');
  }

  /** Ends the child: closing the IPC channel makes it exit; SIGKILL if it does not. */
  async stop() {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    if (child.connected) child.disconnect();
    const timer = setTimeout(() => this.kill(), 3000);
    await gone;
    clearTimeout(timer);
  }
}
