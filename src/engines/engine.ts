/**
 * The interface both HTTP engines implement, so a worker can serve through either (`--http`).
 */
import type { Server } from 'node:net';
import type { App, Environ } from '../gateway/types.js';
import type { ServerInfo } from '../gateway/environ.js';
import type { ParserLimits } from '../http/events.js';
import type { Logger } from '../log.js';
import type { InFlightRequest } from '../ipc/messages.js';
import type { Forwarding } from '../gateway/forwarded.js';
import type { TlsServerOptions } from '../config/tls.js';
import type { ProxyProtocolOptions } from './proxy-gate.js';
import type { Runner } from './runner.js';

export type { InFlightRequest };

export interface EngineOptions {
  app: App;
  log: Logger;
  server: ServerInfo;
  limits: ParserLimits;
  /** listen() backlog: connections the kernel queues before accept. */
  backlog: number;
  /** Seconds an idle keep-alive connection is kept open; 0 closes after every response. */
  keepalive: number;
  /** Seconds from a request's first byte to the end of its response (0 = no limit): 504, or an abort once bytes were sent. */
  requestTimeout?: number;
  /** Seconds a request head may take to arrive complete, from its first byte (or the connection's start): 408 (0 = no limit). */
  headerTimeout?: number;
  /** Seconds a request body may make no progress while the app waits for it (0 = no limit). */
  bodyTimeout?: number;
  /** Most requests in flight in this worker; beyond it, 503 (0 = no limit). */
  limitConcurrency?: number;
  /** Most connections this worker holds; beyond it, new ones are closed at once (0 = no limit). */
  workerConnections?: number;
  /** --forwarded-allow-ips and --secure-scheme-headers, compiled; absent: no peer's forwarding headers are believed. */
  forwarding?: Forwarding;
  /** --proxy-protocol and --proxy-allow-from; absent: connections start with HTTP (or TLS). */
  proxyProtocol?: ProxyProtocolOptions;
  /** TLS (--certfile and friends, read and checked by config/tls.ts); absent: plain HTTP. */
  tls?: EngineTls;
  /** Called when a request is handed to the app (heartbeats name the request a worker is in). */
  onRequestStart?: (method: string, target: string) => void;
  /**
   * How the app is called, chosen once per worker from its interface: absent for a TSGI app (`app`
   * runs through the TSGI cycle); the fetch or node runner otherwise (runner.ts).
   */
  runner?: Runner;
  /** Called with the environ just before the app is (the preRequest hook, an early heartbeat). */
  beforeApp?: (environ: Environ) => void;
  /** Called once per finished request, whatever ended it (access log, metrics, max-requests, postRequest hook). */
  onRequestDone?: (record: RequestRecord) => void;
}

export interface EngineTls {
  options: TlsServerOptions;
  /** --cert-reqs: 0 none, 1 optional (a certificate sent must verify), 2 required. */
  certReqs: number;
}

export interface Engine {
  /** Starts accepting on a listening handle the master bound. */
  listen(handle: ListenHandle): Promise<void>;
  /**
   * Graceful stop: stop accepting, close idle connections (after a short grace if just used),
   * answer in-flight requests with `Connection: close`, and resolve when every connection is gone
   * and every request's app work has settled.
   */
  drain(): Promise<void>;
  /** Quick stop: destroy every connection. */
  destroy(): void;
  /** Open connections, for logs and drain progress. */
  readonly connections: number;
  /** The requests being answered now. */
  inFlight(): InFlightRequest[];
}

/**
 * How a request ended (RequestRecord.outcome):
 * - `ok`: the response was sent completely;
 * - `refused`: the server answered on its own (a malformed head or body, 404 outside --root-path,
 *   503 over --limit-concurrency, 408 on --header-timeout);
 * - `app-error`: the app raised or broke the contract (500 before the head, an abort after it);
 * - `timeout`: --request-timeout ended it (504, or an abort once bytes were sent);
 * - `client-gone`: the client closed the connection before the response was complete.
 */
export type RequestOutcome = 'ok' | 'refused' | 'app-error' | 'timeout' | 'client-gone';

/**
 * One finished request, whatever ended it: what the access log, metrics, `postRequest` and the
 * `--max-requests` count are told. The request driver builds exactly one per request, in the single
 * place every request passes through when it ends.
 */
export interface RequestRecord {
  /** The environ the app saw; null when the request was refused before one was built. */
  environ: Environ | null;
  /** As received; '' when the request-line could not be read. */
  method: string;
  /** The request-target as received (RAW_URI); '' when the request-line could not be read. */
  target: string;
  /** 'HTTP/1.1', 'HTTP/1.0', or '' when the request-line could not be read. */
  protocol: string;
  /** The client's address as the app sees it (after proxy trust), '' on a unix socket. */
  remoteAddr: string;
  /** The status sent; 0 when no response head was sent (the client left, or the connection was aborted). */
  status: number;
  /** The response header fields sent (the app's, after the server dropped hop-by-hop ones); [] if none. */
  responseHeaders: readonly (readonly [string, string])[];
  /** Bytes of response content written (not counting the head or chunk framing). */
  bytesSent: number;
  /** Bytes of request content received (not counting the head or chunk framing). */
  bytesReceived: number;
  /** Wall-clock time (ms since the epoch) the request's head was complete. */
  startedAt: number;
  /** Milliseconds from the complete head to the end of the response (fractional). */
  durationMs: number;
  outcome: RequestOutcome;
}

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
