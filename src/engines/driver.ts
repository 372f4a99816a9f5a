/**
 * The request driver both engines stand on: the per-connection state machine (connection-state.ts)
 * with everything that happens between bytes (keep-alive, timeouts, drain, refusals, the request in
 * flight), and the per-engine bookkeeping (connections, requests in flight, one timer sweep). An
 * engine subclasses Connection and implements only how bytes move: the abstract methods below.
 */
import type { HttpParseError } from '../errors.js';
import { TsgiError } from '../errors.js';
import { serverRefusal } from '../http/errors.js';
import { HeadRenderer, serverResponse, type Framing, type HeadInput, type ServerResponse } from '../http/response.js';
import type { ConnectionInfo, ServerInfo } from '../gateway/environ.js';
import type { Forwarding } from '../gateway/forwarded.js';
import type { ClientCertificate } from '../config/tls.js';
import type { App, Chunk, Environ, Header } from '../gateway/types.js';
import type { Logger } from '../log.js';
import { APP, CLOSE, CLOSING, CLOSED, DONE_CLOSE, DONE_KEEP, GONE, HEAD_SENT, IDLE, REQUEST, SENDING, UPGRADE, UPGRADED, next, type ConnectionEvent, type ConnectionState } from './connection-state.js';
import { Exchange, type RequestStart, type Upgraded } from './exchange.js';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { server as sharedServer } from '../gateway/interfaces/upgrade-server.js';
import { closeServer } from '../gateway/interfaces/detect.js';
import { TIME_ORIGIN } from './clock.js';
import type { EngineOptions, InFlightRequest, RequestRecord } from './engine.js';
import { TrustedPeer } from './trust.js';
import { EverySecond } from './every-second.js';
import type { Runner } from './runner.js';
import type { NodePair } from './node-cycle.js';

/** On a graceful stop, how long a connection used a moment ago may still bring its next request. */
export const IDLE_GRACE_MS = 1000;
/** How long a closing connection may take to go away after our FIN before it is destroyed. */
const CLOSE_GRACE_MS = 5000;
/**
 * The timer sweep: once a second while serving, or four times per shortest timeout when one is
 * shorter (a deadline is then met within a quarter of itself); ten times a second while draining.
 */
const SWEEP_MS = 1000;
const MIN_SWEEP_MS = 50;
const DRAIN_SWEEP_MS = 100;
/** The longest a sweep pass runs before it lets I/O in. */
const SLICE_MS = 5;

function shuttingDown(): TsgiError {
  return new TsgiError('TSGI_ERR_SHUTTING_DOWN', 'the worker is stopping gracefully; close the connection (it is closed when --graceful-timeout runs out)');
}

/** What every connection of one engine shares: the app, the settings, the counts, the sweep. */
export class EngineCore {
  readonly app: App;
  readonly log: Logger;
  readonly server: ServerInfo;
  readonly renderer: HeadRenderer;
  readonly onRequestStart: ((method: string, target: string) => void) | undefined;
  readonly onRequestDone: ((record: RequestRecord) => void) | undefined;
  /** How the app is called: null for a TSGI app (the Cycle), else the fetch or node runner. */
  readonly runner: Runner | null;
  readonly beforeApp: ((environ: Environ) => void) | undefined;
  readonly keepAliveMs: number;
  readonly headerTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly limitConcurrency: number;
  /** --forwarded-allow-ips and --secure-scheme-headers; null: no peer's forwarding headers are believed. */
  readonly forwarding: Forwarding | null;
  readonly connections = new Set<Connection>();
  /**
   * Accepted connections that do not speak HTTP yet (a PROXY header or a TLS handshake to come),
   * with when each was accepted: the sweep closes one still here --header-timeout later.
   */
  private readonly openings = new Map<{ destroy(): void }, number>();
  /** Requests refused at --header-timeout, logged once a second at most. */
  readonly headerTimeouts: EverySecond;
  headerTimeoutError: HttpParseError | null = null;
  /** Requests answered now (the app or the server working on them): --limit-concurrency counts these. */
  active = 0;
  /** Requests whose app work has not settled (app promise, body return()/close()). */
  live = 0;
  draining = false;
  private drained: (() => void) | null = null;
  private sweep: NodeJS.Timeout | null = null;
  /** The rest of a sweep pass that yielded, or null. */
  private pass: NodeJS.Immediate | null = null;
  private readonly sweepMs: number;

  constructor(options: EngineOptions) {
    this.app = options.app;
    this.log = options.log;
    this.server = options.server;
    this.renderer = new HeadRenderer(options.keepalive);
    this.onRequestStart = options.onRequestStart;
    this.onRequestDone = options.onRequestDone;
    this.runner = options.runner ?? null;
    this.beforeApp = options.beforeApp;
    this.keepAliveMs = options.keepalive * 1000;
    this.headerTimeoutMs = (options.headerTimeout ?? 0) * 1000;
    this.bodyTimeoutMs = (options.bodyTimeout ?? 0) * 1000;
    this.requestTimeoutMs = (options.requestTimeout ?? 0) * 1000;
    this.limitConcurrency = options.limitConcurrency ?? 0;
    this.forwarding = options.forwarding ?? null;
    this.headerTimeouts = new EverySecond(options.log, 'info');
    const shortest = Math.min(...[this.keepAliveMs, this.headerTimeoutMs, this.bodyTimeoutMs, this.requestTimeoutMs].filter((ms) => ms > 0));
    this.sweepMs = Math.max(MIN_SWEEP_MS, Math.min(SWEEP_MS, shortest / 4));
  }

  add(conn: Connection): void {
    this.connections.add(conn);
    if (this.sweep === null && !this.draining) this.startSweep(this.sweepMs);
  }

  forget(conn: Connection): void {
    this.connections.delete(conn);
    this.checkDrained();
  }

  /** A connection accepted at `at` that does not speak HTTP yet. */
  opening(socket: { destroy(): void }, at: number): void {
    this.openings.set(socket, at);
    if (this.sweep === null && !this.draining) this.startSweep(this.sweepMs);
  }

  /** It speaks HTTP now (a Connection takes over), or it closed. */
  opened(socket: { destroy(): void }): void {
    if (this.openings.delete(socket)) this.checkDrained();
  }

  /** Hands a finished request to the worker's bookkeeping; a throwing consumer costs one log line. */
  report(record: RequestRecord): void {
    try {
      this.onRequestDone!(record);
    } catch (err) {
      this.log.error({ err }, 'recording a finished request failed');
    }
  }

  requestSettled(): void {
    this.active--;
  }

  requestReleased(): void {
    this.live--;
    this.checkDrained();
  }

  /** Graceful stop: the engine has stopped accepting; resolves when no connection and no request is left. */
  drain(): Promise<void> {
    this.draining = true;
    const done = new Promise<void>((resolve) => {
      this.drained = resolve;
    });
    const now = performance.now();
    for (const conn of this.connections) conn.onDrain(now);
    this.runner?.draining?.();
    // The server object upgrades are handed to (tsgi/node's `server`) closes, as server.close() would.
    if (sharedServer.listenerCount('close') > 0) closeServer(sharedServer);
    this.startSweep(DRAIN_SWEEP_MS);
    this.checkDrained();
    return done;
  }

  /** Quick stop: every connection is destroyed. */
  destroyAll(): void {
    this.draining = true;
    for (const conn of this.connections) conn.destroy();
    for (const socket of this.openings.keys()) socket.destroy();
    this.openings.clear();
    this.stopSweep();
  }

  inFlight(now: number): InFlightRequest[] {
    const out: InFlightRequest[] = [];
    for (const conn of this.connections) {
      const ex = conn.exchange;
      if (ex !== null && !ex.finished) out.push({ method: ex.req.method, target: ex.req.target, ms: Math.round(now - ex.startedAt) });
    }
    return out;
  }

  private checkDrained(): void {
    if (this.draining && this.drained !== null && this.connections.size === 0 && this.openings.size === 0 && this.live <= 0) {
      const resolve = this.drained;
      this.drained = null;
      this.stopSweep();
      resolve();
    }
  }

  private startSweep(ms: number): void {
    this.stopSweep();
    this.sweep = setInterval(() => this.tick(), ms);
    this.sweep.unref();
  }

  private stopSweep(): void {
    if (this.sweep !== null) clearInterval(this.sweep);
    this.sweep = null;
    if (this.pass !== null) clearImmediate(this.pass);
    this.pass = null;
  }

  /** One clock read and one pass over the connections replace a timer per socket. */
  private tick(): void {
    // A pass still cutting connections goes on first.
    if (this.pass !== null) return;
    const now = performance.now();
    if (this.openings.size > 0) this.tickOpenings(now);
    this.sweepFrom(this.connections.values(), now);
  }

  /**
   * Ticks connections until the iterator ends, yielding to I/O every SLICE_MS: thousands of
   * connections cut at one deadline (a slowloris burst) cost a 408, a write and a FIN each, and
   * the clients being served meanwhile must not wait for all of them.
   */
  private sweepFrom(connections: Iterator<Connection>, now: number): void {
    const started = performance.now();
    let n = 0;
    for (let r = connections.next(); r.done !== true; r = connections.next()) {
      r.value.tick(now);
      if ((++n & 63) === 0 && performance.now() - started > SLICE_MS) {
        this.pass = setImmediate(() => {
          this.pass = null;
          this.sweepFrom(connections, now);
        });
        return;
      }
    }
  }

  /** An opening gets --header-timeout from its accept; on a drain, the grace a new connection gets. */
  private tickOpenings(now: number): void {
    const limit = this.draining ? IDLE_GRACE_MS : this.headerTimeoutMs;
    if (limit <= 0) return;
    for (const [socket, at] of this.openings) {
      if (now - at >= limit) {
        this.openings.delete(socket);
        socket.destroy();
      }
    }
    this.checkDrained();
  }
}

/**
 * One connection, engine-neutral. The engine calls beginRequest() when a head is parsed,
 * refuseHead() when one is malformed, and gone() when the socket closes; the driver calls the
 * abstract write and flow-control methods.
 */
export abstract class Connection {
  state: ConnectionState = IDLE;
  exchange: Exchange | null = null;
  /** Requests begun on this connection. */
  served = 0;
  readonly openedAt: number;
  /** When the last response ended (or the connection opened). */
  lastActive: number;
  /** When the first byte of the next head arrived; 0 while none has. */
  headStartedAt = 0;
  /** When the request in flight sent its first byte: --request-timeout counts from here. */
  private requestFirstByte = 0;
  private closingSince = 0;
  /**
   * The clock read that started the engine's current synchronous pass over this connection (0
   * outside one): a pipelined batch or a synchronous app reads the clock once, not per event.
   */
  protected turnNow = 0;
  /** Set when the peer is a proxy --forwarded-allow-ips trusts: what its headers say of the client. */
  readonly trust: TrustedPeer | null;
  /** Reused by every response on this connection. */
  readonly headInput: HeadInput = {
    versionMinor: 1,
    status: 0,
    statusLine: '',
    headers: [],
    hasDate: false,
    contentLength: -1,
    noBody: false,
    keepAlive: true,
  };

  /**
   * `now`: when the connection was accepted (its first request's --header-timeout counts from
   * there); `peerCertificate`: the client certificate TLS verified (`tsgi.peer_certificate`).
   */
  constructor(
    readonly core: EngineCore,
    readonly info: ConnectionInfo,
    now: number,
    readonly peerCertificate: Readonly<ClientCertificate> | null = null,
  ) {
    this.openedAt = now;
    this.lastActive = now;
    const forwarding = core.forwarding;
    this.trust = forwarding !== null && forwarding.trusts(info.remoteAddr) ? new TrustedPeer(forwarding, info) : null;
    core.add(this);
  }

  // ---- what an engine implements -------------------------------------------------------------

  /** Sends (or queues, to go out with the first body bytes) the response head. */
  abstract writeHead(ex: Exchange, head: HeadInput, framing: Framing, ascii: boolean): void;
  /** Sends body bytes; false when the socket's buffer is full (wait for writable()). */
  abstract writeBody(ex: Exchange, chunk: Chunk, byteLength: number): boolean;
  /** Ends the response's framing (last chunk); `complete` false: the connection will be destroyed. */
  abstract endResponse(ex: Exchange, complete: boolean): void;
  /** A response the server writes on its own for `ex`, when no byte of the app's was sent. */
  abstract writeServerResponse(ex: Exchange | null, response: ServerResponse, keepAlive: boolean): void;
  /** 100 Continue, or 103 Early Hints with `headers`. */
  abstract writeInterim(ex: Exchange, status: 100 | 103, headers: Header[] | null): void;
  /** Resolves when the socket can take more output (or is gone). */
  abstract writable(): Promise<void>;
  /** The app wants more of the body: read on. */
  abstract resumeBody(ex: Exchange): void;
  /** After a response that keeps the connection: carry on with the next request. */
  protected abstract nextRequest(ex: Exchange): void;
  /**
   * Half-close after the last response, so the peer reads everything before the FIN.
   * `peerDone`: the client itself sent `Connection: close` on HTTP/1.1, so it sends nothing more.
   */
  protected abstract closeGracefully(peerDone: boolean): void;
  /** Ends the socket now. */
  abstract destroy(): void;
  /** The socket, and the bytes read past the request head, for an app taking the connection over. */
  protected abstract detach(ex: Exchange): { socket: Duplex; head: Buffer };
  /** node:http's IncomingMessage for the request in flight (made for it where the engine has none). */
  abstract incomingMessage(ex: Exchange): IncomingMessage;
  /** Whether the connection can be handed over now (spec §3.10). */
  canHandOver(): boolean {
    return this.state === APP;
  }
  /** Bytes of a next head have arrived that the driver has not been told of (node engine). */
  protected headBytesPending(): boolean {
    return false;
  }

  // ---- the state machine ---------------------------------------------------------------------

  protected move(event: ConnectionEvent): void {
    this.state = next(this.state, event);
  }

  /** A response may keep the connection: not draining, keep-alive on, not closing. */
  mayKeepAlive(): boolean {
    return !this.core.draining && this.core.keepAliveMs > 0 && this.state !== CLOSING && this.state !== CLOSED;
  }

  /** A complete, valid head: answer it (the app, or the server for CONNECT, 503 and 404). */
  protected beginRequest(req: RequestStart, now: number): void {
    this.served++;
    this.move(REQUEST);
    this.requestFirstByte = this.headStartedAt !== 0 ? this.headStartedAt : now;
    this.headStartedAt = 0;
    const core = this.core;
    const ex = new Exchange(this, req, now);
    this.exchange = ex;
    core.active++;
    if (req.method === 'CONNECT') {
      // RFC 9110 §9.3.6: tunnels are not part of TSGI.
      ex.refuse(serverRefusal('TSGI_ERR_CONNECT', 'CONNECT is not supported'), false);
      return;
    }
    if (core.limitConcurrency > 0 && core.active > core.limitConcurrency) {
      ex.refuse(serverRefusal('TSGI_ERR_OVERLOADED', `this worker is answering ${core.limitConcurrency} requests (--limit-concurrency); retry later`), false);
      return;
    }
    const trust = this.trust;
    if (trust !== null) {
      // A trusted proxy's forwarding headers that conflict or are malformed: 400 (docs/proxies.md).
      const refusal = trust.read(req.headers);
      if (refusal !== null) return void ex.refuse(refusal, false);
    }
    if (!ex.start()) {
      ex.refuse(serverRefusal('TSGI_ERR_ROOT_PATH', `the path is not under the root path ${core.server.scriptName}`), ex.keepAlive);
    }
  }

  /** The first byte of a response went out. */
  headSent(): void {
    if (this.state === APP) this.move(HEAD_SENT);
  }

  /** performance.now(), or the reading the current synchronous pass already took. */
  now(): number {
    return this.turnNow !== 0 ? this.turnNow : performance.now();
  }

  /** The response to `ex` is over; the connection persists or closes. */
  responseDone(ex: Exchange, keepAlive: boolean): void {
    if (this.exchange === ex) this.exchange = null;
    const now = this.now();
    this.lastActive = now;
    if (this.state === CLOSED || this.state === CLOSING) return;
    if (keepAlive && this.mayKeepAliveAfter()) {
      this.move(DONE_KEEP);
      this.nextRequest(ex);
    } else {
      this.move(DONE_CLOSE);
      this.closingSince = now;
      // RFC 9112 §9.6: only a client that sent "close" itself MUST NOT send more; an HTTP/1.0
      // client may still be writing a pipelined request, which a closed socket would answer with a
      // reset that destroys the response before the client reads it.
      this.closeGracefully(!ex.req.keepAlive && ex.req.versionMinor === 1);
    }
  }

  /** After a response that said keep-alive, a drain still lets the client's next request come (IDLE_GRACE_MS). */
  private mayKeepAliveAfter(): boolean {
    return this.core.keepAliveMs > 0;
  }

  /** Aborted when a graceful stop begins, on a connection handed over to the app. */
  private upgradeController: AbortController | null = null;

  /**
   * spec §3.10: the connection leaves the driver for the app. From here on the driver writes and
   * reads nothing on it and keeps no time for it; it stays counted (and a graceful stop waits for
   * it, up to --graceful-timeout) until it closes.
   */
  handOver(ex: Exchange): Upgraded {
    const { socket, head } = this.detach(ex);
    this.move(UPGRADE);
    if (this.exchange === ex) this.exchange = null;
    const controller = new AbortController();
    this.upgradeController = controller;
    if (this.core.draining) controller.abort(shuttingDown());
    return { socket, head, signal: controller.signal };
  }

  /** A head the parser refused: answer its status, record it, close (the app never sees it). */
  refuseHead(err: HttpParseError, method = '', target = '', versionMinor: 0 | 1 = 1): void {
    if (this.state !== IDLE) return;
    const core = this.core;
    // Heads that never arrive come in floods (a slowloris attack, a bad network): a line a second
    // says how many; any other refusal is logged as it happens.
    if (err.code === 'TSGI_ERR_HEADER_TIMEOUT') core.headerTimeouts.note({ status: err.status, code: err.code, remote: this.info.remoteAddr }, (n) => `refused ${n === 1 ? 'a request' : `${n} requests`}: ${err.message}`);
    else core.log.info({ status: err.status, code: err.code, remote: this.info.remoteAddr }, `refused request: ${err.message}`);
    this.writeServerResponse(null, serverResponse(err.status, err.message + '\n'), false);
    if (core.onRequestDone !== undefined) {
      const now = performance.now();
      const started = this.headStartedAt !== 0 ? this.headStartedAt : now;
      core.report({
        environ: null,
        method,
        target,
        protocol: method === '' ? '' : versionMinor === 1 ? 'HTTP/1.1' : 'HTTP/1.0',
        remoteAddr: this.info.remoteAddr,
        status: err.status,
        responseHeaders: [],
        bytesSent: 0,
        bytesReceived: 0,
        startedAt: TIME_ORIGIN + started,
        durationMs: now - started,
        outcome: 'refused',
      });
    }
    this.closeIdle();
  }

  /** Close between requests: the peer gets our FIN; a peer that never closes is cut by the sweep. */
  protected closeIdle(): void {
    if (this.state !== IDLE) return;
    this.move(CLOSE);
    this.closingSince = performance.now();
    this.closeGracefully(false);
  }

  /** The socket is gone, whoever closed it: abandon a request in flight. */
  protected gone(): void {
    if (this.state === CLOSED) return;
    const ex = this.exchange;
    this.move(GONE);
    if (ex !== null && !ex.finished) {
      ex.abandon(new TsgiError('TSGI_ERR_CLIENT_GONE', 'the client closed the connection before the response was complete'), 'client-gone', 0, '');
    }
    this.exchange = null;
    this.core.forget(this);
  }

  // ---- timers (the sweep) --------------------------------------------------------------------

  tick(now: number): void {
    const state = this.state;
    if (state === IDLE) this.tickIdle(now);
    else if (state === APP || state === SENDING) this.tickRequest(now);
    else if (state === CLOSING && now - this.closingSince >= CLOSE_GRACE_MS) this.destroy();
  }

  private tickIdle(now: number): void {
    const core = this.core;
    if (this.headStartedAt === 0 && this.headBytesPending()) this.headStartedAt = now;
    if (this.headStartedAt !== 0 || this.served === 0) {
      // A head is arriving: it must be complete within --header-timeout of its first byte; the
      // first request of a connection counts from the connection's start (its accept, before a
      // PROXY header or a TLS handshake), so a connection that never sends a byte is cut too.
      const from = this.served === 0 ? this.openedAt : this.headStartedAt;
      if (core.headerTimeoutMs > 0 && now - from >= core.headerTimeoutMs) this.headerTimeout();
      else if (this.headStartedAt === 0 && core.draining && now - this.openedAt >= IDLE_GRACE_MS) this.closeIdle();
      return;
    }
    const idle = now - this.lastActive;
    if (core.draining ? idle >= IDLE_GRACE_MS : idle >= core.keepAliveMs) this.closeIdle();
  }

  private tickRequest(now: number): void {
    const ex = this.exchange;
    if (ex === null || ex.finished) return;
    const core = this.core;
    if (core.requestTimeoutMs > 0 && now - this.requestFirstByte >= core.requestTimeoutMs) {
      const reason = new TsgiError('TSGI_ERR_REQUEST_TIMEOUT', `the request ran longer than --request-timeout (${core.requestTimeoutMs / 1000}s)`);
      core.log.error(
        { method: ex.req.method, target: ex.req.target, ms: Math.round(now - this.requestFirstByte) },
        `request exceeded --request-timeout (${core.requestTimeoutMs / 1000}s); ${ex.headSent ? 'connection aborted' : 'answered 504'}`,
      );
      ex.abandon(reason, 'timeout', 504, 'the request took too long\n');
      return;
    }
    if (core.bodyTimeoutMs > 0 && !ex.bodyComplete && ex.bodyHungry() && now - ex.lastProgress >= core.bodyTimeoutMs) {
      const reason = new TsgiError('TSGI_ERR_BODY_TIMEOUT', `the request body made no progress for --body-timeout (${core.bodyTimeoutMs / 1000}s)`);
      core.log.info({ method: ex.req.method, target: ex.req.target, remote: this.info.remoteAddr }, `request body stalled for ${core.bodyTimeoutMs / 1000}s; ${ex.headSent ? 'connection aborted' : 'answered 408'}`);
      ex.abandon(reason, 'timeout', 408, 'the request body stalled\n');
    }
  }

  private headerTimeout(): void {
    const core = this.core;
    // One error serves every connection cut at the deadline (it is only read: status, code, message).
    core.headerTimeoutError ??= serverRefusal('TSGI_ERR_HEADER_TIMEOUT', `the request head did not arrive within --header-timeout (${core.headerTimeoutMs / 1000}s)`);
    this.refuseHead(core.headerTimeoutError);
  }

  // ---- drain ---------------------------------------------------------------------------------

  /**
   * Graceful stop. A connection idle between requests closes now, unless it was used in the last
   * IDLE_GRACE_MS: a client under load reuses its connection within milliseconds, and closing it
   * at that moment races its next request (RFC 9112 §9.3.1 lets it retry, but it is a failure it
   * sees); that request is answered with Connection: close. A connection with a request in
   * flight closes after its response (mayKeepAlive() is false from now on). A connection just
   * accepted gets the same grace to send its first request.
   */
  onDrain(now: number): void {
    if (this.state === IDLE) this.tickIdle(now);
    else if (this.state === UPGRADED) this.upgradeController?.abort(shuttingDown());
    else if (this.exchange !== null && !this.exchange.finished) this.exchange.draining();
  }

  /** node:http's objects for the request in flight, on an engine that makes them (the node runner's). */
  nodePair(): NodePair | null {
    return null;
  }

  get closing(): boolean {
    return this.state === CLOSING || this.state === CLOSED;
  }
}
