/**
 * The worker process: resolves the configuration, loads the app, attaches to the sockets the
 * master bound, serves, reports a heartbeat, and stops when told to (gracefully: finish in-flight
 * requests; quickly: drop them).
 */
import cluster from 'node:cluster';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/settings.js';
import { createLogger, reopen, type Logger } from '../log.js';
import type { App, Environ } from '../gateway/types.js';
import { backgroundTasks } from '../gateway/interfaces/wait-until.js';
import { loadApp } from '../loader/load-app.js';
import { errorPageApp } from './error-page.js';
import { AccessLog } from './access-log.js';
import { LineBufferedErrors } from './error-stream.js';
import { isDescriptorShortage, Shortage } from './descriptors.js';
import { CurrentRequest } from './current-request.js';
import { Watchdog } from './watchdog.js';
import { installProcessPolicy } from './process-policy.js';
import { WorkerMetrics } from './metrics.js';
import { TsgiEngine } from '../engines/tsgi.js';
import { NodeEngine } from '../engines/node.js';
import { createRunner } from '../engines/runners.js';
import type { Runner } from '../engines/runner.js';
import type { Engine, EngineOptions, ListenHandle, RequestRecord } from '../engines/engine.js';
import { EXIT_APP_LOAD_ERROR, EXIT_BOOT_ERROR, EXIT_OK } from '../ipc/exit-codes.js';
import { WORKER_ENV, type MasterMessage, type SerializedError, type WorkerBootInfo, type WorkerInfo, type WorkerMessage } from '../ipc/messages.js';
import { stdSerializers } from 'pino';
import { runHook, runHookSync } from '../config/hooks.js';
import { dropPrivileges } from './privileges.js';
import { engineSettings } from './engine-settings.js';
import { connectionOptions, type ConnectionOptions } from './connection-options.js';

const ENGINES = { tsgi: TsgiEngine, node: NodeEngine } as const;

/**
 * A node app needs node:http's own IncomingMessage and ServerResponse, which node:http makes as it
 * parses: on --http tsgi it is served by the node engine's path (docs/interfaces.md has why).
 */
function engineFor(http: keyof typeof ENGINES, runner: Runner | null, log: Logger): keyof typeof ENGINES {
  if (http === 'tsgi' && runner?.interface === 'node') {
    log.info('a node app gets node:http request objects: serving it through the node engine (llhttp, with the tsgi parser\'s checks)');
    return 'node';
  }
  return http;
}

class Worker {
  private readonly handles: ListenHandle[] = [];
  private engine: Engine | null = null;
  private app: App | null = null;
  private stopping = false;
  private serving = false;
  private broken = false;
  private timers: NodeJS.Timeout[] = [];
  private requests = 0;
  private readonly maxRequests: number;
  private recycleAsked = false;
  private readonly info: WorkerInfo;
  private readonly accessLog: AccessLog | null;
  /** environ['tsgi.errors'], shared by every request of this worker. */
  private readonly errors: LineBufferedErrors;
  private shortage: Shortage | null = null;
  /** The request last handed to the app, for the watchdog (with --timeout) and crash reports. */
  private readonly current: CurrentRequest | null;
  private watchdog: Watchdog | null = null;
  private readonly metrics: WorkerMetrics | null;

  constructor(
    private readonly boot: WorkerBootInfo,
    private readonly config: Config,
    private readonly log: Logger,
    private readonly reopenLogs: () => void,
  ) {
    // Gunicorn's rule: each worker draws its own limit so restarts do not come all at once.
    this.maxRequests = config.maxRequests > 0 ? config.maxRequests + Math.floor(Math.random() * (config.maxRequestsJitter + 1)) : 0;
    this.info = { id: cluster.worker!.id, pid: process.pid, age: boot.age, generation: boot.generation };
    this.accessLog = config.accessLog === null ? null : new AccessLog({ path: config.accessLog, format: config.accessLogFormat, json: config.accessLogJson });
    this.metrics =
      config.metricsBind === null && config.statsdHost === null
        ? null
        : new WorkerMetrics((msg, done) => (process.connected ? process.send!(msg, undefined, undefined, done) : done?.()), { sampleDurations: config.statsdHost !== null });
    this.errors = new LineBufferedErrors(log);
    this.current = config.timeout > 0 ? new CurrentRequest() : null;
  }

  async start(early: EarlyMessages): Promise<void> {
    early.deliverTo((msg, handle) => this.onMessage(msg, handle));
    process.on('SIGTERM', () => void this.stop(true));
    process.on('SIGINT', () => void this.interrupt());
    process.on('SIGQUIT', () => void this.interrupt());
    // Node starts its inspector on SIGUSR1 unless the signal has a handler; log reopening comes
    // from the master over IPC instead, so the signal is only absorbed here.
    process.on('SIGUSR1', () => {});
    // These are the master's signals. A worker that got one too (pkill, a closing terminal) must
    // not die of the default action (SIGHUP/SIGUSR2 terminate, SIGTTIN/SIGTTOU stop the process).
    for (const sig of ['SIGHUP', 'SIGUSR2', 'SIGTTIN', 'SIGTTOU'] as const) process.on(sig, () => {});
    process.title = `tsgi: worker [${this.config.name ?? this.boot.app}]`;
    installProcessPolicy({
      log: this.log,
      current: () => this.current,
      continuing: 'the worker goes on serving',
      retiring: 'this worker is retiring: a replacement starts, the requests in flight finish (bounded by --graceful-timeout)',
      onUncaught: () => this.retire('uncaught exception'),
    });
    await runHook(this.config, 'postFork', this.log, null, this.info);
    let connections: ConnectionOptions;
    try {
      connections = await connectionOptions(this.config, process.cwd());
      dropPrivileges(this.config);
    } catch (err) {
      this.log.fatal((err as Error).message);
      this.exit(EXIT_BOOT_ERROR);
      return;
    }

    let app: App;
    let runner: Runner | null = null;
    try {
      const loaded = await loadApp(this.boot.app, process.cwd(), { interface: this.config.interface });
      this.log.info(`serving ${this.boot.app} as a ${loaded.interface} app (${loaded.reason})`);
      app = loaded.app;
      // A fetch or node app is called by its own runner, without a TSGI round trip (docs/interfaces.md).
      runner = createRunner(loaded, this.log);
    } catch (err) {
      const fallback = this.boot.fallbackOnLoadError;
      await this.reportLoadFailure(err, fallback);
      if (!fallback) {
        this.exit(EXIT_APP_LOAD_ERROR);
        return;
      }
      // --reload with nothing working yet: keep serving, show the error, wait for a fix.
      app = errorPageApp(err);
      this.broken = true;
    }
    this.app = app;
    const config = this.config;
    const options: EngineOptions = {
      app,
      ...(runner !== null ? { runner } : {}),
      ...this.beforeApp(),
      log: this.log,
      // spec §3.6: a reload overlap, TTIN or USR2 can always run another copy of the app.
      server: { scriptName: config.rootPath, multiprocess: true, errors: this.errors },
      ...engineSettings(config),
      ...connections,
      onRequestStart: this.current !== null ? (method, target) => this.requestStarted(method, target) : undefined,
      onRequestDone:
        this.maxRequests > 0 || config.postRequest !== null || this.accessLog !== null || this.metrics !== null ? (record) => this.requestDone(record) : undefined,
    };
    this.engine = new ENGINES[engineFor(config.http, runner, this.log)](options);
    await runHook(config, 'postWorkerInit', this.log, this.info);
    this.send({ type: 'booted' });
  }

  /** To the master, which logs it once for all the workers that fail alike; here if there is no master to tell. */
  private async reportLoadFailure(err: unknown, fallback: boolean): Promise<void> {
    const error = err instanceof Error ? err : new Error(String(err));
    const message = error.message;
    if (!process.connected) {
      this.log.error({ err: error }, `could not load the app: ${message}`);
      return;
    }
    const msg: WorkerMessage = { type: 'load-failed', message, err: stdSerializers.err(error) as SerializedError, fallback };
    await new Promise<void>((resolve) => process.send!(msg, undefined, {}, () => resolve()));
  }

  /** The preRequest hook, when configured, called with the environ just before the app (any interface). */
  private beforeApp(): Pick<EngineOptions, 'beforeApp'> {
    if (this.config.preRequest === null) return {};
    const beforeApp = (environ: Environ): void => {
      runHookSync(this.config, 'preRequest', this.log, this.info, environ);
    };
    return { beforeApp };
  }

  /**
   * A request is handed to the app: recorded where the watchdog thread can read it if the app
   * then blocks the event loop (EngineOptions.onRequestStart).
   */
  private requestStarted(method: string, target: string): void {
    this.current?.record(method, target, Date.now());
  }

  /**
   * After an uncaught exception: the master replaces this worker at once (with its crash
   * backoff), and the worker finishes what it has, bounded by --graceful-timeout, taking nothing
   * new. Before it serves there is nothing to finish, and it counts as a failed boot.
   */
  private retire(reason: string): void {
    if (!this.serving) {
      this.exit(EXIT_BOOT_ERROR);
      return;
    }
    this.send({ type: 'retiring', reason });
    void this.stop(true);
  }

  private requestDone(record: RequestRecord): void {
    const { environ, status } = record;
    this.accessLog?.write(record);
    this.metrics?.counters.record(record);
    if (this.config.postRequest !== null) runHookSync(this.config, 'postRequest', this.log, this.info, environ, status);
    this.requests++;
    if (this.maxRequests > 0 && this.requests >= this.maxRequests && !this.recycleAsked) {
      this.recycleAsked = true;
      this.log.info(`served ${this.requests} requests (max-requests ${this.maxRequests}); asking to be replaced`);
      this.send({ type: 'recycle', reason: `max-requests (${this.maxRequests})` });
    }
  }

  private onMessage(msg: MasterMessage, handle?: ListenHandle): void {
    if (msg.type === 'listen') {
      this.handles[msg.index] = handle!;
      if (this.handles.filter(Boolean).length === msg.total) void this.serve();
    } else if (msg.type === 'stop') {
      void this.stop(msg.graceful);
    } else if (msg.type === 'reopen-logs') {
      this.reopenLogs();
      this.accessLog?.reopen();
      this.log.info('reopened log files');
    } else if (msg.type === 'metrics-request') {
      this.metrics?.report(msg.id);
    }
  }

  private async serve(): Promise<void> {
    const engine = this.engine;
    if (this.serving || this.stopping || engine === null) return;
    this.serving = true;
    try {
      for (const handle of this.handles) await engine.listen(handle);
    } catch (err) {
      this.log.fatal({ err }, `could not listen on the sockets from the master: ${(err as Error).message}`);
      this.exit(EXIT_BOOT_ERROR);
      return;
    }
    this.send({ type: 'ready', broken: this.broken });
    this.metrics?.start(engine);
    const config = this.config;
    this.shortage = new Shortage(this.log, () => engine.connections);
    // Heartbeats carry the memory use too, so they run even with --timeout 0 (the master then
    // only ignores their timing); at least once a second, four times per --timeout.
    const beat = config.timeout > 0 ? Math.min(1000, (config.timeout * 1000) / 4) : 1000;
    this.every(beat, 'heartbeat', () => {
      this.heartbeat(engine);
    });
    this.heartbeat(engine);
    if (this.current !== null) this.watchdog = new Watchdog(this.current, beat, this.log);
  }

  /** Sent from the event loop: a loop blocked by synchronous work goes silent. */
  private heartbeat(engine: Engine, now = Date.now()): void {
    this.current?.tick(now);
    const rss = this.shortage?.sample(now) ?? 0;
    this.send({ type: 'heartbeat', rss, requests: this.requests, serving: engine.inFlight().slice(0, 5) });
  }

  /**
   * A periodic task of the worker. Nothing thrown from it may end the process (it would drop every
   * request on it): a shortage of descriptors is reported as such, anything else once until the
   * task succeeds again.
   */
  private every(ms: number, name: string, fn: () => void): void {
    let failing = false;
    const t = setInterval(() => {
      try {
        fn();
        failing = false;
      } catch (err) {
        if (isDescriptorShortage(err)) this.shortage?.begin(Date.now(), err as NodeJS.ErrnoException);
        else if (!failing) this.log.error({ err }, `the worker's ${name} failed: ${(err as Error)?.message ?? String(err)}; the worker goes on`);
        failing = true;
      }
    }, ms);
    t.unref();
    this.timers.push(t);
  }

  private async interrupt(): Promise<void> {
    await runHook(this.config, 'workerInt', this.log, this.info);
    await this.stop(false);
  }

  /** Graceful: stop accepting, finish in-flight work (bounded), close the app, exit. */
  async stop(graceful: boolean): Promise<void> {
    if (this.stopping && graceful) return;
    this.stopping = true;
    this.watchdog?.stop();
    for (const t of this.timers) clearInterval(t);
    const engine = this.engine;
    if (!graceful || engine === null) {
      engine?.destroy();
      await this.exitWithHook(EXIT_OK);
      return;
    }
    const force = setTimeout(() => {
      this.log.warn(
        { open: engine.connections, tasks: backgroundTasks.size },
        `graceful timeout (${this.config.gracefulTimeout}s) reached; closing the remaining connections and abandoning unfinished waitUntil() tasks`,
      );
      engine.destroy();
      void this.exitWithHook(EXIT_OK);
    }, this.config.gracefulTimeout * 1000);
    force.unref();
    await engine.drain();
    // Work fetch apps handed to ctx.waitUntil() finishes too, within the same graceful timeout.
    if (backgroundTasks.size > 0) {
      this.log.info({ tasks: backgroundTasks.size }, 'waiting for waitUntil() tasks to finish');
      await backgroundTasks.settled();
    }
    await this.closeApp();
    clearTimeout(force);
    await this.exitWithHook(EXIT_OK);
  }

  private async closeApp(): Promise<void> {
    const close = this.app?.close;
    if (typeof close !== 'function') return;
    try {
      await close.call(this.app);
    } catch (err) {
      this.log.error({ err }, 'app.close() raised during shutdown');
    }
  }

  private async exitWithHook(code: number): Promise<void> {
    await runHook(this.config, 'workerExit', this.log, null, this.info);
    await this.metrics?.final();
    this.exit(code);
  }

  private send(msg: WorkerMessage): void {
    if (process.connected) process.send!(msg);
  }

  private exit(code: number): void {
    this.errors.flush();
    this.accessLog?.flush();
    process.exit(code);
  }
}

/**
 * Messages from the master can arrive while the worker is still reading its configuration; they
 * are held here from the first line of main() until the worker can act on them.
 */
class EarlyMessages {
  private held: [MasterMessage, ListenHandle | undefined][] = [];
  private handler: ((msg: MasterMessage, handle?: ListenHandle) => void) | null = null;

  constructor() {
    process.on('message', (msg: MasterMessage, handle?: ListenHandle) => {
      if (this.handler !== null) this.handler(msg, handle);
      else this.held.push([msg, handle]);
    });
  }

  deliverTo(handler: (msg: MasterMessage, handle?: ListenHandle) => void): void {
    this.handler = handler;
    for (const [msg, handle] of this.held) handler(msg, handle);
    this.held = [];
  }
}

async function main(): Promise<void> {
  const early = new EarlyMessages();
  const raw = process.env[WORKER_ENV];
  if (raw === undefined || !cluster.isWorker) {
    process.stderr.write('tsgi: this module is the worker entry point; start tsgi with the tsgi command\n');
    process.exit(EXIT_BOOT_ERROR);
  }
  const boot = JSON.parse(raw) as WorkerBootInfo;
  // The app's environment, and what it passes to its own children, is the user's, not tsgi's.
  delete process.env[WORKER_ENV];
  let config: Config;
  try {
    // The same sources as the master, so hooks (functions) come from the config file itself.
    config = (await loadConfig(boot.argv, process.env, boot.startCwd)).config;
  } catch (err) {
    process.stderr.write(`tsgi: worker could not read the configuration: ${(err as Error).message}\n`);
    process.exit(EXIT_BOOT_ERROR);
  }
  const { log, destination } = createLogger({
    level: config.logLevel,
    format: config.logFormat,
    errorLog: config.errorLog,
    role: 'worker',
    workerId: cluster.worker!.id,
  });
  await new Worker(boot, config, log, () => reopen(config.errorLog, destination)).start(early);
}

void main();
