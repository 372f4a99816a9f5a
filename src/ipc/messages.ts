/** The IPC messages between master and workers; one place, so both sides agree. */

/** A request being answered, as the worker reports it to the master. */
export interface InFlightRequest {
  method: string;
  target: string;
  /** Milliseconds since the app was called. */
  ms: number;
}

/** master → worker */
export type MasterMessage =
  | { type: 'listen'; index: number; total: number }
  | { type: 'stop'; graceful: boolean }
  | { type: 'reopen-logs' }
  /** --metrics-bind: a scrape wants fresh counters; the worker answers with a `metrics` message carrying `id`. */
  | { type: 'metrics-request'; id: number };

/** worker → master */
export type WorkerMessage =
  | { type: 'booted' }
  /** `broken`: the app failed to load and the worker serves the error page (--reload only). */
  | { type: 'ready'; broken: boolean }
  | { type: 'heartbeat'; rss: number; requests: number; serving: InFlightRequest[] }
  /** The worker asks to be replaced (max-requests reached). */
  | { type: 'recycle'; reason: string }
  /** Counters so far (--metrics-bind, --statsd-host): every second when they changed, on request (`id`), and before exiting. */
  | { type: 'metrics'; id: number | null; snapshot: MetricsSnapshot };

/**
 * What a worker has counted since it started (counters only grow), plus its gauges now. Indexes
 * refer to the tables below, shared by both sides.
 */
export interface MetricsSnapshot {
  /** [method index in METRIC_METHODS, status code (0: no response sent), count], non-zero ones only. */
  requests: [number, number, number][];
  /** Requests whose duration was at most DURATION_BUCKETS_S[i] (not cumulative; the last is +Inf). */
  durationBuckets: number[];
  durationSumS: number;
  /** Count per RequestRecord outcome, in METRIC_OUTCOMES order. */
  outcomes: number[];
  bytesIn: number;
  bytesOut: number;
  connections: number;
  inFlight: number;
  /** --statsd-host only: durations (ms) of up to DURATION_SAMPLES requests since the last snapshot, and how many requests there were. */
  samples?: { ms: number[]; of: number };
}

export const METRIC_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'TRACE', 'other'] as const;
export const METRIC_OUTCOMES = ['ok', 'refused', 'app-error', 'timeout', 'client-gone'] as const;
/** Prometheus' default histogram buckets, in seconds. */
export const DURATION_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
/** --statsd-host: at most this many request durations a worker keeps between two snapshots. */
export const DURATION_SAMPLES = 512;

/** What the master passes to a worker at fork time, in the TSGI_WORKER environment variable. */
export interface WorkerBootInfo {
  app: string;
  /** The command line the master was started with; the worker resolves the same configuration. */
  argv: string[];
  /** The directory the command line is relative to (before --chdir). */
  startCwd: string;
  /** The worker count the master runs now (TTIN/TTOU change it). */
  workers: number;
  age: number;
  generation: number;
  /** With --reload and no working generation: serve the load error as a 500 page instead of exiting. */
  fallbackOnLoadError: boolean;
}

export const WORKER_ENV = 'TSGI_WORKER';

/** The view of a worker that hooks receive. */
export interface WorkerInfo {
  id: number;
  pid: number;
  age: number;
  generation: number;
}
