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
  /**
   * The worker stops taking new work now and finishes what it has (an uncaught exception):
   * the master counts it as a crash and starts its replacement at once.
   */
  | { type: 'retiring'; reason: string }
  /**
   * The app did not load. Every worker of a generation fails the same way, so the worker reports
   * it here instead of logging it, and the master logs it once. `fallback`: the worker serves the
   * error as a 500 page (--reload) instead of exiting.
   */
  | { type: 'load-failed'; message: string; err: SerializedError; fallback: boolean }
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

/** An Error as pino serializes it (type, message, stack with its causes, code), to cross IPC. */
export interface SerializedError {
  type: string;
  message: string;
  stack: string;
  [key: string]: unknown;
}

/**
 * An Error again, on the other side, so that the master's log shows it as the worker's would
 * have: pino names an error's type after its constructor.
 */
export function reviveError(serialized: SerializedError): Error {
  const { type, ...fields } = serialized;
  const Named = { [type]: class extends Error {} }[type]!;
  return Object.assign(new Named(serialized.message), fields);
}

/** What the master passes to a worker at fork time, in the WORKER_ENV environment variable. */
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

/**
 * Named so that no setting's variable is near it: `TSGI_WORKER`, a misspelt `TSGI_WORKERS`, must get
 * the unknown-variable warning, not be taken for tsgi's own. config/env.ts lists it as reserved.
 */
export const WORKER_ENV = 'TSGI_INTERNAL_WORKER_BOOT';

/**
 * The worker's file descriptor for its watchdog's reports (a pipe the master reads): the watchdog
 * thread writes there when the worker's event loop is stuck, which the IPC channel, served by that
 * loop, cannot carry. One JSON WatchdogReport per line.
 */
export const WATCHDOG_FD = 4;

export interface WatchdogReport {
  type: 'stalled';
  /** Date.now() of the event loop's last tick. */
  since: number;
  /** The request last handed to the app, or null if none was yet. */
  request: { method: string; target: string; startedAt: number } | null;
}

/** The view of a worker that hooks receive. */
export interface WorkerInfo {
  id: number;
  pid: number;
  age: number;
  generation: number;
}
