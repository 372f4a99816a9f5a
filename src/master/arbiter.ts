/**
 * The master process (Gunicorn's arbiter): binds the sockets, forks workers with node:cluster,
 * keeps their number, and acts on signals. Signal handlers only enqueue the signal; the loop in
 * run() dispatches each one to the handler named after it, so no work ever runs inside a signal
 * handler and signals are handled one at a time, in order.
 */
import cluster, { type Worker as ClusterWorker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config/settings.js';
import type { Logger } from '../log.js';
import { bindAll, closeAll, type BoundSocket } from './sockets.js';
import { transition, type WorkerState, EXIT_APP_LOAD_ERROR, EXIT_BOOT_ERROR } from '../worker/lifecycle.js';
import { WORKER_ENV, type MasterMessage, type WorkerBootInfo, type WorkerMessage } from '../worker/messages.js';

const WORKER_ENTRY = fileURLToPath(new URL('../worker/main.js', import.meta.url));

/** The signals the master acts on; each maps to a method named handle<SIGNAL>. */
const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const;
type Signal = (typeof SIGNALS)[number];

interface WorkerRecord {
  worker: ClusterWorker;
  state: WorkerState;
  /** Increases with every fork; the oldest worker has the lowest age. */
  age: number;
  lastHeartbeat: number;
}

export class Arbiter {
  private sockets: BoundSocket[] = [];
  private readonly workers = new Map<number, WorkerRecord>();
  private readonly signalQueue: Signal[] = [];
  private wake: (() => void) | null = null;
  private nextAge = 0;
  /** Set once any worker has reported ready; until then a boot failure stops the master. */
  private everReady = false;
  private stopping: 'graceful' | 'quick' | null = null;
  private exitCode = 0;

  constructor(
    private readonly config: Config,
    private readonly app: string,
    private readonly log: Logger,
  ) {}

  /** Binds, forks, and runs until stopped; resolves with the process exit code. */
  async run(): Promise<number> {
    process.title = `tsgi: master [${this.config.name ?? this.app}]`;
    this.sockets = await bindAll(this.config.bind);
    for (const s of this.sockets) this.log.info(`Listening at: ${s.url} (${process.pid})`);
    this.log.info(`Using engine: ${this.config.http}`);
    for (const sig of SIGNALS) process.on(sig, () => this.enqueue(sig));
    cluster.setupPrimary({ exec: WORKER_ENTRY, args: [], silent: false });
    cluster.on('message', (worker, msg: WorkerMessage, handle) => this.onWorkerMessage(worker, msg, handle));
    cluster.on('exit', (worker, code, signal) => this.onWorkerExit(worker, code, signal));
    this.manageWorkers();

    while (!this.finished()) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 1000).unref();
      });
      this.wake = null;
      for (let sig = this.signalQueue.shift(); sig !== undefined; sig = this.signalQueue.shift()) this.dispatch(sig);
      if (this.stopping === null) this.manageWorkers();
    }
    closeAll(this.sockets);
    this.log.info('Shutting down: Master');
    return this.exitCode;
  }

  private enqueue(sig: Signal): void {
    this.signalQueue.push(sig);
    this.wake?.();
  }

  private dispatch(sig: Signal): void {
    const handlers: Record<Signal, () => void> = {
      SIGTERM: () => this.handleTERM(),
      SIGINT: () => this.handleINT(),
      SIGQUIT: () => this.handleQUIT(),
    };
    handlers[sig]();
  }

  /** TERM: graceful stop. Workers finish in-flight requests, bounded by --graceful-timeout. */
  private handleTERM(): void {
    this.log.info('Handling signal: term');
    this.stop(true);
  }

  /** INT: quick stop. */
  private handleINT(): void {
    this.log.info('Handling signal: int');
    this.stop(false);
  }

  /** QUIT: quick stop, as INT. */
  private handleQUIT(): void {
    this.log.info('Handling signal: quit');
    this.stop(false);
  }

  private stop(graceful: boolean): void {
    if (this.stopping === 'quick' || (this.stopping === 'graceful' && graceful)) return;
    this.stopping = graceful ? 'graceful' : 'quick';
    for (const record of this.workers.values()) {
      if (record.state !== 'exited') record.state = transition(record.state, 'retire');
      this.sendTo(record.worker, { type: 'stop', graceful });
    }
    // Whatever is still alive past the limit is killed; a stop never hangs.
    const limit = graceful ? this.config.gracefulTimeout * 1000 + 2000 : 2000;
    setTimeout(() => {
      for (const record of this.workers.values()) {
        if (!record.worker.isDead()) {
          this.log.warn(`worker ${record.worker.process.pid} did not stop in time; killing it`);
          record.worker.process.kill('SIGKILL');
        }
      }
    }, limit).unref();
  }

  private finished(): boolean {
    return this.stopping !== null && this.workers.size === 0;
  }

  /** Forks workers until there are as many serving or booting as configured. */
  private manageWorkers(): void {
    let live = 0;
    for (const record of this.workers.values()) if (record.state === 'booting' || record.state === 'ready') live++;
    for (; live < this.config.workers; live++) this.spawn();
  }

  private spawn(): void {
    const boot: WorkerBootInfo = {
      app: this.app,
      cwd: process.cwd(),
      config: this.config as unknown as Record<string, unknown>,
      sockets: this.sockets.length,
    };
    const worker = cluster.fork({ [WORKER_ENV]: JSON.stringify(boot) });
    this.workers.set(worker.id, { worker, state: 'booting', age: this.nextAge++, lastHeartbeat: Date.now() });
    this.log.info(`Booting worker with pid: ${worker.process.pid}`);
  }

  private onWorkerMessage(worker: ClusterWorker, msg: WorkerMessage, _handle: unknown): void {
    const record = this.workers.get(worker.id);
    if (record === undefined || typeof msg !== 'object' || msg === null) return;
    record.lastHeartbeat = Date.now();
    if (msg.type === 'booted') {
      this.sockets.forEach((s, index) => this.sendTo(worker, { type: 'listen', index, total: this.sockets.length }, s.handle));
    } else if (msg.type === 'ready') {
      if (record.state === 'booting') record.state = transition(record.state, 'ready');
      this.everReady = true;
      this.log.info(`Worker ready (pid: ${worker.process.pid})`);
    }
  }

  private onWorkerExit(worker: ClusterWorker, code: number | null, signal: string | null): void {
    const record = this.workers.get(worker.id);
    if (record === undefined) return;
    const was = record.state;
    record.state = transition(record.state, 'exit');
    this.workers.delete(worker.id);
    const pid = worker.process.pid;
    if (this.stopping !== null) {
      this.log.info(`Worker exiting (pid: ${pid})`);
      this.wake?.();
      return;
    }
    if (was === 'booting' && !this.everReady && (code === EXIT_APP_LOAD_ERROR || code === EXIT_BOOT_ERROR)) {
      // Gunicorn's rule: a worker that cannot even boot will not boot on retry either; stop
      // with its code rather than fork in a loop.
      const why = code === EXIT_APP_LOAD_ERROR ? 'App failed to load' : 'Worker failed to boot';
      this.log.fatal(`${why}; shutting down (exit code ${code}). The worker's error is logged above.`);
      this.exitCode = code;
      this.stop(false);
      this.wake?.();
      return;
    }
    this.log.error(`Worker (pid: ${pid}) exited unexpectedly (${signal !== null ? `signal ${signal}` : `code ${code}`}); starting a new one`);
    this.wake?.();
  }

  private sendTo(worker: ClusterWorker, msg: MasterMessage, handle?: object): void {
    if (!worker.isConnected()) return;
    try {
      if (handle === undefined) worker.send(msg);
      else worker.send(msg, handle as never);
    } catch (err) {
      this.log.warn({ err }, `could not message worker ${worker.process.pid}`);
    }
  }
}
