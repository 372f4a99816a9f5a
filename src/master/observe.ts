/**
 * What the master shows the outside world about itself: --metrics-bind (Prometheus metrics and
 * health checks) and --statsd-host. The arbiter feeds it events and answers a few questions
 * (ArbiterView); nothing here changes what the arbiter does.
 */
import type { Config } from '../config/settings.js';
import { parseBindAddress, parseStatsdHost } from '../config/bind.js';
import type { Logger } from '../log.js';
import type { MasterMessage } from '../ipc/messages.js';
import { HealthServer, type Verdict } from './health.js';
import { MasterMetrics, readListenQueues, type MasterFacts, type RestartCause } from './metrics.js';
import { socketFd, type BoundSocket } from './sockets.js';
import { StatsdPusher } from './statsd.js';
import type { WorkerState } from './worker-state.js';

/** The arbiter's loop goes round at least once a second; this long without a turn means it is stuck. */
const LOOP_STALE_MS = 10_000;

export interface ArbiterView {
  /** When the arbiter's loop last went round (ms since the epoch). */
  loopAt(): number;
  workers(): Iterable<{ id: number; state: WorkerState; lastHeartbeat: number }>;
  /** Sends a message to a worker; false when it cannot be reached. */
  ask(workerId: number, msg: MasterMessage): boolean;
  /** A stop was asked for (queued or begun). */
  stopping(): boolean;
  config(): Config;
}

export class Observer {
  readonly metrics = new MasterMetrics();
  private health: HealthServer | null = null;
  private statsd: StatsdPusher | null = null;
  private timers: NodeJS.Timeout[] = [];
  private closed = false;

  private constructor(
    private readonly view: ArbiterView,
    private readonly sockets: readonly BoundSocket[],
    private readonly log: Logger,
  ) {}

  /** Null when neither --metrics-bind nor --statsd-host is set. */
  static async start(view: ArbiterView, sockets: readonly BoundSocket[], log: Logger, options: { upgrade: boolean }): Promise<Observer | null> {
    const config = view.config();
    if (config.metricsBind === null && config.statsdHost === null) return null;
    const observer = new Observer(view, sockets, log);
    if (config.metricsBind !== null) await observer.serve(config.metricsBind, options.upgrade);
    if (config.statsdHost !== null) {
      const { host, port } = parseStatsdHost(config.statsdHost);
      observer.statsd = new StatsdPusher(host, port, config.statsdPrefix);
      observer.every(1000, () => void observer.pushStatsd());
      log.info(`Pushing metrics to StatsD at ${host}:${port} every second`);
    }
    return observer;
  }

  private async serve(text: string, upgrade: boolean): Promise<void> {
    const address = parseBindAddress(text);
    if (address.kind !== 'tcp') return;
    const health = new HealthServer({ liveness: () => this.liveness(), readiness: () => this.readiness(), metrics: () => this.render() });
    this.health = health;
    const announce = (a: { host: string; port: number }): void =>
      this.log.info(`Metrics and health at: http://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port} (/metrics, /healthz, /readyz)`);
    try {
      announce(await health.listen(address.host, address.port, text));
    } catch (err) {
      // A new master of a USR2 upgrade shares the port with the old one until the old one exits.
      if (!upgrade) throw err;
      this.log.warn(`${(err as Error).message}; the old master still has it, retrying every second`);
      const retry = setInterval(() => {
        if (this.closed) return clearInterval(retry);
        health.listen(address.host, address.port, text).then(
          (a) => {
            clearInterval(retry);
            announce(a);
          },
          () => {},
        );
      }, 1000);
      retry.unref();
      this.timers.push(retry);
    }
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  // ---- events from the arbiter --------------------------------------------------------------

  workerExited(workerId: number, cause: RestartCause | null): void {
    this.metrics.workerExited(workerId, cause);
  }

  // ---- answers ------------------------------------------------------------------------------

  liveness(): Verdict {
    const now = Date.now();
    const stuck = now - this.view.loopAt();
    if (stuck > LOOP_STALE_MS) return { ok: false, why: `the master's loop has not run for ${(stuck / 1000).toFixed(1)}s` };
    const limit = this.view.config().timeout * 1000;
    let ready = 0;
    for (const w of this.view.workers()) {
      if (w.state !== 'ready') continue;
      ready++;
      if (limit <= 0 || now - w.lastHeartbeat <= limit) return { ok: true, why: '' };
    }
    return { ok: false, why: ready === 0 ? 'no worker is serving' : `no worker has sent a heartbeat within --timeout (${limit / 1000}s)` };
  }

  readiness(): Verdict {
    if (this.view.stopping()) return { ok: false, why: 'stopping: finishing the requests in flight' };
    for (const w of this.view.workers()) if (w.state === 'ready') return { ok: true, why: '' };
    return { ok: false, why: 'no worker is accepting connections yet' };
  }

  private facts(): MasterFacts {
    const workers = { booting: 0, ready: 0, draining: 0 };
    for (const w of this.view.workers()) if (w.state !== 'exited') workers[w.state]++;
    const queues = readListenQueues(this.sockets.map((s) => ({ url: s.url, fd: socketFd(s) })), this.view.config().backlog);
    return { workers, queues };
  }

  private async refresh(): Promise<void> {
    const ids = [...this.view.workers()].filter((w) => w.state !== 'exited').map((w) => w.id);
    await this.metrics.collect(ids, (id, msg) => this.view.ask(id, msg));
  }

  async render(): Promise<string> {
    await this.refresh();
    return this.metrics.render(this.facts());
  }

  private async pushStatsd(): Promise<void> {
    const statsd = this.statsd;
    if (statsd === null) return;
    const facts = this.facts();
    const backlog = facts.queues.reduce((n, q) => n + q.queued, 0);
    statsd.push(statsd.lines(this.metrics.aggregate(), this.metrics.takeSamples(), facts.workers.ready, backlog));
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.health?.close();
    if (this.statsd !== null) {
      void this.pushStatsd();
      this.statsd.close();
    }
  }
}

/** Which cause a replaced worker's `replace` reason names (the arbiter's words). */
export function restartCause(replace: string | null): RestartCause | null {
  if (replace === null) return null;
  if (replace === 'reload') return 'reload';
  if (replace.startsWith('max-requests')) return 'max-requests';
  if (replace.startsWith('memory')) return 'memory';
  return 'reload';
}
