/**
 * The worker process: loads the app, attaches to the sockets the master bound, serves, and stops
 * when told to (gracefully: finish in-flight requests; quickly: drop them).
 */
import cluster from 'node:cluster';
import type { Config } from '../config/settings.js';
import { parserLimits } from '../config/limits.js';
import { createLogger, type Logger } from '../log.js';
import type { App, ErrorStream } from '../gateway/types.js';
import { loadApp } from './load-app.js';
import { TsgiEngine } from '../engines/tsgi.js';
import { NodeEngine } from '../engines/node.js';
import type { Engine, EngineOptions, ListenHandle } from '../engines/engine.js';
import { EXIT_APP_LOAD_ERROR, EXIT_BOOT_ERROR, EXIT_OK } from './lifecycle.js';
import { WORKER_ENV, type MasterMessage, type WorkerBootInfo, type WorkerMessage } from './messages.js';

const ENGINES = { tsgi: TsgiEngine, node: NodeEngine } as const;

class Worker {
  private readonly handles: ListenHandle[] = [];
  private engine: Engine | null = null;
  private app: App | null = null;
  private stopping = false;
  private serving = false;
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(
    private readonly boot: WorkerBootInfo,
    private readonly config: Config,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    process.on('message', (msg: MasterMessage, handle?: ListenHandle) => this.onMessage(msg, handle));
    process.on('SIGTERM', () => void this.stop(true));
    process.on('SIGINT', () => void this.stop(false));
    process.on('SIGQUIT', () => void this.stop(false));
    // Node starts its inspector on SIGUSR1 unless the signal has a handler; the master sends
    // log reopening over IPC instead, so the signal is just absorbed here.
    process.on('SIGUSR1', () => {});
    process.title = `tsgi: worker [${this.config.name ?? this.boot.app}]`;

    let app: App;
    try {
      app = (await loadApp(this.boot.app, this.boot.cwd)).app;
      this.app = app;
    } catch (err) {
      this.log.fatal({ err }, `could not load the app: ${(err as Error).message}`);
      this.exit(EXIT_APP_LOAD_ERROR);
      return;
    }
    const options: EngineOptions = {
      app,
      log: this.log,
      server: { scriptName: process.env.SCRIPT_NAME ?? '', multiprocess: this.config.workers > 1, errors: errorStream(this.log) },
      limits: parserLimits(this.config),
      keepalive: this.config.keepalive,
      backlog: this.config.backlog,
    };
    this.engine = new ENGINES[this.config.http](options);
    this.send({ type: 'booted' });
  }

  private onMessage(msg: MasterMessage, handle?: ListenHandle): void {
    if (msg.type === 'listen') {
      this.handles[msg.index] = handle!;
      if (this.handles.filter(Boolean).length === msg.total) void this.serve();
    } else if (msg.type === 'stop') {
      void this.stop(msg.graceful);
    }
  }

  private async serve(): Promise<void> {
    if (this.serving || this.stopping || this.engine === null) return;
    this.serving = true;
    try {
      for (const handle of this.handles) await this.engine.listen(handle);
    } catch (err) {
      this.log.fatal({ err }, `could not listen on the sockets from the master: ${(err as Error).message}`);
      this.exit(EXIT_BOOT_ERROR);
      return;
    }
    this.send({ type: 'ready' });
    if (this.config.timeout > 0) {
      const every = Math.min(1000, (this.config.timeout * 1000) / 4);
      this.heartbeat = setInterval(() => this.send({ type: 'heartbeat' }), every);
      this.heartbeat.unref();
    }
  }

  /** Graceful: stop accepting, finish in-flight work (bounded), close the app, exit. */
  async stop(graceful: boolean): Promise<void> {
    if (this.stopping && graceful) return;
    this.stopping = true;
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    const engine = this.engine;
    if (!graceful || engine === null) {
      engine?.destroy();
      this.exit(EXIT_OK);
      return;
    }
    const limit = this.config.gracefulTimeout * 1000;
    const force = setTimeout(() => {
      this.log.warn({ open: engine.connections }, `graceful timeout (${this.config.gracefulTimeout}s) reached; closing the remaining connections`);
      engine.destroy();
      this.exit(EXIT_OK);
    }, limit);
    force.unref();
    await engine.drain();
    await this.closeApp();
    clearTimeout(force);
    this.exit(EXIT_OK);
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

  private send(msg: WorkerMessage): void {
    if (process.connected) process.send!(msg);
  }

  private exit(code: number): void {
    process.exit(code);
  }
}

function errorStream(log: Logger): ErrorStream {
  return {
    write(message: string): void {
      const text = message.trimEnd();
      if (text !== '') log.error(text);
    },
    flush(): void {},
  };
}

async function main(): Promise<void> {
  const raw = process.env[WORKER_ENV];
  if (raw === undefined || !cluster.isWorker) {
    process.stderr.write('tsgi: this module is the worker entry point; start tsgi with the tsgi command\n');
    process.exit(EXIT_BOOT_ERROR);
  }
  const boot = JSON.parse(raw) as WorkerBootInfo;
  const config = boot.config as unknown as Config;
  const { log } = createLogger({
    level: config.logLevel,
    format: config.logFormat,
    errorLog: config.errorLog,
    role: 'worker',
    workerId: cluster.worker!.id,
  });
  await new Worker(boot, config, log).start();
}

void main();
