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
import { serverRefusal } from '../http/errors.js';
import { informationalText, serverResponseFields, serverResponseText, type Framing, type HeadInput, type ServerResponse } from '../http/response.js';
import type { Chunk, Header } from '../gateway/types.js';
import { checkTarget } from '../http/parser.js';
import { pairs } from './connection-info.js';
import { IDLE } from './connection-state.js';
import { Connection, EngineCore } from './driver.js';
import type { Exchange, RequestStart } from './exchange.js';
import type { NodePair } from './node-cycle.js';
import { checkNodeRequest, checkNodeTrailers, clientErrorRefusal } from './node-checks.js';
import { listenOnHandle, type Engine, type EngineOptions, type InFlightRequest, type ListenHandle } from './engine.js';
import { watchDrops } from './drops.js';
import { acceptConnections, type Accepted } from './accept.js';

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
  private readonly servers: net.Server[] = [];
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
    const httpOptions: http.ServerOptions = {
      // tsgi's own limits are checked per request (checkNodeRequest); llhttp's total must not
      // refuse first, so it is set to the most those limits allow.
      maxHeaderSize: (limits.maxRequestLine || 8190) + limits.maxHeaderCount * (limits.maxHeaderFieldSize + 2) + 4,
      requireHostHeader: true,
      joinDuplicateHeaders: false,
      insecureHTTPParser: false,
      // The driver's sweep keeps every deadline; node:http's timers would race it.
      keepAliveTimeout: 0,
      requestTimeout: 0,
      headersTimeout: 0,
    };
    // node:https (and node:tls) is loaded only by a server that serves TLS.
    const server = o.tls === undefined ? http.createServer(httpOptions) : (await import('node:https')).createServer({ ...o.tls.options, ...httpOptions });
    server.keepAliveTimeout = 0;
    // Node drops fields past maxHeadersCount silently; tsgi refuses them instead (431).
    server.maxHeadersCount = 0;
    const listening = await acceptConnections(server, this.core, o, (socket: TrackedSocket, accepted) => {
      socket[kConnection] = new NodeConnection(this.core, socket, this.options, accepted);
      // After a PROXY protocol header: node:http reads the socket's handle itself from now on, so
      // the bytes that followed the header are given to its parser here, before any later read.
      if (accepted.head !== null) socket.emit('data', accepted.head);
    });
    watchDrops(listening, o);
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => connectionOf(req.socket)?.onRequest(req, res, false, null));
    server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => connectionOf(req.socket)?.onRequest(req, res, true, null));
    server.on('checkExpectation', (req: http.IncomingMessage, res: http.ServerResponse) => {
      const refusal = new HttpParseError('TSGI_ERR_HTTP_EXPECTATION', 417, 'Expect holds something other than 100-continue; send only 100-continue');
      connectionOf(req.socket)?.onRequest(req, res, false, refusal);
    });
    // spec §3.10: a request that asks to switch protocols comes here, not to 'request': node:http
    // has stopped parsing the connection, which the app may then take over.
    server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      const conn = connectionOf(socket);
      if (conn === undefined) return void socket.destroy();
      conn.onUpgrade(req, socket, head);
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
    listening.on('error', (err) => o.log.error({ err }, 'listening socket error'));
    await listenOnHandle(listening, handle, o.backlog);
    this.servers.push(listening);
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
  /** For a request node:http handed over as 'upgrade': the bytes it read past the head. */
  upgradeHead?: Buffer;
}

class NodeConnection extends Connection {
  private req: http.IncomingMessage | null = null;
  private res: http.ServerResponse | null = null;
  /** Pipelined requests node:http parsed while one was in flight: they wait their turn. */
  private readonly queue: Pending[] = [];
  /** A malformed request after those in flight: answered once they have been. */
  private pendingRefusal: HttpParseError | null = null;
  private bytesAtIdle = 0;
  private discarded = 0;
  /** The last response has not left yet: the next request waits (bounded output per connection). */
  private waitingForFinish = false;
  private drainWaiter: Promise<void> | null = null;
  /** The request in flight came as 'upgrade': what node:http read past its head. */
  private upgradeHead: Buffer | null = null;

  constructor(
    core: EngineCore,
    private readonly socket: net.Socket,
    private readonly options: EngineOptions,
    accepted: Accepted,
  ) {
    super(core, accepted.info, accepted.acceptedAt, accepted.certificate);
    socket.once('close', () => this.gone());
  }

  protected override headBytesPending(): boolean {
    return this.socket.bytesRead > this.bytesAtIdle;
  }

  /**
   * An 'upgrade' request: node:http no longer parses this connection. It is answered (or handed
   * over) as any request, on a ServerResponse made for it, and the connection closes after a
   * response that did not take it over.
   */
  onUpgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer): void {
    // node:http took its own error listener off the socket.
    socket.on('error', () => {});
    const res = new http.ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket);
    // No node:http server follows this response: the connection ends once it has left.
    res.once('finish', () => socket.end());
    const te = req.headers['transfer-encoding'];
    const cl = req.headers['content-length'];
    const refusal =
      te !== undefined || (cl !== undefined && cl !== '0')
        ? serverRefusal('TSGI_ERR_UPGRADE_CONTENT', 'an Upgrade request with content is not supported on the node engine; send the upgrade without a body')
        : null;
    this.onRequest(req, res, false, refusal, head);
  }

  onRequest(req: http.IncomingMessage, res: http.ServerResponse, expectContinue: boolean, refusal: HttpParseError | null, upgradeHead?: Buffer): void {
    if (this.closing) {
      // RFC 9112 §9.6: nothing after a response that said close is processed.
      res.destroy();
      return;
    }
    // Node's ServerResponse would add a Date of its own; the driver sends one (or the app's).
    res.sendDate = false;
    if (this.state !== IDLE || this.queue.length > 0 || this.waitingForFinish) {
      // A node app reads its own req (node buffers it meanwhile); a TSGI app's body waits here.
      if (!this.nodeApp) req.pause();
      this.queue.push({ req, res, expectContinue, refusal, ...(upgradeHead !== undefined ? { upgradeHead } : {}) });
      if (this.queue.length >= QUEUE_HIGH && !this.socket.isPaused()) this.socket.pause();
      return;
    }
    this.start({ req, res, expectContinue, refusal, ...(upgradeHead !== undefined ? { upgradeHead } : {}) });
  }

  private start(p: Pending): void {
    const { req, res } = p;
    this.req = req;
    this.res = res;
    this.upgradeHead = p.upgradeHead ?? null;
    const now = performance.now();
    const refusal = p.refusal ?? checkNodeRequest(req, this.options.limits);
    if (refusal !== null) {
      req.resume();
      this.refuseHead(refusal, req.method ?? '', req.url ?? '', req.httpVersionMinor === 0 ? 0 : 1);
      return;
    }
    const headers = req.headers;
    const te = headers['transfer-encoding'];
    const cl = headers['content-length'];
    const start: RequestStart = {
      method: req.method!,
      target: req.url!,
      versionMinor: req.httpVersionMinor === 0 ? 0 : 1,
      headers: req.rawHeaders,
      contentLength: cl === undefined ? -1 : Number(cl),
      chunked: te !== undefined,
      keepAlive: res.shouldKeepAlive,
      expectContinue: p.expectContinue,
    };
    this.beginRequest(start, now);
    const ex = this.exchange;
    if (ex !== null && ex.input !== null) this.attachBody(ex, req, te !== undefined);
    // A node app reads req itself; a refused request's body is dropped.
    else if (!this.nodeApp || ex === null || ex.finished) req.resume();
  }

  /** The worker's app is a node app: it gets node:http's req and res (node-cycle.ts). */
  private get nodeApp(): boolean {
    return this.core.runner?.ownsBody === true;
  }

  override nodePair(): NodePair | null {
    const req = this.req;
    const res = this.res;
    return req !== null && res !== null ? { req, res } : null;
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
        const bad = checkNodeTrailers(req.rawTrailers);
        if (bad !== null) return void ex.badBody(bad);
        trailers = pairs(req.rawTrailers);
      }
      ex.onBodyEnd(trailers);
    });
  }

  /** llhttp refused what it read: the request in flight, or a later one, or the connection's first. */
  onClientError(err: NodeJS.ErrnoException & { rawPacket?: Buffer; reason?: string }): void {
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
    const refusal = clientErrorRefusal(err);
    const ex = this.exchange;
    if (ex !== null && !ex.finished && !ex.bodyComplete) {
      // The head was fine but the body is not.
      ex.badBody(refusal);
      return;
    }
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

  // ---- handing the connection over (spec §3.10) ------------------------------------------------

  /** Only a request node:http handed over as 'upgrade' leaves the connection free to give away. */
  override canHandOver(): boolean {
    return super.canHandOver() && this.upgradeHead !== null;
  }

  protected detach(_ex: Exchange): { socket: net.Socket; head: Buffer } {
    const head = this.upgradeHead ?? Buffer.alloc(0);
    this.upgradeHead = null;
    const res = this.res;
    if (res !== null) {
      res.removeAllListeners('finish');
      res.detachSocket(this.socket);
    }
    this.req = null;
    this.res = null;
    return { socket: this.socket, head };
  }

  incomingMessage(_ex: Exchange): http.IncomingMessage {
    return this.req!;
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
    if (this.queue.length === 0 && this.pendingRefusal === null) return;
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
    if (this.state !== IDLE) return;
    const next = this.queue.shift();
    if (next !== undefined) {
      if (this.queue.length < QUEUE_HIGH / 4 && this.socket.isPaused()) this.socket.resume();
      if (!this.nodeApp) next.req.resume();
      this.start(next);
      return;
    }
    const refusal = this.pendingRefusal;
    if (refusal !== null) {
      this.pendingRefusal = null;
      this.refuseHead(refusal);
    }
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
