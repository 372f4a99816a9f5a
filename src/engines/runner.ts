/**
 * How the request driver calls the app: one runner per worker, chosen once from the loaded app's
 * interface (docs/interfaces.md), and one cycle per request made by it. The TSGI cycle
 * (gateway/cycle.ts) is the default; the fetch and node runners call their apps directly, without
 * a TSGI round trip, and go through the same Exchange: one RequestRecord, the timeouts, drain,
 * refusals, tsgi.signal and --max-requests.
 */
import type { CheckedResponse } from '../gateway/app-headers.js';
import type { App, Environ } from '../gateway/types.js';
import type { Exchange } from './exchange.js';
import type { EventEmitter } from 'node:events';

/** What the Exchange needs of the cycle that answers one request. */
export interface RequestCycle {
  /** The response head as sent (the record's fields); read once the request is settled. */
  readonly response: CheckedResponse;
  /** Bytes of content handed to the engine. */
  readonly sent: number;
  /** Calls the app. `app` is the worker's TSGI app; the fetch and node cycles call their own. */
  run(app: App, environ: Environ): void;
  /** The server abandoned the request: nothing more is sent, the app is told (spec §3.9). */
  cancel(reason: unknown): void;
  /** A cycle that reads the body itself (the node runner): whether the app is waiting for bytes. */
  bodyWanted?(): boolean;
  /** A graceful stop began while the request was in flight. */
  draining?(): void;
}

/** A runner: makes the cycle of each request of this worker. */
export interface Runner {
  readonly interface: 'fetch' | 'node';
  cycle(ex: Exchange): RequestCycle;
  /**
   * The node runner reads the request body through node's own IncomingMessage, not tsgi.input:
   * the Exchange then makes no RequestInput.
   */
  readonly ownsBody: boolean;
  /** A graceful stop began (the node runner tells a served http.Server, as its close() would). */
  draining?(): void;
  /** Where 'upgrade' events go for this app (its own http.Server, Fastify's server), if anywhere. */
  readonly upgrades?: EventEmitter;
}
