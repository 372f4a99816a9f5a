/**
 * The `node` engine: node:http (whose parser is llhttp) carrying TSGI apps. It applies the sans-IO
 * parser's rules to what llhttp parsed (node-checks.ts), and runs every request through the same
 * request driver as the tsgi engine (driver.ts): one request at a time per connection, the same
 * heads (node:http is handed the fields the tsgi engine writes, and writes the same bytes), the
 * same timeouts, refusals and drain. node:http's own timers are off: the driver's sweep keeps time.
 */
import http from 'node:http';
import net from 'node:net';
import { HttpParseError } from '../errors.js';
import { parseError, serverRefusal } from '../http/errors.js';
import { informationalText, serverResponseFields, serverResponseText, type Framing, type HeadInput, type ServerResponse } from '../http/response.js';
import type { Chunk, Header } from '../gateway/types.js';
import { checkTarget } from '../http/parser.js';
import { connectionInfo, pairs } from './connection-info.js';
import { GONE, IDLE } from './connection-state.js';
import { Connection, EngineCore } from './driver.js';
import type { Exchange, RequestStart } from './exchange.js';
import { checkNodeRequest, checkNodeTrailers, clientErrorRefusal } from './node-checks.js';
import { listenOnHandle, type Engine, type EngineOptions, type InFlightRequest, type ListenHandle } from './engine.js';
import { watchDrops } from './drops.js';
import { ReadLedger } from './node-handover.js';
import { llhttpHooks, parserOf } from './node-llhttp.js';
import { TsgiConnection } from './tsgi.js';

/** Unread request body a finished response may discard to keep the connection; beyond it, close. */
const DISCARD_LIMIT = 1024 * 1024;
/**
 * Pipelined requests node:http may have parsed ahead and held here: past this many, the socket
 * stops being read (node:http only stops on output it holds, and these have none yet).
 */
const QUEUE_HIGH = 32;

const kConnection = Symbol('tsgi.connection');
type TrackedSocket = net.Socket & { [kConnection]?: NodeConnection };

export class NodeEngine implements Engine {
  private readonly servers: http.Server[] = [];
  readonly core: EngineCore;

  constructor(readonly options: EngineOptions) {
    this.core = new EngineCore(options);
  }

  get connections(): number {
    return this.core.connections.size;
  }

  async listen(handle: ListenHandle): Promise<void> {
    const o = this.options;
    const limits = o.limits;
    const server = http.createServer({
      // tsgi's own limits are checked per request (checkNodeRequest); llhttp's total must not
      // refuse first, so it is set to the most those limits allow.
      maxHeaderSize: (limits.maxRequestLine || 8190) + limits.maxHeaderCount * (limits.maxHeaderFieldSize + 2) + 4,
      // A missing Host is refused by tsgi's checks, with the tsgi engine's answer, not node:http's own 400.
      requireHostHeader: false,
      joinDuplicateHeaders: false,
      insecureHTTPParser: false,
      // The driver's sweep keeps every deadline; node:http's timers would race it.
      keepAliveTimeout: 0,
      requestTimeout: 0,
      headersTimeout: 0,
    });
    server.keepAliveTimeout = 0;
    // Node drops fields past maxHeadersCount silently; tsgi refuses them instead (431).
    server.maxHeadersCount = 0;
    watchDrops(server, o);
    server.on('connection', (socket: TrackedSocket) => {
      socket[kConnection] = new NodeConnection(this.core, socket, this.options);
    });
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => connectionOf(req.socket)?.onRequest(req, res, false, null));
    server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => connectionOf(req.socket)?.onRequest(req, res, true, null));
    server.on('checkExpectation', (req: http.IncomingMessage, res: http.ServerResponse) => {
      const refusal = new HttpParseError('TSGI_ERR_HTTP_EXPECTATION', 417, 'Expect holds something other than 100-continue; send only 100-continue');
      connectionOf(req.socket)?.onRequest(req, res, false, refusal);
    });
    server.on('connect', (req: http.IncomingMessage, socket: net.Socket) => {
      // node:http hands CONNECT over as a raw socket; it never reaches the app.
      const conn = connectionOf(socket);
      if (conn === undefined) return void socket.destroy();
      const bad = checkTarget(req.method!, req.url!);
      conn.refuseRaw(bad ?? serverRefusal('TSGI_ERR_CONNECT', 'CONNECT is not supported'), req);
    });
    server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: net.Socket) => {
      const conn = connectionOf(socket);
      if (conn === undefined) socket.destroy();
      else conn.onClientError(err);
    });
    server.on('error', (err) => o.log.error({ err }, 'listening socket error'));
    await listenOnHandle(server, handle, o.backlog);
    this.servers.push(server);
  }

  drain(): Promise<void> {
    // Since Node 19, http.Server.close() also closes every idle connection at once, which would
    // drop the next request of a client that just got a response; stop accepting only, and let
    // the driver drain (IDLE_GRACE_MS).
    for (const server of this.servers) net.Server.prototype.close.call(server);
    return this.core.drain();
  }

  destroy(): void {
    for (const server of this.servers) net.Server.prototype.close.call(server);
    this.core.destroyAll();
  }

  inFlight(): InFlightRequest[] {
    return this.core.inFlight(performance.now());
  }
}

function connectionOf(socket: net.Socket): NodeConnection | undefined {
  return (socket as TrackedSocket)[kConnection];
}

interface Pending {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  expectContinue: boolean;
  refusal: HttpParseError | null;
  /** The Content-Length, or -1 when the request has none. */
  contentLength: number;
  chunked: boolean;
}

class NodeConnection extends Connection {
  private req: http.IncomingMessage | null = null;
  private res: http.ServerResponse | null = null;
  /**
   * Requests node:http reported that wait their turn (one runs at a time). The last `unsettled`
   * of them came in the buffer llhttp is parsing now and stand only once the ledger says llhttp
   * read that buffer faithfully (node-handover.ts).
   */
  private readonly queue: Pending[] = [];
  private unsettled = 0;
  /** Reads what llhttp parsed, to hand the connection over when it may have read otherwise; null when node:http lacks the hooks. */
  private readonly ledger: ReadLedger | null;
  /** The bytes the sans-IO parser takes over from, once the requests before them are answered. */
  private handover: Buffer | null = null;
  /** Without a ledger: a malformed request after those in flight, answered once they have been. */
  private pendingRefusal: HttpParseError | null = null;
  private bytesAtIdle = 0;
  private discarded = 0;
  /** The last response has not left yet: the next request waits (bounded output per connection). */
  private waitingForFinish = false;
  private drainWaiter: Promise<void> | null = null;
  private readonly onSocketClose = (): void => this.gone();

  constructor(
    core: EngineCore,
    private readonly socket: net.Socket,
    private readonly options: EngineOptions,
  ) {
    super(core, connectionInfo(socket), performance.now());
    socket.once('close', this.onSocketClose);
    const parser = llhttpHooks === null ? null : parserOf(socket);
    this.ledger = parser === null ? null : new ReadLedger(socket, parser, core.log, (bytes) => this.parsed(bytes));
  }

  protected override headBytesPending(): boolean {
    return this.socket.bytesRead > this.bytesAtIdle;
  }

  onRequest(req: http.IncomingMessage, res: http.ServerResponse, expectContinue: boolean, refusal: HttpParseError | null): void {
    if (this.closing) {
      // RFC 9112 §9.6: nothing after a response that said close is processed.
      res.destroy();
      return;
    }
    // Node's ServerResponse would add a Date of its own; the driver sends one (or the app's).
    res.sendDate = false;
    const headers = req.headers;
    const cl = headers['content-length'];
    const contentLength = cl === undefined ? -1 : Number(cl);
    const chunked = headers['transfer-encoding'] !== undefined;
    const checked = refusal ?? checkNodeRequest(req, this.options.limits);
    const ledger = this.ledger;
    if (ledger !== null) {
      // Whatever tsgi would refuse, and every chunked body, the sans-IO parser reads instead: its
      // answer is the tsgi engine's, to the byte.
      ledger.request(typeof checked === 'number' && !chunked ? checked : -1, contentLength < 0 ? 0 : contentLength);
      this.unsettled++;
    }
    this.queue.push({ req, res, expectContinue, refusal: typeof checked === 'number' ? null : checked, contentLength, chunked });
    if (ledger === null) this.startQueued();
    if (this.queue.length >= QUEUE_HIGH && !this.socket.isPaused()) this.socket.pause();
  }

  /** The ledger has settled the buffer llhttp parsed: its requests stand, or the sans-IO parser takes over. */
  private parsed(handOver: Buffer | null): void {
    const fresh = this.unsettled;
    this.unsettled = 0;
    if (handOver === null) {
      if (fresh > 0) this.startQueued();
      return;
    }
    // llhttp's reading of the requests in that buffer is dropped: the sans-IO parser reads them.
    this.queue.length -= fresh;
    this.handover = handOver;
    this.core.log.debug({ remote: this.info.remoteAddr, served: this.served }, 'node engine: the rest of this connection goes to the sans-IO parser (llhttp refused or may have normalised a request)');
    this.startQueued();
  }

  private start(p: Pending): void {
    const { req, res } = p;
    this.req = req;
    this.res = res;
    const now = performance.now();
    if (p.refusal !== null) {
      req.resume();
      this.refuseHead(p.refusal, req.method ?? '', req.url ?? '', req.httpVersionMinor === 0 ? 0 : 1);
      return;
    }
    const start: RequestStart = {
      method: req.method!,
      target: req.url!,
      versionMinor: req.httpVersionMinor === 0 ? 0 : 1,
      headers: req.rawHeaders,
      contentLength: p.contentLength,
      chunked: p.chunked,
      keepAlive: res.shouldKeepAlive,
      expectContinue: p.expectContinue,
    };
    this.beginRequest(start, now);
    const ex = this.exchange;
    if (ex !== null && ex.input !== null) this.attachBody(ex, req, p.chunked);
    else req.resume();
  }

  private attachBody(ex: Exchange, req: http.IncomingMessage, chunked: boolean): void {
    const input = ex.input!;
    req.on('data', (chunk: Buffer) => {
      if (ex.finished) {
        // The response is over: the rest of the body is dropped, up to a bound.
        this.discarded += chunk.length;
        if (this.discarded > DISCARD_LIMIT) this.destroy();
        return;
      }
      ex.onBody(chunk, performance.now());
      if (!input.hungry) req.pause();
    });
    req.once('end', () => {
      if (ex.finished) return;
      let trailers: Header[] | null = null;
      if (chunked) {
        // Only without a ledger: with one, chunked bodies are the sans-IO parser's.
        const bad = checkNodeTrailers(req.rawTrailers);
        if (bad !== null) return void ex.badBody(bad);
        trailers = pairs(req.rawTrailers);
      }
      ex.onBodyEnd(trailers);
    });
  }

  /**
   * node:http reports an error on the socket: a parse error read in JavaScript (the ledger hands
   * the connection over), the connection ending in the middle of a body, a reset; without a
   * ledger, whatever llhttp refused.
   */
  onClientError(err: NodeJS.ErrnoException & { rawPacket?: Buffer; reason?: string }): void {
    if (this.handover !== null || this.closing) return;
    if (this.ledger !== null && err.code !== 'HPE_INVALID_EOF_STATE' && this.ledger.parseError(err)) return;
    // RFC 9112 §9.6: bytes after a "Connection: close" request are not a request; the request
    // itself is still answered, and node:http closes after that answer.
    if (err.code === 'HPE_CLOSED_CONNECTION') {
      if (this.state === IDLE && this.queue.length === 0) this.destroy();
      return;
    }
    if (err.code === 'ECONNRESET' || !this.socket.writable) {
      this.destroy();
      return;
    }
    const ex = this.exchange;
    if (ex !== null && !ex.finished && !ex.bodyComplete) {
      // The head was fine but the body is not: cut short (the sans-IO parser's words for it), or
      // malformed (only without a ledger: with one, chunked bodies are the sans-IO parser's).
      ex.badBody(err.code === 'HPE_INVALID_EOF_STATE' ? parseError('TSGI_ERR_HTTP_INCOMPLETE', 'the connection ended in the middle of the body; send the complete request') : clientErrorRefusal(err));
      return;
    }
    const refusal = clientErrorRefusal(err);
    if (this.state !== IDLE || this.queue.length > 0) {
      // Responses leave in order: the refusal waits for the requests before it.
      this.pendingRefusal ??= refusal;
      return;
    }
    this.req = null;
    this.res = null;
    this.refuseHead(refusal);
  }

  /** A refusal on a socket node:http no longer parses (CONNECT): written raw. */
  refuseRaw(err: HttpParseError, req: http.IncomingMessage): void {
    this.req = null;
    this.res = null;
    this.refuseHead(err, req.method ?? '', req.url ?? '', req.httpVersionMinor === 0 ? 0 : 1);
  }

  resumeBody(_ex: Exchange): void {
    this.req?.resume();
  }

  // ---- writing -------------------------------------------------------------------------------

  writeHead(_ex: Exchange, head: HeadInput, framing: Framing, _ascii: boolean): void {
    const res = this.res!;
    // statusLine is "200 OK": three digits and a space, then the reason phrase.
    res.writeHead(head.status, head.statusLine.slice(4), this.core.renderer.fields(head, framing, head.keepAlive));
  }

  writeBody(_ex: Exchange, chunk: Chunk, _byteLength: number): boolean {
    const res = this.res;
    if (res === null || res.destroyed) return true;
    return res.write(chunk);
  }

  endResponse(_ex: Exchange, _complete: boolean): void {
    const res = this.res;
    if (res !== null && !res.destroyed) res.end();
  }

  writeServerResponse(_ex: Exchange | null, response: ServerResponse, keepAlive: boolean): void {
    const res = this.res;
    if (res !== null && !res.headersSent && !res.destroyed) {
      const timeout = keepAlive ? this.core.renderer.keepAliveTimeout : null;
      res.writeHead(response.status, response.statusLine.slice(4), serverResponseFields(response, timeout));
      res.end(response.body);
    } else if (!this.socket.destroyed && this.socket.writable) {
      this.socket.write(serverResponseText(response, null));
    }
  }

  writeInterim(_ex: Exchange, status: 100 | 103, headers: Header[] | null): void {
    const res = this.res;
    if (res === null || res.headersSent) return;
    if (status === 100) res.writeContinue();
    // Nothing of this response is written yet and the one before it is complete: the socket is
    // where the bytes go next.
    else this.socket.write(informationalText(status, headers!), 'latin1');
  }

  writable(): Promise<void> {
    const res = this.res;
    if (res === null || res.destroyed || !res.writableNeedDrain) return Promise.resolve();
    this.drainWaiter ??= new Promise<void>((resolve) => {
      const done = (): void => {
        this.drainWaiter = null;
        res.removeListener('drain', done);
        res.removeListener('close', done);
        resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    });
    return this.drainWaiter;
  }

  // ---- between requests ----------------------------------------------------------------------

  protected nextRequest(ex: Exchange): void {
    if (!ex.bodyComplete) {
      // The app did not read the whole body: the data listener drops the rest (bounded).
      this.discarded = 0;
      this.req?.resume();
    }
    const res = this.res;
    this.req = null;
    this.res = null;
    this.bytesAtIdle = this.socket.bytesRead;
    if (this.queue.length === 0 && this.pendingRefusal === null && this.handover === null) return;
    // RFC 9112 §9.3.2: the next answer waits for this one to have left, so a client that reads
    // nothing makes the worker hold one response, not one per request it pipelined.
    if (res !== null && !res.writableFinished && !res.destroyed) {
      this.waitingForFinish = true;
      const go = (): void => {
        res.removeListener('finish', go);
        res.removeListener('close', go);
        this.waitingForFinish = false;
        this.startQueued();
      };
      res.on('finish', go);
      res.on('close', go);
      return;
    }
    this.startQueued();
  }

  private startQueued(): void {
    if (this.state !== IDLE || this.waitingForFinish) return;
    if (this.queue.length > this.unsettled) {
      const next = this.queue.shift()!;
      if (this.queue.length < QUEUE_HIGH / 4 && this.socket.isPaused() && this.handover === null) this.socket.resume();
      this.start(next);
      return;
    }
    if (this.unsettled > 0) return;
    if (this.handover !== null) return this.handOver();
    const refusal = this.pendingRefusal;
    if (refusal !== null) {
      this.pendingRefusal = null;
      this.refuseHead(refusal);
    }
  }

  /**
   * Every request llhttp read faithfully is answered: the sans-IO parser reads the rest of the
   * connection, from the bytes llhttp may have read otherwise on, with the tsgi engine's
   * connection handling on the same driver (and the same record, counts and timers).
   */
  private handOver(): void {
    const bytes = this.handover!;
    this.handover = null;
    const socket = this.socket;
    if (socket.destroyed) return;
    socket.removeListener('close', this.onSocketClose);
    new TsgiConnection(this.core, socket, this.options.limits, { info: this.info, openedAt: this.openedAt, served: this.served, bytes });
    this.move(GONE);
    this.core.forget(this);
  }

  protected closeGracefully(_peerDone: boolean): void {
    const res = this.res;
    // A response node:http still writes said "Connection: close": node:http ends the socket
    // once it has left. Ending it here could send the FIN ahead of it.
    if (res !== null && !res.writableFinished && !res.destroyed) return;
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}
