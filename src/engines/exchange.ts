/**
 * One request and its response, from the moment its head is accepted until it is settled: the
 * request driver both engines share. It runs the TSGI cycle (as the cycle's Transport), feeds the
 * body to the app (as the input's BodySource), owns the request's signal and hints (as the
 * environ's RequestHandle), and settles the request exactly once, whatever ended it: one record
 * for the access log, metrics, postRequest and --max-requests.
 */
import { TsgiError } from '../errors.js';
import type { HttpParseError } from '../errors.js';
import { Cycle, type Transport } from '../gateway/cycle.js';
import { RequestInput, EMPTY_INPUT, type BodySource } from '../gateway/input.js';
import { buildEnviron, type RequestHandle } from '../gateway/environ.js';
import type { CheckedResponse } from '../gateway/app-headers.js';
import { checkEarlyHints } from '../gateway/early-hints.js';
import type { Chunk, Environ, Header } from '../gateway/types.js';
import { FRAME_CLOSE, framingOf, serverResponse, type Framing, type HeadInput } from '../http/response.js';
import type { RequestHead } from '../http/events.js';
import type { Connection } from './driver.js';
import type { RequestCycle } from './runner.js';
import type { Duplex } from 'node:stream';
import type { EventEmitter } from 'node:events';
import { server as sharedServer } from '../gateway/interfaces/upgrade-server.js';
import { TIME_ORIGIN } from './clock.js';
import type { RequestOutcome, RequestRecord } from './engine.js';
import { PEER_CERTIFICATE } from './trust.js';

/**
 * What the engine parsed: the request head in the engine-neutral form the driver needs. The sans-IO
 * parser's RequestHead is one, so the tsgi engine hands it over as it is.
 */
export type RequestStart = Pick<RequestHead, 'method' | 'target' | 'versionMinor' | 'headers' | 'contentLength' | 'chunked' | 'keepAlive' | 'expectContinue'>;

const INTERNAL_ERROR = serverResponse(500, 'Internal Server Error\n');

/** RFC 9110 §7.6.1: `upgrade` as one of the Connection field's options. */
const UPGRADE_TOKEN = /(?:^|,)[ \t]*upgrade[ \t]*(?:,|$)/i;

/** What `environ['tsgi.upgrade']()` gives the app (spec §3.10). */
export interface Upgraded {
  /** The connection: the app reads and writes the new protocol on it, and closes it. */
  socket: Duplex;
  /** Bytes the server had read past the request head: the first bytes of the new protocol. */
  head: Buffer;
  /** Aborted (reason TSGI_ERR_SHUTTING_DOWN) when the worker begins a graceful stop. */
  signal: AbortSignal;
}

/** The 'upgrade' listener of the app's server (or of tsgi/node's `server`), if one listens now. */
function upgradeListener(core: { runner: { upgrades?: EventEmitter | undefined } | null }): EventEmitter | null {
  const own = core.runner?.upgrades;
  if (own !== undefined && own.listenerCount('upgrade') > 0) return own;
  return sharedServer.listenerCount('upgrade') > 0 ? sharedServer : null;
}

export class Exchange implements Transport, BodySource, RequestHandle {
  /** The TSGI cycle, or the cycle of the worker's fetch or node runner (runner.ts). */
  readonly cycle: RequestCycle;
  readonly input: RequestInput | null;
  environ: Environ | null = null;
  /** performance.now() when the head was complete. */
  readonly startedAt: number;
  /** performance.now() of the last body byte received (for --body-timeout). */
  lastProgress: number;
  bytesReceived = 0;
  /** The whole request body has been received (or there is none). */
  bodyComplete: boolean;
  /** Whether the connection may persist after this response (the request's wish, then ours). */
  keepAlive: boolean;
  status = 0;
  framing: Framing = FRAME_CLOSE;
  /** The response head was handed to the engine. */
  headSent = false;
  /** The response is over (complete, failed or abandoned): nothing more is written for it. */
  finished = false;
  private settled = false;
  /** The client got a response the server wrote (500, 504, 408...), not the app's. */
  private serverAnswered = false;
  private controller: AbortController | null = null;
  private abandonReason: TsgiError | null = null;
  /** Why the server abandoned the request, or null. */
  get abandoned(): TsgiError | null {
    return this.abandonReason;
  }
  /** Reused per connection: the head's inputs for the renderer. */
  private readonly head: HeadInput;

  constructor(
    readonly conn: Connection,
    readonly req: RequestStart,
    now: number,
  ) {
    this.startedAt = now;
    this.lastProgress = now;
    this.keepAlive = req.keepAlive && conn.mayKeepAlive();
    const runner = conn.core.runner;
    const hasBody = req.chunked || req.contentLength > 0;
    this.input = hasBody && (runner === null || !runner.ownsBody) ? new RequestInput(this, req.expectContinue) : null;
    this.bodyComplete = !hasBody;
    this.cycle = runner === null ? new Cycle(this, req.method, conn.core.log) : runner.cycle(this);
    this.head = conn.headInput;
  }

  /** Builds the environ and calls the app; false when the path is outside --root-path. */
  start(): boolean {
    const conn = this.conn;
    const core = conn.core;
    const req = this.req;
    const trust = conn.trust;
    const environ = buildEnviron(req.method, req.target, req.versionMinor, req.headers, this.input ?? EMPTY_INPUT, trust === null ? conn.info : trust.info, core.server, this);
    if (environ === null) return false;
    if (trust !== null) trust.finish(environ);
    if (conn.peerCertificate !== null) environ[PEER_CERTIFICATE] = conn.peerCertificate;
    this.environ = environ;
    core.live++;
    core.onRequestStart?.(req.method, req.target);
    if (core.beforeApp !== undefined) core.beforeApp(environ);
    // spec §3.10: a request that asks to switch protocols goes to an 'upgrade' listener when the
    // app has one (as node:http does), else it carries tsgi.upgrade.
    if (environ.HTTP_UPGRADE !== undefined && this.mayUpgrade(environ)) {
      const listener = upgradeListener(core);
      if (listener !== null) {
        this.emitUpgrade(listener);
        return true;
      }
      environ['tsgi.upgrade'] = () => this.upgrade();
    }
    this.cycle.run(core.app, environ);
    return true;
  }

  // ---- protocol upgrades (spec §3.10) ----------------------------------------------------------

  /**
   * RFC 9110 §7.8: an HTTP/1.1 request whose Connection lists `upgrade`, without content (the
   * protocol takes over right after the head), on a connection the engine can hand over.
   */
  private mayUpgrade(environ: Environ): boolean {
    const req = this.req;
    if (req.versionMinor !== 1 || req.chunked || req.contentLength > 0 || req.method === 'CONNECT') return false;
    const connection = environ.HTTP_CONNECTION;
    return typeof connection === 'string' && UPGRADE_TOKEN.test(connection) && this.conn.canHandOver();
  }

  /** `environ['tsgi.upgrade']()`: the connection and the bytes read past the head are the app's. */
  upgrade(): Upgraded {
    if (this.finished || this.headSent || this.abandonReason !== null) {
      throw new TsgiError(
        'TSGI_ERR_UPGRADE',
        this.headSent
          ? 'tsgi.upgrade() was called after the response head was sent; call it before startResponse() sends anything'
          : 'tsgi.upgrade() was called after the request was over (called twice, or the request was abandoned)',
      );
    }
    const taken = this.handOver();
    // Nothing of the app's response is sent; its body is closed (spec §6.4) when it returns.
    this.cycle.cancel(new TsgiError('TSGI_ERR_UPGRADE', 'the connection was handed over (tsgi.upgrade)'));
    return taken;
  }

  /** node:http's 'upgrade' event, for an app (or a library attached to its server) listening for it. */
  private emitUpgrade(listener: EventEmitter): void {
    const req = this.conn.incomingMessage(this);
    const taken = this.handOver();
    this.released();
    try {
      listener.emit('upgrade', req, taken.socket, taken.head);
    } catch (err) {
      this.conn.core.log.error({ err }, "an 'upgrade' listener raised; the connection was closed");
      taken.socket.destroy();
    }
  }

  /** The connection leaves the driver: recorded as a 101 (one request for --max-requests). */
  private handOver(): Upgraded {
    const taken = this.conn.handOver(this);
    this.finished = true;
    this.headSent = true;
    this.keepAlive = false;
    this.status = 101;
    this.serverAnswered = true;
    this.endInput();
    this.settle('ok');
    return taken;
  }

  /** The server answers the request itself (CONNECT, --limit-concurrency, --root-path); the app never sees it. */
  refuse(err: HttpParseError, keepAlive: boolean): void {
    this.conn.core.log.info({ status: err.status, code: err.code, remote: this.conn.info.remoteAddr }, `refused request: ${err.message}`);
    this.finished = true;
    this.keepAlive = keepAlive && this.conn.mayKeepAlive();
    this.status = err.status;
    this.serverAnswered = true;
    this.endInput();
    this.conn.writeServerResponse(this, serverResponse(err.status, err.message + '\n'), this.keepAlive);
    this.settle('refused');
    this.conn.responseDone(this, this.keepAlive);
  }

  // ---- Transport (what the cycle calls) ------------------------------------------------------

  sendHead(r: CheckedResponse, contentLength: number, noBody: boolean): void {
    if (this.finished) return;
    const input = this.input;
    // RFC 9110 §10.1.1: a client still waiting for "100 Continue" has not sent its body; rather
    // than read it, the connection closes after this response.
    if (input !== null && input.continueUnsent && !this.bodyComplete) this.keepAlive = false;
    const head = this.head;
    head.versionMinor = this.req.versionMinor;
    head.status = r.status;
    head.statusLine = r.statusLine;
    head.headers = r.headers;
    head.hasDate = r.hasDate;
    head.contentLength = contentLength;
    head.noBody = noBody;
    head.keepAlive = this.keepAlive && this.conn.mayKeepAlive();
    const framing = framingOf(head);
    this.framing = framing;
    // RFC 9112 §6.3 (8): a body delimited by closing the connection ends it.
    if (framing === FRAME_CLOSE) head.keepAlive = false;
    this.keepAlive = head.keepAlive;
    this.status = r.status;
    this.headSent = true;
    this.conn.headSent();
    this.conn.writeHead(this, head, framing, r.ascii);
  }

  sendChunk(chunk: Chunk, byteLength: number): boolean {
    if (this.finished) return true;
    return this.conn.writeBody(this, chunk, byteLength);
  }

  waitDrain(): Promise<void> {
    return this.finished ? Promise.resolve() : this.conn.writable();
  }

  finish(complete: boolean): void {
    if (this.finished) return;
    this.finished = true;
    this.endInput();
    this.conn.endResponse(this, complete);
    this.settle(complete ? 'ok' : 'app-error');
    this.conn.responseDone(this, complete && this.keepAlive);
  }

  /** spec §8.6: after a 500 the state of the request (how much of its body was read) is unknown: close. */
  failBeforeHead(): void {
    if (this.finished) return;
    this.finished = true;
    this.keepAlive = false;
    this.status = 500;
    this.serverAnswered = true;
    this.endInput();
    this.conn.writeServerResponse(this, INTERNAL_ERROR, this.keepAlive);
    this.settle('app-error');
    this.conn.responseDone(this, this.keepAlive);
  }

  abort(): void {
    if (this.finished) return;
    this.finished = true;
    this.keepAlive = false;
    this.endInput();
    this.settle('app-error');
    this.conn.destroy();
  }

  released(): void {
    this.conn.core.requestReleased();
  }

  // ---- what a runner that writes its own response calls (the node runner) --------------------

  /** The app's response completed on its own (node:http's 'finish'): record it, carry on or close. */
  nativeDone(status: number, keepAlive: boolean): void {
    if (this.finished) return;
    this.finished = true;
    this.status = status;
    this.headSent = true;
    this.keepAlive = keepAlive;
    this.settle('ok');
    this.conn.responseDone(this, keepAlive);
  }

  /** The app waits for body bytes that do not come (--body-timeout). */
  bodyHungry(): boolean {
    const input = this.input;
    return input !== null ? input.hungry : this.cycle.bodyWanted?.() === true;
  }

  /** A graceful stop began while this request was in flight. */
  draining(): void {
    this.cycle.draining?.();
  }

  // ---- BodySource (what the input calls) -----------------------------------------------------

  wantBody(): void {
    if (!this.finished) this.conn.resumeBody(this);
  }

  sendContinue(): void {
    // Bug class to avoid: a 100 Continue written after the response head is body bytes.
    if (!this.headSent && !this.finished) this.conn.writeInterim(this, 100, null);
  }

  /** Body bytes from the engine. */
  onBody(chunk: Uint8Array, now: number): void {
    this.bytesReceived += chunk.length;
    this.lastProgress = now;
    this.input?.push(chunk);
  }

  /** The body is complete; `trailers` are a chunked body's trailer fields ([] when none). */
  onBodyEnd(trailers: Header[] | null): void {
    this.bodyComplete = true;
    if (trailers !== null && this.environ !== null) this.environ['tsgi.trailers'] = trailers;
    this.input?.end();
  }

  // ---- RequestHandle (what the environ's keys call) ------------------------------------------

  signal(): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.abandonReason !== null) this.controller.abort(this.abandonReason);
    }
    return this.controller.signal;
  }

  /** spec §5.7. */
  earlyHints(headers: Header[]): void {
    if (this.headSent || (this.finished && this.abandonReason === null)) {
      throw new TsgiError('TSGI_ERR_HEADERS_SENT', "tsgi.early_hints() was called after the response head was sent; send hints before the response's first byte");
    }
    const fields = checkEarlyHints(headers);
    // Nothing goes to a request the server abandoned; RFC 9110 §15.2: "A server MUST NOT send a
    // 1xx response to an HTTP/1.0 client."
    if (this.abandonReason !== null || this.req.versionMinor === 0) return;
    this.conn.writeInterim(this, 103, fields);
  }

  // ---- ending --------------------------------------------------------------------------------

  /**
   * The server gives up on the request: the client left, a timeout ran out, or the body was
   * malformed. The app's signal aborts and its reads and writes reject with `reason`; the cycle
   * stops sending and closes the body. `answer` is what the client gets, if it is still there
   * and nothing was sent: none (client gone), or a status.
   */
  abandon(reason: TsgiError, outcome: RequestOutcome, answer: number, answerBody: string): void {
    // A response already over has nothing to abandon (its signal never aborts).
    if (this.finished) return;
    this.abandonReason = reason;
    this.finished = true;
    this.keepAlive = false;
    this.input?.fail(reason);
    this.controller?.abort(reason);
    this.cycle.cancel(reason);
    if (answer !== 0 && !this.headSent) {
      this.status = answer;
      this.serverAnswered = true;
      this.conn.writeServerResponse(this, serverResponse(answer, answerBody), false);
      this.settle(outcome);
      this.conn.responseDone(this, false);
      return;
    }
    this.settle(outcome);
    this.conn.destroy();
  }

  /** A body that broke the framing rules after the app started (spec §4.4). */
  badBody(err: HttpParseError): void {
    this.conn.core.log.info({ status: err.status, code: err.code, remote: this.conn.info.remoteAddr }, `refused request body: ${err.message}`);
    this.abandon(err, 'refused', err.status, err.message + '\n');
  }

  /** spec §4.8: once the response has ended, reads of the body reject, whatever was received. */
  private endInput(): void {
    this.input?.fail(new TsgiError('TSGI_ERR_RESPONSE_ENDED', 'the body was read after the response had ended'));
  }

  /** The one place every request ends: builds its record and reports it, exactly once. */
  private settle(outcome: RequestOutcome): void {
    if (this.settled) return;
    this.settled = true;
    const core = this.conn.core;
    core.requestSettled();
    const done = core.onRequestDone;
    if (done === undefined) return;
    const now = performance.now();
    const req = this.req;
    const record: RequestRecord = {
      environ: this.environ,
      method: req.method,
      target: req.target,
      protocol: req.versionMinor === 1 ? 'HTTP/1.1' : 'HTTP/1.0',
      remoteAddr: this.environ?.REMOTE_ADDR ?? this.conn.info.remoteAddr,
      status: this.status,
      responseHeaders: this.status === 0 || this.serverAnswered ? [] : this.cycle.response.headers,
      bytesSent: this.cycle.sent,
      bytesReceived: this.bytesReceived,
      startedAt: TIME_ORIGIN + this.startedAt,
      durationMs: now - this.startedAt,
      outcome,
    };
    core.report(record);
  }
}
