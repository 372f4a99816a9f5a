/**
 * The master process (Gunicorn's arbiter): binds the sockets, forks workers with node:cluster,
 * keeps their number, replaces them in rolling batches, and acts on signals.
 *
 * Signal handlers only enqueue the signal; the loop in run() dispatches each one to the handler
 * named after it (handleHUP, handleTTIN, ...), so no work runs inside a signal handler and signals
 * are handled one at a time, in order. Every tick the loop also checks heartbeats and makes the
 * worker set match what is wanted (manageWorkers).
 */
import cluster, { type Worker as ClusterWorker } from 'node:cluster';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config/load.js';
import { loadTls } from '../config/tls.js';
import type { Config } from '../config/settings.js';
import type { Logger } from '../log.js';
import { runHook } from '../config/hooks.js';
import { closeAll, LISTEN_FDS_ENV, openSockets, type BoundSocket } from './sockets.js';
import { moveAsideForUpgrade, removePidfile, writePidfile } from './pidfile.js';
import { transition, type WorkerState } from './worker-state.js';
import { EXIT_APP_LOAD_ERROR, EXIT_BOOT_ERROR } from '../ipc/exit-codes.js';
import {
  reviveError,
  WATCHDOG_FD,
  WORKER_ENV,
  type WatchdogReport,
  type MasterMessage,
  type WorkerBootInfo,
  type WorkerInfo,
  type WorkerMessage,
  type InFlightRequest,
} from '../ipc/messages.js';
import { Reloader } from './reloader.js';
import { socketOwner } from '../worker/privileges.js';
import { raiseOwnOpenFileLimit } from '../worker/descriptors.js';
import { installProcessPolicy } from '../worker/process-policy.js';
import { chownSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { Observer, restartCause } from './observe.js';
import { OrphanReaper } from './reaper.js';
import { parseAppSpec } from '../loader/spec.js';
import { resolveModulePath } from '../loader/resolve.js';
import { dirname, relative } from 'node:path';

const WORKER_ENTRY = fileURLToPath(new URL('../worker/main.js', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/tsgi.js', import.meta.url));

/** The signals the master acts on; each has a handler named handle<NAME>. */
const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGTTIN', 'SIGTTOU', 'SIGUSR1', 'SIGUSR2'] as const;
type Signal = (typeof SIGNALS)[number];
/** A reload asked for by something other than a signal (the file watcher). */
type QueueItem = Signal | { reload: string };

/** Longest pause between two crash respawns (they double from 100 ms). */
const MAX_BACKOFF_MS = 10_000;
/** A worker that lived this long before crashing starts the backoff over. */
const STABLE_MS = 30_000;

interface WorkerRecord {
  worker: ClusterWorker;
  pid: number;
  state: WorkerState;
  /** Increases with every fork; the oldest worker has the lowest age. */
  age: number;
  generation: number;
  forkedAt: number;
  readyAt: number;
  lastHeartbeat: number;
  /** Why this worker is to be replaced (reload, max-requests, memory), or null. */
  replace: string | null;
  /** It serves the load-error page (--reload with broken code). */
  broken: boolean;
  /** When it was told to stop (0 while serving). */
  retiredAt: number;
  aborted: boolean;
  serving: InFlightRequest[];
  /** What its watchdog reported since the last heartbeat: the event loop is stuck, in this request. */
  stalled: WatchdogReport | null;
}

export interface ArbiterOptions {
  config: Config;
  app: string;
  /** The command line, re-read on HUP and handed to workers and to an upgraded master. */
  argv: string[];
  /** The directory the command line is relative to. */
  startCwd: string;
  log: Logger;
  reopenLogs: () => void;
}

/** What master-side hooks receive as `server`. */
export interface ServerInfo {
  readonly pid: number;
  readonly config: Config;
  readonly workers: number;
  readonly log: Logger;
  reload(reason?: string): void;
}

export class Arbiter {
  private config: Config;
  private numWorkers: number;
  private sockets: BoundSocket[] = [];
  private readonly workers = new Map<number, WorkerRecord>();
  private readonly queue: QueueItem[] = [];
  private wake: (() => void) | null = null;
  private nextAge = 0;
  private generation = 0;
  /** Set once any worker has reported ready; until then a boot failure stops the master. */
  private everReady = false;
  private readyHookRun = false;
  private crashes = 0;
  private nextSpawnAt = 0;
  private stopping: 'graceful' | 'quick' | null = null;
  private exitCode = 0;
  private upgrade: ChildProcess | null = null;
  private pidfile: string | null = null;
  private reloader: Reloader | null = null;
  /** The app load error last logged; the same one from the next workers is not logged again. */
  private lastLoadError: string | null = null;
  /** --metrics-bind, --statsd-host */
  private observer: Observer | null = null;
  private loopAt = Date.now();
  private reloadInProgress = false;
  /** As PID 1: reaps orphans that are not workers. */
  private reaper: OrphanReaper | null = null;
  readonly server: ServerInfo;

  constructor(private readonly options: ArbiterOptions) {
    this.config = options.config;
    this.numWorkers = options.config.workers;
    const self = this;
    this.server = {
      pid: process.pid,
      get config() {
        return self.config;
      },
      get workers() {
        return self.numWorkers;
      },
      log: options.log,
      reload: (reason = 'requested by a hook') => self.reload(reason),
    };
  }

  private get log(): Logger {
    return this.options.log;
  }

  /** Asks for a rolling reload, as HUP does (used by the file watcher). */
  reload(reason: string): void {
    this.enqueue({ reload: reason });
  }

  /** Binds, forks, and runs until stopped; resolves with the process exit code. */
  async run(): Promise<number> {
    const config = this.config;
    process.title = `tsgi: master [${config.name ?? this.options.app}]`;
    installProcessPolicy({
      log: this.log,
      continuing: 'the master goes on',
      retiring: 'the master stops gracefully (exit code 1); its workers finish their requests',
      onUncaught: () => {
        if (this.exitCode === 0) this.exitCode = 1;
        this.stop(true);
        this.wake?.();
      },
    });
    await runHook(config, 'onStarting', this.log, this.server);
    // Before any worker is forked: they inherit it.
    raiseOwnOpenFileLimit(this.log);
    // The pid file first: a second tsgi given the same file stops before touching any socket.
    if (config.pid !== null) {
      writePidfile(config.pid);
      this.pidfile = config.pid;
    }
    const { sockets, source } = await this.openWithUmask();
    this.sockets = sockets;
    if (source === 'systemd') this.log.info(`Using ${sockets.length} socket(s) passed by systemd (LISTEN_FDS); --bind is not used`);
    this.observer = await Observer.start(
      {
        loopAt: () => this.loopAt,
        workers: () => [...this.workers.entries()].map(([id, r]) => ({ id, state: r.state, lastHeartbeat: r.lastHeartbeat })),
        ask: (id, msg) => {
          const r = this.workers.get(id);
          if (r === undefined || !r.worker.isConnected()) return false;
          this.sendTo(r.worker, msg);
          return true;
        },
        stopping: () => this.stopping !== null || this.queue.some((q) => q === 'SIGTERM' || q === 'SIGINT' || q === 'SIGQUIT'),
        config: () => this.config,
      },
      sockets,
      this.log,
      { upgrade: source === 'upgrade' },
    );
    // As Gunicorn: the URL says https when tsgi terminates TLS.
    for (const s of this.sockets) this.log.info(`Listening at: ${config.certfile !== null ? s.url.replace(/^http:/, 'https:') : s.url} (${process.pid})`);
    this.log.info(`Using engine: ${config.http}`);
    for (const sig of SIGNALS) process.on(sig, () => this.enqueue(sig));
    this.reaper = OrphanReaper.forPid1(this.log);
    // Standard streams shared with the master; fd 3 the IPC channel; WATCHDOG_FD a pipe for the
    // watchdog thread, which can report while the worker's event loop (and so IPC) is stuck.
    const stdio: ('inherit' | 'ipc' | 'pipe')[] = ['inherit', 'inherit', 'inherit', 'ipc'];
    stdio[WATCHDOG_FD] = 'pipe';
    cluster.setupPrimary({ exec: WORKER_ENTRY, args: [], stdio });
    cluster.on('message', (worker, msg: WorkerMessage) => this.onWorkerMessage(worker, msg));
    cluster.on('exit', (worker, code, signal) => this.onWorkerExit(worker, code, signal));
    this.manageWorkers();
    if (config.reload) await this.watch();

    while (!this.finished()) {
      this.loopAt = Date.now();
      await this.sleep();
      this.loopAt = Date.now();
      for (let item = this.queue.shift(); item !== undefined; item = this.queue.shift()) await this.dispatch(item);
      this.reaper?.tick(this.ownChildren());
      if (this.stopping === null) {
        this.murderUnresponsive();
        this.manageWorkers();
      }
    }
    await this.reloader?.close();
    this.observer?.close();
    if (this.upgrade === null || this.upgrade.exitCode !== null) closeAll(this.sockets);
    await runHook(this.config, 'onExit', this.log, this.server);
    if (this.pidfile !== null) removePidfile(this.pidfile);
    this.log.info('Shutting down: Master');
    return this.exitCode;
  }

  /**
   * --umask, as Gunicorn applies it: to the files tsgi creates itself, here its unix sockets, only
   * while they are created. The default 0 makes a socket connectable by any user (an Nginx as
   * www-data); the workers, and the files the app writes, keep the umask tsgi was started with.
   * With --user/--group the sockets are theirs, so a stricter umask still lets them in.
   */
  private async openWithUmask(): Promise<Awaited<ReturnType<typeof openSockets>>> {
    const inherited = process.umask(this.config.umask);
    let opened: Awaited<ReturnType<typeof openSockets>>;
    try {
      opened = await openSockets(this.config.bind);
    } finally {
      process.umask(inherited);
    }
    // Only the socket files created here; inherited ones (systemd, fd://, USR2) are someone else's.
    const owner = socketOwner(this.config);
    if (owner !== null) {
      for (const s of opened.sockets) if (s.owned && s.address.kind === 'unix') chownSync(s.address.path, owner.uid, owner.gid);
    }
    return opened;
  }

  /** --reload: one watcher, here in the master; a change is a reload like HUP. */
  private async watch(): Promise<void> {
    const config = this.config;
    let root = process.cwd();
    try {
      root = dirname(resolveModulePath(parseAppSpec(this.options.app).module, process.cwd()));
    } catch {
      // The app cannot be found yet; watch the working directory so that creating it is seen.
    }
    this.reloader = new Reloader(
      {
        root,
        extraFiles: config.reloadExtraFile,
        include: config.reloadInclude,
        exclude: config.reloadExclude,
        poll: config.reloadPoll,
        debounceMs: config.reloadDelay * 1000,
        log: this.log,
      },
      (changed) => {
        const names = changed.slice(0, 3).map((p) => relative(process.cwd(), p)).join(', ');
        this.reload(`${names}${changed.length > 3 ? ` and ${changed.length - 3} more` : ''} changed`);
      },
    );
    await this.reloader.start();
  }

  // ---- the loop ------------------------------------------------------------------------------

  private sleep(): Promise<void> {
    const wait = this.nextSpawnAt > Date.now() ? Math.min(1000, this.nextSpawnAt - Date.now()) : 1000;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, wait);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => {
      this.wake = null;
    });
  }

  private enqueue(item: QueueItem): void {
    this.queue.push(item);
    this.wake?.();
  }

  private async dispatch(item: QueueItem): Promise<void> {
    if (typeof item === 'object') {
      await this.startReload(item.reload);
      return;
    }
    const handlers: Record<Signal, () => void | Promise<void>> = {
      SIGTERM: () => this.handleTERM(),
      SIGINT: () => this.handleINT(),
      SIGQUIT: () => this.handleQUIT(),
      SIGHUP: () => this.handleHUP(),
      SIGTTIN: () => this.handleTTIN(),
      SIGTTOU: () => this.handleTTOU(),
      SIGUSR1: () => this.handleUSR1(),
      SIGUSR2: () => this.handleUSR2(),
    };
    await handlers[item]();
  }

  private finished(): boolean {
    return this.stopping !== null && this.workers.size === 0;
  }

  // ---- signal handlers -----------------------------------------------------------------------

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

  /**
   * HUP: re-read the configuration and replace every worker by a new generation, in batches of
   * --reload-batch. An old worker retires only once its replacement is ready; if the new
   * generation cannot boot, the old one keeps serving.
   */
  private async handleHUP(): Promise<void> {
    this.log.info('Handling signal: hup');
    await this.startReload('HUP');
  }

  /** TTIN: one worker more. */
  private handleTTIN(): void {
    this.log.info('Handling signal: ttin');
    this.setWorkerCount(this.numWorkers + 1);
  }

  /** TTOU: one worker fewer (the oldest retires gracefully); never fewer than one. */
  private handleTTOU(): void {
    this.log.info('Handling signal: ttou');
    if (this.numWorkers <= 1) {
      this.log.warn('TTOU ignored: tsgi keeps at least one worker');
      return;
    }
    this.setWorkerCount(this.numWorkers - 1);
  }

  /** USR1: reopen log files here and in every worker (over IPC: USR1 would start Node's inspector). */
  private handleUSR1(): void {
    this.log.info('Handling signal: usr1');
    this.options.reopenLogs();
    this.log.info('reopened log files');
    for (const record of this.workers.values()) this.sendTo(record.worker, { type: 'reopen-logs' });
  }

  /**
   * USR2: start a new master on the same listening sockets. This master and its workers keep
   * serving until it is sent TERM; TERM to the new master instead rolls the upgrade back.
   */
  private handleUSR2(): void {
    this.log.info('Handling signal: usr2');
    if (this.upgrade !== null && this.upgrade.exitCode === null) {
      this.log.warn(`USR2 ignored: the new master (pid ${this.upgrade.pid}) from the last upgrade is still running`);
      return;
    }
    const fds = this.sockets.map((s) => (s.handle as { fd: number }).fd);
    if (this.pidfile !== null) {
      try {
        this.pidfile = moveAsideForUpgrade(this.pidfile);
      } catch (err) {
        this.log.warn({ err }, 'could not move the pid file aside for the upgrade');
      }
    }
    const child = spawn(process.execPath, [...process.execArgv, BIN, ...this.options.argv], {
      cwd: this.options.startCwd,
      env: { ...process.env, [LISTEN_FDS_ENV]: String(fds.length) },
      // The sockets become fds 3, 4, ... of the new master, in --bind order.
      stdio: ['inherit', 'inherit', 'inherit', ...fds],
    });
    this.upgrade = child;
    child.once('exit', (code, signal) => {
      this.log.warn(`the new master (pid ${child.pid}) exited (${signal ?? `code ${code}`}); this master goes on serving`);
    });
    this.log.info(`Started a new master (pid ${child.pid}) on the same sockets; send TERM to this master (pid ${process.pid}) to complete the upgrade, or to the new one to roll back`);
  }

  // ---- what the loop maintains ---------------------------------------------------------------

  private stop(graceful: boolean): void {
    if (this.stopping === 'quick' || (this.stopping === 'graceful' && graceful)) return;
    this.stopping = graceful ? 'graceful' : 'quick';
    for (const record of this.workers.values()) this.retire(record, graceful);
    // Whatever is still alive past the limit is killed; a stop never hangs.
    const limit = graceful ? this.config.gracefulTimeout * 1000 + 2000 : 2000;
    setTimeout(() => {
      for (const record of this.workers.values()) {
        if (!record.worker.isDead()) {
          this.log.warn(`Worker (pid: ${record.pid}) did not stop in time; killing it`);
          record.worker.process.kill('SIGKILL');
        }
      }
    }, limit).unref();
  }

  private setWorkerCount(count: number): void {
    const old = this.numWorkers;
    this.numWorkers = count;
    this.log.info(`Number of workers: ${old} -> ${count}`);
    void runHook(this.config, 'nworkersChanged', this.log, this.server, count, old);
    this.manageWorkers();
  }

  private async startReload(reason: string): Promise<void> {
    if (this.stopping !== null) return;
    try {
      const loaded = await loadConfig(this.options.argv, process.env, this.options.startCwd);
      // A certificate or key that cannot be used (a renewal half done) keeps the running workers
      // serving the old one, as an app that fails to load does; the new workers read the files.
      for (const warning of loadTls(loaded.config, process.cwd())?.warnings ?? []) this.log.warn(warning);
      if (loaded.config.bind.join(' ') !== this.config.bind.join(' ')) {
        this.log.warn('the bind addresses changed; they take effect when tsgi is restarted, not on reload');
        loaded.config.bind = this.config.bind;
      }
      const oldCount = this.numWorkers;
      this.config = loaded.config;
      this.numWorkers = loaded.config.workers;
      if (oldCount !== this.numWorkers) void runHook(this.config, 'nworkersChanged', this.log, this.server, this.numWorkers, oldCount);
    } catch (err) {
      this.log.error(`Reload (${reason}) refused: the configuration has an error: ${(err as Error).message}; the running workers keep serving`);
      if (this.observer !== null) this.observer.metrics.reloads.failed++;
      return;
    }
    await runHook(this.config, 'onReload', this.log, this.server);
    this.generation++;
    // A new attempt: its failure is news even if it is the same as the last one.
    this.lastLoadError = null;
    let marked = 0;
    for (const record of this.workers.values()) {
      if ((record.state === 'booting' || record.state === 'ready') && record.replace === null) {
        record.replace = 'reload';
        marked++;
      }
    }
    this.log.info(`Reloading (${reason}): replacing ${marked} worker(s), ${this.config.reloadBatch} at a time`);
    this.reloadInProgress = true;
    this.manageWorkers();
  }

  /**
   * Makes the worker set match what is wanted, without ever taking more than --reload-batch
   * workers out of service: a worker marked for replacement retires only when a new one is ready
   * to take its place.
   */
  private manageWorkers(): void {
    if (this.stopping !== null) return;
    const current: WorkerRecord[] = [];
    const old: WorkerRecord[] = [];
    let booting = 0;
    for (const r of this.workers.values()) {
      if (r.state === 'ready') (r.replace === null ? current : old).push(r);
      else if (r.state === 'booting' && r.replace === null) booting++;
    }
    const byAge = (a: WorkerRecord, b: WorkerRecord): number => a.age - b.age;
    old.sort(byAge);
    current.sort(byAge);
    // Retire replaced workers as their successors become ready.
    let surplus = current.length + old.length - this.numWorkers;
    while (surplus > 0 && old.length > 0) {
      this.retire(old.shift()!, true);
      surplus--;
    }
    // TTOU: retire the oldest.
    while (current.length > this.numWorkers) this.retire(current.shift()!, true);
    this.noteReloadDone(booting);
    let missing = this.numWorkers - current.length - booting;
    // While old workers are still serving, replace them batch by batch.
    if (old.length > 0) missing = Math.min(missing, this.config.reloadBatch - booting);
    if (missing <= 0) return;
    if (Date.now() < this.nextSpawnAt) return;
    for (let i = 0; i < missing; i++) this.spawn();
  }

  /** The processes Node spawned (workers, a USR2 master): libuv reaps those itself. */
  private ownChildren(): Set<number> {
    const own = new Set<number>();
    for (const r of this.workers.values()) own.add(r.pid);
    if (this.upgrade?.pid !== undefined) own.add(this.upgrade.pid);
    return own;
  }

  /** A reload is done (for tsgi_reloads_total) once no worker it marked still serves and none boots. */
  private noteReloadDone(booting: number): void {
    if (!this.reloadInProgress || booting > 0) return;
    for (const r of this.workers.values()) if (r.replace === 'reload' && r.state === 'ready') return;
    this.reloadInProgress = false;
    if (this.observer !== null) this.observer.metrics.reloads.ok++;
  }

  private retire(record: WorkerRecord, graceful: boolean): void {
    if (record.state === 'exited') return;
    if (record.state !== 'draining') {
      record.state = transition(record.state, 'retire');
      record.retiredAt = Date.now();
      if (record.replace !== null && this.stopping === null) this.log.info(`Retiring worker (pid: ${record.pid}): ${record.replace}`);
    }
    this.sendTo(record.worker, { type: 'stop', graceful });
  }

  private spawn(): void {
    // With --reload and nothing working yet, a worker whose app does not load shows the error
    // instead of exiting; once a generation works, a broken one must not replace it.
    let working = false;
    for (const r of this.workers.values()) if (r.state === 'ready' && !r.broken) working = true;
    const age = this.nextAge++;
    const boot: WorkerBootInfo = {
      app: this.options.app,
      argv: this.options.argv,
      startCwd: this.options.startCwd,
      workers: this.numWorkers,
      age,
      generation: this.generation,
      fallbackOnLoadError: this.config.reload && !working,
    };
    void runHook(this.config, 'preFork', this.log, this.server, { age, generation: this.generation });
    const worker = cluster.fork({ [WORKER_ENV]: JSON.stringify(boot) });
    const now = Date.now();
    const record: WorkerRecord = {
      worker,
      pid: worker.process.pid!,
      state: 'booting',
      age,
      generation: this.generation,
      forkedAt: now,
      readyAt: 0,
      lastHeartbeat: now,
      replace: null,
      broken: false,
      retiredAt: 0,
      aborted: false,
      serving: [],
      stalled: null,
    };
    this.workers.set(worker.id, record);
    // A message sent as the worker exits fails with EPIPE, emitted later as an 'error' event: that
    // worker is going anyway, and its exit is handled; the event must not end the master.
    worker.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE' || err.code === 'ERR_IPC_CHANNEL_CLOSED') this.log.debug({ err }, `could not message worker ${record.pid}: it is exiting`);
      else this.log.warn({ err }, `worker ${record.pid}: ${err.message}`);
    });
    readWatchdog(worker, (report) => {
      record.stalled = report;
    });
    this.log.info(`Booting worker with pid: ${worker.process.pid}`);
  }

  /** Heartbeats: a worker silent past --timeout is aborted (SIGABRT, then SIGKILL) and replaced. */
  private murderUnresponsive(): void {
    const timeout = this.config.timeout * 1000;
    if (timeout <= 0) return;
    const now = Date.now();
    for (const r of this.workers.values()) {
      if (r.aborted) continue;
      // A retiring worker enforces --graceful-timeout itself, unless its event loop is blocked.
      if (r.state === 'draining' && now - r.retiredAt > this.config.gracefulTimeout * 1000 + 2000 && !r.worker.isDead()) {
        r.aborted = true;
        this.log.error(`Worker (pid: ${r.pid}) is still running ${this.config.gracefulTimeout}s after it was told to stop (its event loop is blocked); killing it`);
        r.worker.process.kill('SIGKILL');
        continue;
      }
      // Booting includes loading the app, which may legitimately take a while; allow 30 s at least.
      const limit = r.state === 'booting' ? Math.max(timeout, 30_000) : timeout;
      if ((r.state !== 'ready' && r.state !== 'booting') || now - r.lastHeartbeat <= limit) continue;
      r.aborted = true;
      if (this.observer !== null) this.observer.metrics.heartbeatsMissed++;
      const serving = describeServing(r, now);
      this.log.error(
        { workerPid: r.pid, serving: r.serving, stalled: r.stalled?.request ?? undefined },
        `WORKER TIMEOUT (pid: ${r.pid}): no heartbeat for ${((now - r.lastHeartbeat) / 1000).toFixed(1)}s (--timeout ${this.config.timeout}s, ${r.state}); ${serving}. Aborting it; a blocked event loop (synchronous work) is the usual cause`,
      );
      void runHook(this.config, 'workerAbort', this.log, this.workerInfo(r));
      r.worker.process.kill('SIGABRT');
      setTimeout(() => {
        if (!r.worker.isDead()) r.worker.process.kill('SIGKILL');
      }, 1000).unref();
    }
  }

  // ---- worker events -------------------------------------------------------------------------

  private onWorkerMessage(worker: ClusterWorker, msg: WorkerMessage): void {
    const record = this.workers.get(worker.id);
    if (record === undefined || typeof msg !== 'object' || msg === null) return;
    record.lastHeartbeat = Date.now();
    if (record.state === 'draining' && (msg.type === 'booted' || msg.type === 'ready')) {
      // Told to stop while it was still starting: tell it again now that it is listening.
      this.sendTo(worker, { type: 'stop', graceful: this.stopping !== 'quick' });
      return;
    }
    switch (msg.type) {
      case 'booted':
        this.sockets.forEach((s, index) => this.sendTo(worker, { type: 'listen', index, total: this.sockets.length }, s.handle));
        break;
      case 'ready':
        if (record.state === 'booting') record.state = transition(record.state, 'ready');
        record.readyAt = Date.now();
        record.broken = msg.broken;
        if (!msg.broken) this.lastLoadError = null;
        this.everReady = true;
        this.log.info(`Worker ready (pid: ${record.pid})${msg.broken ? ' serving the load error page' : ''}`);
        this.manageWorkers();
        this.maybeRunWhenReady();
        break;
      case 'heartbeat':
        record.serving = msg.serving;
        record.stalled = null;
        this.checkMemory(record, msg.rss);
        break;
      case 'metrics':
        this.observer?.metrics.update(worker.id, msg.id, msg.snapshot);
        break;
      case 'recycle':
        if (record.replace === null && record.state === 'ready') {
          record.replace = msg.reason;
          this.manageWorkers();
        }
        break;
      case 'retiring':
        if (record.state === 'ready' || record.state === 'booting') {
          record.replace = msg.reason;
          this.backOff(record);
          this.retire(record, true);
          this.manageWorkers();
        }
        break;
      case 'load-failed':
        this.logLoadFailure(record, msg);
        break;
    }
  }

  /** Once per distinct error: every worker of a generation fails to load the app the same way. */
  private logLoadFailure(record: WorkerRecord, msg: Extract<WorkerMessage, { type: 'load-failed' }>): void {
    if (msg.message === this.lastLoadError) {
      this.log.debug(`Worker (pid: ${record.pid}) could not load the app either (the same error)`);
      return;
    }
    this.lastLoadError = msg.message;
    const then = msg.fallback ? '; serving the error page until a change fixes it' : '';
    this.log.error({ err: reviveError(msg.err), workerPid: record.pid }, `could not load the app: ${msg.message}${then}`);
  }

  private maybeRunWhenReady(): void {
    if (this.readyHookRun) return;
    let ready = 0;
    for (const r of this.workers.values()) if (r.state === 'ready') ready++;
    if (ready < this.numWorkers) return;
    this.readyHookRun = true;
    void runHook(this.config, 'whenReady', this.log, this.server);
  }

  /** --max-worker-memory: replaced gracefully, like any recycle. */
  private checkMemory(record: WorkerRecord, rss: number): void {
    const limit = this.config.maxWorkerMemory;
    if (limit <= 0 || record.replace !== null || record.state !== 'ready') return;
    const mib = rss / (1024 * 1024);
    if (mib <= limit) return;
    record.replace = `memory (RSS ${mib.toFixed(0)} MiB > --max-worker-memory ${limit} MiB)`;
    this.log.warn(`Worker (pid: ${record.pid}) uses ${mib.toFixed(0)} MiB, over --max-worker-memory ${limit} MiB; replacing it`);
    this.manageWorkers();
  }

  private onWorkerExit(worker: ClusterWorker, code: number | null, signal: string | null): void {
    const record = this.workers.get(worker.id);
    if (record === undefined) return;
    const was = record.state;
    record.state = transition(record.state, 'exit');
    this.workers.delete(worker.id);
    this.observer?.workerExited(
      worker.id,
      this.stopping !== null ? null : was === 'draining' ? restartCause(record.replace) : record.aborted ? 'heartbeat-timeout' : 'crash',
    );
    void runHook(this.config, 'childExit', this.log, this.server, this.workerInfo(record));
    const how = signal !== null ? `signal ${signal}` : `code ${code}`;
    this.wake?.();
    if (this.stopping !== null || was === 'draining') {
      this.log.info(`Worker exiting (pid: ${record.pid})`);
      return;
    }
    if (was === 'booting' && !record.aborted && (code === EXIT_APP_LOAD_ERROR || code === EXIT_BOOT_ERROR)) {
      this.log.info(`Worker (pid: ${record.pid}) exited with code ${code} while booting`);
      this.bootFailed(record, code);
      return;
    }
    if (was === 'booting' && this.hasReplacementsPending()) {
      this.abortReload(`a new worker (pid: ${record.pid}) died while booting (${how})`);
      return;
    }
    // A crash at run time: replace it, backing off when crashes come in a row.
    this.log.error(`Worker (pid: ${record.pid}) exited unexpectedly (${how}); starting a new one${this.backOff(record)}`);
  }

  /**
   * A worker crashed (it died, or retires after an uncaught exception): its replacement waits a
   * pause that doubles with each crash in a row. Returns what the log line should add.
   */
  private backOff(record: WorkerRecord): string {
    const lived = record.readyAt === 0 ? 0 : Date.now() - record.readyAt;
    this.crashes = lived > STABLE_MS ? 1 : this.crashes + 1;
    const delay = Math.min(100 * 2 ** (this.crashes - 1), MAX_BACKOFF_MS);
    this.nextSpawnAt = Date.now() + delay;
    return this.crashes > 1 ? `; crash ${this.crashes} in a row, waiting ${(delay / 1000).toFixed(1)}s before the next` : '';
  }

  /** Exit codes 3 and 4: the worker could not start at all. */
  private bootFailed(record: WorkerRecord, code: number): void {
    const why = code === EXIT_APP_LOAD_ERROR ? 'the app failed to load' : 'the worker failed to boot';
    if (!this.everReady) {
      // Gunicorn's rule: what cannot boot now will not boot on retry; stop with its code rather
      // than fork in a loop.
      this.log.fatal(`Shutting down: ${why} (exit code ${code}); the worker's error is logged above`);
      this.exitCode = code;
      this.stop(false);
      return;
    }
    if (this.hasReplacementsPending()) {
      this.abortReload(`${why} in the new worker (pid: ${record.pid}); the error is logged above`);
      return;
    }
    this.crashes++;
    const delay = Math.min(100 * 2 ** (this.crashes - 1), MAX_BACKOFF_MS);
    this.nextSpawnAt = Date.now() + delay;
    this.log.error(`Worker (pid: ${record.pid}) could not start: ${why}; retrying in ${(delay / 1000).toFixed(1)}s`);
  }

  private hasReplacementsPending(): boolean {
    for (const r of this.workers.values()) if (r.replace !== null && r.state !== 'draining') return true;
    return false;
  }

  /**
   * The new generation cannot boot: the workers running keep serving, as they are. Its other
   * booting workers are stopped; one still booting from an earlier reload goes on, and once ready
   * it takes the place of the oldest worker as usual.
   */
  private abortReload(why: string): void {
    let kept = 0;
    for (const r of this.workers.values()) {
      if (r.replace !== null && r.state === 'ready') {
        r.replace = null;
        kept++;
      } else if (r.state === 'booting' && r.generation === this.generation) {
        this.retire(r, false);
      }
    }
    this.log.error(`Reload failed: ${why}. The ${kept} running worker(s) keep serving the previous code.`);
    this.reloadInProgress = false;
    if (this.observer !== null) this.observer.metrics.reloads.failed++;
  }

  private workerInfo(r: WorkerRecord): WorkerInfo {
    return { id: r.worker.id, pid: r.pid, age: r.age, generation: r.generation };
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

/** The requests of a worker that missed its heartbeat, for the WORKER TIMEOUT line. */
function describeServing(r: WorkerRecord, now: number): string {
  const shown = (method: string, target: string, ms: number): string => `${method} ${target} (${(ms / 1000).toFixed(1)}s)`;
  const stalled = r.stalled?.request ?? null;
  if (stalled !== null) {
    // Named by the watchdog: the request handed to the app when the event loop stopped.
    const others = r.serving.filter((s) => s.method !== stalled.method || s.target !== stalled.target);
    const also = others.length === 0 ? '' : `; also in flight at its last heartbeat: ${others.map((s) => shown(s.method, s.target, s.ms)).join(', ')}`;
    return `it was serving ${shown(stalled.method, stalled.target, now - stalled.startedAt)}${also}`;
  }
  return r.serving.length === 0 ? 'no request in flight at its last heartbeat' : `it was serving ${r.serving.map((s) => shown(s.method, s.target, s.ms)).join(', ')}`;
}

/** Lines from a worker's watchdog pipe (WATCHDOG_FD). */
function readWatchdog(worker: ClusterWorker, onReport: (report: WatchdogReport) => void): void {
  const pipe = worker.process.stdio[WATCHDOG_FD] as Readable | null | undefined;
  if (pipe === null || pipe === undefined) return;
  let partial = '';
  pipe.setEncoding('utf8');
  pipe.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      try {
        onReport(JSON.parse(line) as WatchdogReport);
      } catch {
        // Not a report; nothing else writes there.
      }
    }
  });
  pipe.on('error', () => {});
}
