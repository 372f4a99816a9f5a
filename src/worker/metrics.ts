/**
 * The worker's side of --metrics-bind and --statsd-host: counters kept in typed arrays, a few
 * increments per finished request, no allocation and no message per request. The master asks for
 * them on each scrape and gets them every second when they changed; it adds up every worker's
 * and keeps what exited workers had reported (src/master/metrics.ts).
 *
 * Measured against prom-client's cluster aggregation in bench/metrics.js (see docs/metrics.md):
 * prom-client hashes the label values into a string key on every inc()/observe(), which
 * allocates per request; these arrays do not.
 */
import type { RequestRecord } from '../engines/engine.js';
import { DURATION_BUCKETS_S, DURATION_SAMPLES, METRIC_METHODS, METRIC_OUTCOMES, type MetricsSnapshot } from '../ipc/messages.js';

/** Status codes 0-599 (0: no response was sent); anything else is counted as 0. */
const STATUSES = 600;
const BUCKETS_MS = DURATION_BUCKETS_S.map((s) => s * 1000);
const OTHER_METHOD = METRIC_METHODS.length - 1;

function methodIndex(method: string): number {
  switch (method) {
    case 'GET':
      return 0;
    case 'HEAD':
      return 1;
    case 'POST':
      return 2;
    case 'PUT':
      return 3;
    case 'DELETE':
      return 4;
    case 'PATCH':
      return 5;
    case 'OPTIONS':
      return 6;
    case 'CONNECT':
      return 7;
    case 'TRACE':
      return 8;
    default:
      return OTHER_METHOD;
  }
}

function outcomeIndex(outcome: RequestRecord['outcome']): number {
  switch (outcome) {
    case 'ok':
      return 0;
    case 'refused':
      return 1;
    case 'app-error':
      return 2;
    case 'timeout':
      return 3;
    default:
      return 4;
  }
}

/** The gauges a snapshot reads from the engine when it is taken. */
export interface GaugeSource {
  readonly connections: number;
  inFlight(now: number): readonly unknown[];
}

export class RequestCounters {
  private readonly requests = new Float64Array(METRIC_METHODS.length * STATUSES);
  private readonly buckets = new Float64Array(BUCKETS_MS.length + 1);
  private readonly outcomes = new Float64Array(METRIC_OUTCOMES.length);
  private durationSumMs = 0;
  private bytesIn = 0;
  private bytesOut = 0;
  /** Requests counted so far; a snapshot is sent only when this moved. */
  count = 0;
  private readonly samples: Float64Array | null;
  private sampled = 0;
  private sinceSnapshot = 0;

  constructor(options: { sampleDurations: boolean }) {
    this.samples = options.sampleDurations ? new Float64Array(DURATION_SAMPLES) : null;
  }

  /** Per request: increments only. */
  record(record: RequestRecord): void {
    const status = record.status >= 0 && record.status < STATUSES ? record.status : 0;
    this.requests[methodIndex(record.method) * STATUSES + status]++;
    const ms = record.durationMs;
    let b = 0;
    while (b < BUCKETS_MS.length && ms > BUCKETS_MS[b]!) b++;
    this.buckets[b]++;
    this.durationSumMs += ms;
    this.outcomes[outcomeIndex(record.outcome)]++;
    this.bytesIn += record.bytesReceived;
    this.bytesOut += record.bytesSent;
    this.count++;
    const samples = this.samples;
    if (samples !== null) {
      // Reservoir sampling (Vitter's algorithm R): every request has the same chance to be kept.
      const seen = this.sinceSnapshot++;
      if (seen < samples.length) samples[this.sampled++] = ms;
      else {
        const slot = Math.floor(Math.random() * (seen + 1));
        if (slot < samples.length) samples[slot] = ms;
      }
    }
  }

  snapshot(gauges: GaugeSource | null, now: number): MetricsSnapshot {
    const requests: [number, number, number][] = [];
    for (let i = 0; i < this.requests.length; i++) {
      const n = this.requests[i]!;
      if (n !== 0) requests.push([Math.floor(i / STATUSES), i % STATUSES, n]);
    }
    const snapshot: MetricsSnapshot = {
      requests,
      durationBuckets: Array.from(this.buckets),
      durationSumS: this.durationSumMs / 1000,
      outcomes: Array.from(this.outcomes),
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      connections: gauges?.connections ?? 0,
      inFlight: gauges?.inFlight(now).length ?? 0,
    };
    if (this.samples !== null) {
      snapshot.samples = { ms: Array.from(this.samples.subarray(0, this.sampled)), of: this.sinceSnapshot };
      this.sampled = 0;
      this.sinceSnapshot = 0;
    }
    return snapshot;
  }
}

/** Reports the counters to the master: on request, every second when they changed, and at exit. */
export class WorkerMetrics {
  readonly counters: RequestCounters;
  private gauges: GaugeSource | null = null;
  private timer: NodeJS.Timeout | null = null;
  private reported = -1;

  constructor(
    private readonly send: (msg: { type: 'metrics'; id: number | null; snapshot: MetricsSnapshot }, done?: () => void) => void,
    options: { sampleDurations: boolean },
  ) {
    this.counters = new RequestCounters(options);
  }

  /** Starts the periodic report once the engine serves. */
  start(gauges: GaugeSource): void {
    this.gauges = gauges;
    this.timer = setInterval(() => {
      if (this.counters.count !== this.reported) this.report(null);
    }, 1000);
    this.timer.unref();
  }

  report(id: number | null, done?: () => void): void {
    this.reported = this.counters.count;
    this.send({ type: 'metrics', id, snapshot: this.counters.snapshot(this.gauges, Date.now()) }, done);
  }

  /** The last report before exiting, so the master's totals include every request served. */
  final(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    if (this.counters.count === this.reported) return Promise.resolve();
    return new Promise((resolve) => {
      const limit = setTimeout(resolve, 500);
      this.report(null, () => {
        clearTimeout(limit);
        resolve();
      });
    });
  }
}
