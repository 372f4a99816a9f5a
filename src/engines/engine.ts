/**
 * The interface both HTTP engines implement, so a worker can serve through either (`--http`).
 */
import type { Server } from 'node:net';
import type { App, Environ } from '../gateway/types.js';
import type { ServerInfo } from '../gateway/environ.js';
import type { ParserLimits } from '../http/events.js';
import type { Logger } from '../log.js';

export interface EngineOptions {
  app: App;
  log: Logger;
  server: ServerInfo;
  limits: ParserLimits;
  /** listen() backlog: connections the kernel queues before accept. */
  backlog: number;
  /** Seconds an idle keep-alive connection is kept open. */
  keepalive: number;
  /** Called once per finished request with the status sent (max-requests, postRequest hook). */
  onRequestDone?: (environ: Environ | null, status: number) => void;
}

/** A request being answered, as the worker reports it to the master. */
export interface InFlightRequest {
  method: string;
  target: string;
  /** Milliseconds since the app was called. */
  ms: number;
}

export interface Engine {
  /** Starts accepting on a listening handle the master bound. */
  listen(handle: ListenHandle): Promise<void>;
  /**
   * Graceful stop: stop accepting, close idle connections now, answer in-flight requests with
   * `Connection: close`, and resolve when every connection is gone.
   */
  drain(): Promise<void>;
  /** Quick stop: destroy every connection. */
  destroy(): void;
  /** Open connections, for logs and drain progress. */
  readonly connections: number;
  /** The requests being answered now. */
  inFlight(now: number): InFlightRequest[];
  /**
   * Ends requests running longer than `limitMs` (--request-timeout): 504 if no byte of the
   * response was sent, otherwise the connection is aborted. Returns how many were ended.
   */
  expire(now: number, limitMs: number): number;
}

/** On a graceful stop, how long a connection used a moment ago may still bring its next request. */
export const IDLE_GRACE_MS = 1000;

/** A bound socket handle sent by the master (a libuv TCP or Pipe handle). */
export type ListenHandle = object;

/**
 * Listens on a handle that arrived over IPC. A TCP handle goes through listen(handle), which a
 * cluster worker treats as exclusive. Node routes a pipe handle through the cluster primary
 * instead, which would re-bind the path, so it is attached directly.
 */
export function listenOnHandle(server: Server, handle: ListenHandle, backlog: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    const done = (): void => {
      server.removeListener('error', onError);
      resolve();
    };
    if (handle.constructor.name === 'TCP') {
      server.listen(handle, backlog, done);
    } else {
      const internal = server as unknown as { _handle: unknown; _listen2(a: null, p: number, t: number, b: number): void };
      internal._handle = handle;
      internal._listen2(null, -1, -1, backlog);
      setImmediate(done);
    }
  });
}
