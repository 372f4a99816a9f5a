/**
 * The `tsgi` engine: the thin driver between node:net sockets and the sans-IO core. It feeds
 * received bytes to the RequestParser, runs one request at a time per connection (so pipelined
 * responses leave in order) and writes what the ResponseHead and the cycle produce.
 */
import net from 'node:net';
import { RequestParser } from '../http/parser.js';
import { NEED_DATA, HEAD, DATA, END, PAUSED, ERROR, CLOSED } from '../http/events.js';
import { ResponseHead, FRAME_CHUNKED, FRAME_NONE, LAST_CHUNK, CHUNK_END, chunkPrefix, simpleResponse } from '../http/response.js';
import { STATUS_REASONS } from '../http/status.js';
import { buildEnviron, type ConnectionInfo } from '../gateway/environ.js';
import { connectionInfo, pairs } from './connection-info.js';
import { RequestInput, EMPTY_INPUT, type BodySource } from '../gateway/input.js';
import { Cycle, type Transport } from '../gateway/cycle.js';
import type { CheckedResponse } from '../gateway/app-headers.js';
import type { Chunk, Environ } from '../gateway/types.js';
import type { HttpParseError } from '../errors.js';
import { IDLE_GRACE_MS, listenOnHandle, type Engine, type EngineOptions, type InFlightRequest, type ListenHandle, type RequestRecord } from './engine.js';

/** Bytes a connection may hold unparsed (pipelined requests, unread body) before reading stops. */
const READ_HIGH_WATER = 256 * 1024;
/** Unread request body a finished response may discard to keep the connection; beyond it, close. */
const DISCARD_LIMIT = 1024 * 1024;

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';


export class TsgiEngine implements Engine {
  private readonly servers: net.Server[] = [];
  private readonly open = new Set<Connection>();
  draining = false;
  private drained: (() => void) | null = null;

  constructor(readonly options: EngineOptions) {}

  get connections(): number {
    return this.open.size;
  }

  async listen(handle: ListenHandle): Promise<void> {
    const server = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
    server.on('error', (err) => this.options.log.error({ err }, 'listening socket error'));
    await listenOnHandle(server, handle, this.options.backlog);
    this.servers.push(server);
  }

  private accept(socket: net.Socket): void {
    if (this.draining) {
      socket.destroy();
      return;
    }
    const conn = new Connection(this, socket);
    this.open.add(conn);
  }

  /** Called by a connection when its socket has closed. */
  forget(conn: Connection): void {
    this.open.delete(conn);
    if (this.draining && this.open.size === 0 && this.drained !== null) this.drained();
  }

  drain(): Promise<void> {
    this.draining = true;
    for (const server of this.servers) server.close();
    const done = new Promise<void>((resolve) => {
      this.drained = resolve;
    });
    for (const conn of this.open) conn.drain();
    if (this.open.size === 0) this.drained!();
    return done;
  }

  destroy(): void {
    this.draining = true;
    for (const server of this.servers) server.close();
    for (const conn of this.open) conn.socket.destroy();
  }

  inFlight(now: number): InFlightRequest[] {
    const out: InFlightRequest[] = [];
    for (const conn of this.open) {
      const r = conn.current(now);
      if (r !== null) out.push(r);
    }
    return out;
  }

  expire(now: number, limitMs: number): number {
    let n = 0;
    for (const conn of this.open) if (conn.expire(now, limitMs)) n++;
    return n;
  }
}

class Connection implements Transport, BodySource {
  private readonly parser: RequestParser;
  private readonly head = new ResponseHead();
  private readonly info: ConnectionInfo;
  private input: RequestInput | null = null;
  private environ: Environ | null = null;
  /** A request is being answered. */
  private inFlight = false;
  private pumping = false;
  private paused = false;
  private keepAlive = true;
  private headAscii = true;
  private pendingHead: string | null = null;
  /** Bytes of the current response have reached the socket. */
  private headWritten = false;
  private framing = FRAME_NONE as number;
  private versionMinor: 0 | 1 = 1;
  /** Requests started on this connection. */
  private served = 0;
  private finishedAt = 0;
  /** The request being answered, for heartbeats and --request-timeout. */
  private method = '';
  private target = '';
  private startedAt = 0;
  private status = 0;
  private cycle: Cycle | null = null;
  private received = 0;
  private startedPerf = 0;
  /** The rest of a finished request's body is being read and dropped. */
  private discarding = false;
  private discarded = 0;
  private closing = false;
  gone = false;
  private drainWaiter: (() => void) | null = null;
  private drainPromise: Promise<void> | null = null;

  constructor(
    private readonly engine: TsgiEngine,
    readonly socket: net.Socket,
  ) {
    this.parser = new RequestParser(engine.options.limits);
    this.info = connectionInfo(socket);
    socket.on('data', (data: Buffer) => this.onData(data));
    socket.on('end', () => this.onEnd());
    socket.on('drain', () => this.onDrain());
    socket.on('error', () => {
      // ECONNRESET and friends: the client went away; 'close' follows and cleans up.
    });
    socket.on('close', () => this.onClose());
    socket.on('timeout', () => this.onTimeout());
    socket.setTimeout(engine.options.keepalive * 1000);
  }

  // ---- reading -------------------------------------------------------------------------------

  private onData(data: Buffer): void {
    if (this.closing) return;
    this.parser.feed(data);
    this.pump();
  }

  private onEnd(): void {
    if (this.closing) return;
    this.parser.feedEnd();
    this.pump();
  }

  /** Pulls events from the parser until it needs bytes, a response, or the app to read. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.closing) {
        const input = this.input;
        if (this.inFlight && !this.discarding && input !== null && !input.hungry) break;
        const ev = this.parser.next();
        if (ev === NEED_DATA) break;
        if (ev === HEAD) {
          this.startRequest();
        } else if (ev === DATA) {
          if (this.discarding) {
            this.discarded += this.parser.chunk!.length;
            if (this.discarded > DISCARD_LIMIT) this.close();
          } else if (input !== null) {
            this.received += this.parser.chunk!.length;
            input.push(this.parser.chunk!);
          }
        } else if (ev === END) {
          if (this.discarding) {
            this.discarding = false;
          } else if (input !== null) {
            const trailers = this.parser.trailers;
            if (trailers !== null && this.environ !== null) this.environ['tsgi.trailers'] = pairs(trailers);
            input.end();
          }
          this.input = null;
        } else if (ev === PAUSED) {
          if (this.inFlight) break;
          this.parser.startNextRequest();
          if (this.engine.draining) {
            this.close();
            break;
          }
        } else if (ev === ERROR) {
          this.onParseError();
          break;
        } else if (ev === CLOSED) {
          if (!this.inFlight) this.close();
          break;
        }
      }
    } finally {
      this.pumping = false;
    }
    this.applyBackpressure();
  }

  /** Stop reading while too much is buffered; a slow app never makes the worker hoard input. */
  private applyBackpressure(): void {
    const full = this.parser.buffered > READ_HIGH_WATER;
    if (full && !this.paused) {
      this.paused = true;
      this.socket.pause();
    } else if (!full && this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private startRequest(): void {
    const h = this.parser.head!;
    this.served++;
    this.socket.setTimeout(0);
    this.inFlight = true;
    this.method = h.method;
    this.target = h.target;
    this.startedAt = Date.now();
    this.startedPerf = performance.now();
    this.status = 0;
    this.received = 0;
    this.cycle = null;
    this.versionMinor = h.versionMinor;
    this.keepAlive = h.keepAlive && !this.engine.draining;
    if (h.method === 'CONNECT') {
      // Tunnels are not part of TSGI; the request never reaches the app.
      this.keepAlive = false;
      this.sendError(501, 'Not Implemented', 'CONNECT is not supported\n');
      this.finish(true);
      return;
    }
    const hasBody = h.chunked || h.contentLength > 0;
    const input = hasBody ? new RequestInput(this, h.expectContinue) : null;
    this.input = input;
    const opts = this.engine.options;
    const environ = buildEnviron(h.method, h.target, h.versionMinor, h.headers, input ?? EMPTY_INPUT, this.info, opts.server);
    this.environ = environ;
    const cycle = new Cycle(this, h.method, opts.log);
    this.cycle = cycle;
    cycle.run(opts.app, environ);
  }

  private onParseError(): void {
    const err = this.parser.error!;
    if (this.inFlight && !this.discarding) {
      // The head was fine but the body is not. The app sees its read fail; the client gets the
      // error status if no byte of the response has left yet, and the connection closes.
      this.input?.fail(err);
      this.input = null;
      this.inFlight = false;
      if (!this.headWritten) this.reject(err);
      // Whatever the app produces from now on has nowhere to go.
      this.gone = true;
      this.close();
      return;
    }
    if (this.discarding) {
      this.close();
      return;
    }
    this.reject(err);
  }

  /** Answers a request the parser refused, then closes. */
  private reject(err: HttpParseError): void {
    this.engine.options.log.info({ status: err.status, code: err.code, remote: this.info.remoteAddr }, `refused request: ${err.message}`);
    const reason = STATUS_REASONS[err.status] ?? 'Bad Request';
    this.writeAndClose(simpleResponse(err.status, reason, err.message + '\n', true));
  }

  // ---- BodySource ----------------------------------------------------------------------------

  wantBody(): void {
    if (!this.pumping) this.pump();
  }

  sendContinue(): void {
    if (!this.gone && !this.closing) this.socket.write(CONTINUE, 'latin1');
  }

  // ---- Transport -----------------------------------------------------------------------------

  sendHead(r: CheckedResponse, contentLength: number, noBody: boolean): void {
    const input = this.input;
    // RFC 9110 §10.1.1: a client still waiting for "100 Continue" has not sent its body; rather
    // than read it, the connection closes after this response.
    if (input !== null && input.continueUnsent && !input.ended) this.keepAlive = false;
    const head = this.head.render({
      versionMinor: this.versionMinor,
      statusLine: r.statusLine,
      headers: r.headers,
      contentLength,
      noBody,
      keepAlive: this.keepAlive && !this.engine.draining,
      status: r.status,
    });
    this.keepAlive = head.keepAlive;
    this.framing = head.framing;
    this.status = r.status;
    this.headAscii = r.ascii;
    this.pendingHead = head.text;
    this.headWritten = false;
  }

  sendChunk(chunk: Chunk, byteLength: number): boolean {
    if (this.gone) return true;
    const socket = this.socket;
    const head = this.pendingHead;
    this.pendingHead = null;
    this.headWritten = true;
    if (this.framing === FRAME_CHUNKED) {
      if (typeof chunk === 'string' && this.headAscii) {
        return socket.write((head ?? '') + chunkPrefix(byteLength) + chunk + CHUNK_END);
      }
      socket.cork();
      if (head !== null) socket.write(head, 'latin1');
      socket.write(chunkPrefix(byteLength), 'latin1');
      socket.write(chunk);
      socket.write(CHUNK_END, 'latin1');
      socket.uncork();
      return !socket.writableNeedDrain;
    }
    if (head === null) return socket.write(chunk);
    if (typeof chunk === 'string' && this.headAscii) return socket.write(head + chunk);
    socket.cork();
    socket.write(head, 'latin1');
    socket.write(chunk);
    socket.uncork();
    return !socket.writableNeedDrain;
  }

  waitDrain(): Promise<void> {
    if (this.gone || !this.socket.writableNeedDrain) return Promise.resolve();
    this.drainPromise ??= new Promise<void>((resolve) => {
      this.drainWaiter = resolve;
    });
    return this.drainPromise;
  }

  private onDrain(): void {
    const resolve = this.drainWaiter;
    if (resolve !== null) {
      this.drainWaiter = null;
      this.drainPromise = null;
      resolve();
    }
  }

  finish(complete: boolean): void {
    if (!this.inFlight) return;
    const head = this.pendingHead;
    this.pendingHead = null;
    if (!this.gone) {
      if (this.framing === FRAME_CHUNKED) this.socket.write(head === null ? LAST_CHUNK : head + LAST_CHUNK, 'latin1');
      else if (head !== null) this.socket.write(head, 'latin1');
    }
    this.inFlight = false;
    this.headWritten = false;
    this.finishedAt = Date.now();
    const done = this.engine.options.onRequestDone;
    if (done !== undefined) done(this.record(complete));
    this.environ = null;
    if (!complete || !this.keepAlive || this.engine.draining) {
      this.close();
      return;
    }
    const input = this.input;
    if (input !== null) {
      // The app did not read the whole body: read and drop the rest (bounded) so the next
      // request on this connection starts where it should.
      input.fail(new Error('the response has ended'));
      this.discarding = true;
      this.discarded = input.queued;
      this.input = null;
    }
    this.socket.setTimeout(this.engine.draining ? IDLE_GRACE_MS : this.engine.options.keepalive * 1000);
    this.pump();
  }

  sendError(status: number, reason: string, body: string): void {
    this.pendingHead = null;
    this.status = status;
    this.framing = FRAME_NONE;
    if (!this.gone) this.socket.write(simpleResponse(status, reason, body, !this.keepAlive || this.engine.draining));
  }

  abort(): void {
    this.inFlight = false;
    this.socket.destroy();
  }

  private record(complete: boolean): RequestRecord {
    const environ = this.environ;
    const cycle = this.cycle;
    return {
      environ,
      method: this.method,
      target: this.target,
      protocol: this.versionMinor === 1 ? 'HTTP/1.1' : 'HTTP/1.0',
      remoteAddr: this.info.remoteAddr,
      status: this.status,
      responseHeaders: cycle?.response.headers ?? [],
      bytesSent: cycle?.sent ?? 0,
      bytesReceived: this.received,
      startedAt: this.startedAt,
      durationMs: performance.now() - this.startedPerf,
      outcome: complete ? 'ok' : 'app-error',
    };
  }

  // ---- supervision ---------------------------------------------------------------------------

  current(now: number): InFlightRequest | null {
    if (!this.inFlight) return null;
    return { method: this.method, target: this.target, ms: now - this.startedAt };
  }

  /** --request-timeout: the app keeps running, but its answer has nowhere to go. */
  expire(now: number, limitMs: number): boolean {
    if (!this.inFlight || now - this.startedAt < limitMs) return false;
    this.engine.options.log.error(
      { method: this.method, target: this.target, ms: now - this.startedAt },
      `request exceeded --request-timeout (${limitMs / 1000}s); ${this.headWritten ? 'connection aborted' : 'answered 504'}`,
    );
    this.inFlight = false;
    this.input?.fail(new Error('the request timed out'));
    this.input = null;
    if (this.headWritten) {
      this.gone = true;
      this.socket.destroy();
      return true;
    }
    this.pendingHead = null;
    this.writeAndClose(simpleResponse(504, 'Gateway Timeout', 'the request took too long\n', true));
    this.gone = true;
    return true;
  }

  // ---- closing -------------------------------------------------------------------------------

  /**
   * Graceful stop: a connection idle between requests closes now; one with a request in flight
   * closes after its response (which says Connection: close). A connection that was accepted
   * but has not finished sending its first request gets that request answered, the same way:
   * the client has done nothing wrong, and closing it now would fail a request that is on the way.
   */
  drain(): void {
    if (this.inFlight || this.served === 0 || this.parser.buffered > 0) {
      this.keepAlive = false;
      return;
    }
    // A client under load reuses its connection within milliseconds; closing it at that moment
    // races its next request (RFC 9112 §9.3.1 lets it retry, but it is a failure it sees).
    // Recently used connections get until IDLE_GRACE_MS to send it, answered with close.
    const idle = Date.now() - this.finishedAt;
    if (idle >= IDLE_GRACE_MS) {
      this.close();
    } else {
      this.keepAlive = false;
      this.socket.setTimeout(IDLE_GRACE_MS - idle);
    }
  }

  private close(): void {
    if (this.closing) return;
    this.closing = true;
    this.input?.fail(new Error('the connection closed'));
    this.input = null;
    // RFC 9112 §9.6: half-close first so the response is not lost to a reset, then let the
    // kernel finish; a client that never closes is cut off by the timeout.
    this.socket.end();
    this.socket.setTimeout(5000);
  }

  private writeAndClose(data: string): void {
    if (!this.gone) this.socket.write(data);
    this.close();
  }

  private onTimeout(): void {
    if (this.inFlight) return;
    this.socket.destroy();
  }

  private onClose(): void {
    this.gone = true;
    this.closing = true;
    this.input?.fail(new Error('the client disconnected'));
    this.input = null;
    this.onDrain();
    this.engine.forget(this);
  }
}
