/**
 * The master's side of --metrics-bind and --statsd-host: every worker's counters added up, plus
 * what only the master knows (workers by state, restarts by cause, reloads, missed heartbeats,
 * the listen queues), rendered as Prometheus text (exposition format 0.0.4).
 *
 * A counter never goes backwards: when a worker exits, the last counts it reported move into
 * `retired` and stay in every total. (prom-client's AggregatorRegistry asks the live workers only,
 * so a replaced worker's requests vanish from the totals and rates show a reset.) A worker killed
 * without warning loses at most what it counted since its last report, a second at most.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { DURATION_BUCKETS_S, METRIC_METHODS, METRIC_OUTCOMES, type MetricsSnapshot } from '../ipc/messages.js';
import type { WorkerState } from './worker-state.js';

/** Why a worker was replaced (tsgi_worker_restarts_total{cause}). */
export const RESTART_CAUSES = ['crash', 'heartbeat-timeout', 'max-requests', 'memory', 'reload'] as const;
export type RestartCause = (typeof RESTART_CAUSES)[number];

/** The counters of one or more workers, summed. */
interface Counters {
  /** `${methodIndex},${status}` → count */
  requests: Map<string, number>;
  durationBuckets: number[];
  durationSumS: number;
  outcomes: number[];
  bytesIn: number;
  bytesOut: number;
}

function emptyCounters(): Counters {
  return {
    requests: new Map(),
    durationBuckets: new Array<number>(DURATION_BUCKETS_S.length + 1).fill(0),
    durationSumS: 0,
    outcomes: new Array<number>(METRIC_OUTCOMES.length).fill(0),
    bytesIn: 0,
    bytesOut: 0,
  };
}

function addInto(into: Counters, s: MetricsSnapshot): void {
  for (const [m, status, n] of s.requests) {
    const key = `${m},${status}`;
    into.requests.set(key, (into.requests.get(key) ?? 0) + n);
  }
  s.durationBuckets.forEach((n, i) => (into.durationBuckets[i] = (into.durationBuckets[i] ?? 0) + n));
  into.durationSumS += s.durationSumS;
  s.outcomes.forEach((n, i) => (into.outcomes[i] = (into.outcomes[i] ?? 0) + n));
  into.bytesIn += s.bytesIn;
  into.bytesOut += s.bytesOut;
}

function mergeCounters(into: Counters, from: Counters): void {
  for (const [key, n] of from.requests) into.requests.set(key, (into.requests.get(key) ?? 0) + n);
  from.durationBuckets.forEach((n, i) => (into.durationBuckets[i] = (into.durationBuckets[i] ?? 0) + n));
  into.durationSumS += from.durationSumS;
  from.outcomes.forEach((n, i) => (into.outcomes[i] = (into.outcomes[i] ?? 0) + n));
  into.bytesIn += from.bytesIn;
  into.bytesOut += from.bytesOut;
}

/** One listening socket's accept queue, read from /proc (Linux; TCP only). */
export interface ListenQueue {
  listener: string;
  /** Connections the kernel accepted that no worker has taken yet. */
  queued: number;
  /** The queue's limit: min(--backlog, net.core.somaxconn). */
  max: number;
}

/** Totals as a scrape or a StatsD flush sees them. */
export interface Aggregate extends Counters {
  connections: number;
  inFlight: number;
  samples: { ms: number[]; of: number };
}

export interface MasterFacts {
  workers: Record<Exclude<WorkerState, 'exited'>, number>;
  queues: ListenQueue[];
}

export class MasterMetrics {
  private readonly live = new Map<number, MetricsSnapshot>();
  private readonly retired = emptyCounters();
  private samples: { ms: number[]; of: number } = { ms: [], of: 0 };
  readonly restarts: Record<RestartCause, number> = { crash: 0, 'heartbeat-timeout': 0, 'max-requests': 0, memory: 0, reload: 0 };
  readonly reloads = { ok: 0, failed: 0 };
  heartbeatsMissed = 0;
  private nextId = 1;
  private readonly waiting = new Map<number, { left: Set<number>; done: () => void }>();

  /** A worker's `metrics` message. */
  update(workerId: number, id: number | null, snapshot: MetricsSnapshot): void {
    this.live.set(workerId, snapshot);
    if (snapshot.samples !== undefined && this.samples.ms.length < 4096) {
      this.samples.ms.push(...snapshot.samples.ms);
      this.samples.of += snapshot.samples.of;
    }
    if (id === null) return;
    const wait = this.waiting.get(id);
    if (wait === undefined) return;
    wait.left.delete(workerId);
    if (wait.left.size === 0) wait.done();
  }

  /** A worker exited: its last counts stay in the totals; `cause` says why it was replaced, if it was. */
  workerExited(workerId: number, cause: RestartCause | null): void {
    const last = this.live.get(workerId);
    if (last !== undefined) addInto(this.retired, last);
    this.live.delete(workerId);
    for (const wait of this.waiting.values()) if (wait.left.delete(workerId) && wait.left.size === 0) wait.done();
    if (cause !== null) this.restarts[cause]++;
  }

  /**
   * Asks each worker for its counters (ask returns false when it could not be asked) and
   * resolves when all have answered, or after `timeoutMs`: a worker whose loop is blocked is
   * counted with its last report.
   */
  collect(workerIds: Iterable<number>, ask: (workerId: number, msg: { type: 'metrics-request'; id: number }) => boolean, timeoutMs = 250): Promise<void> {
    const id = this.nextId++;
    const left = new Set<number>();
    for (const w of workerIds) if (ask(w, { type: 'metrics-request', id })) left.add(w);
    if (left.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiting.set(id, { left, done });
    });
  }

  aggregate(): Aggregate {
    const total: Aggregate = { ...emptyCounters(), connections: 0, inFlight: 0, samples: this.samples };
    mergeCounters(total, this.retired);
    for (const s of this.live.values()) {
      addInto(total, s);
      total.connections += s.connections;
      total.inFlight += s.inFlight;
    }
    return total;
  }

  /** The duration samples gathered since the last call (StatsD timers). */
  takeSamples(): { ms: number[]; of: number } {
    const taken = this.samples;
    this.samples = { ms: [], of: 0 };
    return taken;
  }

  render(facts: MasterFacts): string {
    const a = this.aggregate();
    const out: string[] = [];
    const family = (name: string, type: string, help: string): void => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    };
    family('tsgi_requests_total', 'counter', 'Requests finished, by method and status (status 0: no response was sent).');
    const rows = [...a.requests].map(([key, n]) => {
      const [m, status] = key.split(',').map(Number) as [number, number];
      return { method: METRIC_METHODS[m] ?? 'other', status, n };
    });
    rows.sort((x, y) => (x.method === y.method ? x.status - y.status : x.method < y.method ? -1 : 1));
    for (const r of rows) out.push(`tsgi_requests_total{method="${r.method}",status="${r.status}"} ${r.n}`);
    family('tsgi_request_duration_seconds', 'histogram', 'Time from a complete request head to the end of the response.');
    let cumulative = 0;
    DURATION_BUCKETS_S.forEach((le, i) => {
      cumulative += a.durationBuckets[i] ?? 0;
      out.push(`tsgi_request_duration_seconds_bucket{le="${le}"} ${cumulative}`);
    });
    cumulative += a.durationBuckets[DURATION_BUCKETS_S.length] ?? 0;
    out.push(`tsgi_request_duration_seconds_bucket{le="+Inf"} ${cumulative}`);
    out.push(`tsgi_request_duration_seconds_sum ${a.durationSumS}`, `tsgi_request_duration_seconds_count ${cumulative}`);
    family('tsgi_request_outcomes_total', 'counter', 'Requests by how they ended: ok, refused by the server, app error, timeout, client gone.');
    METRIC_OUTCOMES.forEach((o, i) => out.push(`tsgi_request_outcomes_total{outcome="${o}"} ${a.outcomes[i] ?? 0}`));
    family('tsgi_requests_in_flight', 'gauge', 'Requests being answered (as of each worker\'s last report).');
    out.push(`tsgi_requests_in_flight ${a.inFlight}`);
    family('tsgi_request_body_bytes_total', 'counter', 'Bytes of request content received.');
    out.push(`tsgi_request_body_bytes_total ${a.bytesIn}`);
    family('tsgi_response_body_bytes_total', 'counter', 'Bytes of response content sent.');
    out.push(`tsgi_response_body_bytes_total ${a.bytesOut}`);
    family('tsgi_connections_open', 'gauge', 'Client connections open in the workers.');
    out.push(`tsgi_connections_open ${a.connections}`);
    family('tsgi_workers', 'gauge', 'Worker processes by state.');
    for (const [state, n] of Object.entries(facts.workers)) out.push(`tsgi_workers{state="${state}"} ${n}`);
    family('tsgi_worker_restarts_total', 'counter', 'Workers replaced, by cause.');
    for (const cause of RESTART_CAUSES) out.push(`tsgi_worker_restarts_total{cause="${cause}"} ${this.restarts[cause]}`);
    family('tsgi_reloads_total', 'counter', 'Reloads (HUP, --reload) by result.');
    out.push(`tsgi_reloads_total{result="ok"} ${this.reloads.ok}`, `tsgi_reloads_total{result="failed"} ${this.reloads.failed}`);
    family('tsgi_heartbeats_missed_total', 'counter', 'Workers aborted for missing their heartbeat (--timeout).');
    out.push(`tsgi_heartbeats_missed_total ${this.heartbeatsMissed}`);
    family('tsgi_listen_backlog', 'gauge', 'Connections waiting in a listening socket\'s accept queue (TCP, Linux).');
    for (const q of facts.queues) out.push(`tsgi_listen_backlog{listener="${labelValue(q.listener)}"} ${q.queued}`);
    family('tsgi_listen_backlog_max', 'gauge', 'The accept queue\'s limit: min(--backlog, net.core.somaxconn).');
    for (const q of facts.queues) out.push(`tsgi_listen_backlog_max{listener="${labelValue(q.listener)}"} ${q.max}`);
    return `${out.join('\n')}\n`;
  }
}

/** Exposition format: backslash, double quote and line feed are escaped in label values. */
function labelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * The accept queue of listening TCP sockets from /proc/net/tcp{,6}: for a socket in LISTEN
 * state, rx_queue is the connections waiting to be accepted (what uWSGI reports as listen_queue
 * and Gunicorn 24's backlog metric). Found by the inode of the master's descriptor; sockets not
 * found (unix sockets, no /proc) are left out. The limit is the listen() backlog, capped by
 * net.core.somaxconn.
 */
export function readListenQueues(sockets: readonly { url: string; fd: number }[], backlog: number): ListenQueue[] {
  const inodes = new Map<string, string>();
  for (const s of sockets) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${s.fd}`));
      if (m) inodes.set(m[1]!, s.url);
    } catch {
      // No /proc, or no descriptor.
    }
  }
  if (inodes.size === 0) return [];
  let max = backlog;
  try {
    max = Math.min(backlog, Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8')));
  } catch {
    // Not Linux: the backlog asked for.
  }
  const found: ListenQueue[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue;
      const listener = inodes.get(f[9]!);
      if (listener === undefined) continue;
      found.push({ listener, queued: parseInt(f[4]!.split(':')[1]!, 16), max });
    }
  }
  return found;
}
