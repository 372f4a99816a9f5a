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
import type { Logger } from '../log.js';
import { parseError, serverRefusal } from '../http/errors.js';
import { informationalText, serverResponseFields, serverResponseText, type Framing, type HeadInput, type ServerResponse } from '../http/response.js';
import type { Chunk, Header } from '../gateway/types.js';
import { checkTarget, keepsAlive } from '../http/parser.js';
import { pairs } from './connection-info.js';
import { CLOSING, GONE, IDLE } from './connection-state.js';
import { Connection, EngineCore } from './driver.js';
import type { Exchange, RequestStart } from './exchange.js';
import type { NodePair } from './node-cycle.js';
import { checkNodeRequest, checkNodeTrailers, clientErrorRefusal } from './node-checks.js';
import { listenOnHandle, type Engine, type EngineOptions, type InFlightRequest, type ListenHandle } from './engine.js';
import { watchDrops } from './drops.js';
import { ReadLedger, type LedgerOwner } from './node-ledger.js';
import { llhttpHooks, parserOf } from './node-llhttp.js';
import { TsgiConnection } from './tsgi.js';
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
      // A missing Host is refused by tsgi's checks, with the tsgi engine's answer, not node:http's own 400.
      requireHostHeader: false,
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
  /** The Content-Length, or -1 when the request has none. */
  contentLength: number;
  chunked: boolean;
  /** For a request node:http handed over as 'upgrade': the bytes it read past the head. */
  upgradeHead?: Buffer;
}

class NodeConnection extends Connection implements LedgerOwner {
  private req: http.IncomingMessage | null = null;
  private res: http.ServerResponse | null = null;
  /**
   * Requests node:http reported that wait their turn (one runs at a time). The last `unsettled`
   * of them came in the buffer llhttp is parsing now and stand only once the ledger says llhttp
   * read that buffer faithfully (node-ledger.ts).
   */
  private readonly queue: Pending[] = [];
  private unsettled = 0;
  /** Reads what llhttp parsed, to hand the connection over when it may have read otherwise; null when node:http lacks the hooks. */
  private readonly ledger: ReadLedger | null;
  /** The bytes the sans-IO parser takes over from, once the requests before them are answered. */
  private sansIoBytes: Buffer | null = null;
  /** Without a ledger: a malformed request after those in flight, answered once they have been. */
  private pendingRefusal: HttpParseError | null = null;
  private bytesAtIdle = 0;
  private discarded = 0;
  /** The last response has not left yet: the next request waits (bounded output per connection). */
  private waitingForFinish = false;
  private drainWaiter: Promise<void> | null = null;
  private readonly onSocketClose = (): void => this.gone();
  /** The request in flight came as 'upgrade': what node:http read past its head. */
  private upgradeHead: Buffer | null = null;

  constructor(
    core: EngineCore,
    private readonly socket: net.Socket,
    private readonly options: EngineOptions,
    accepted: Accepted,
  ) {
    super(core, accepted.info, accepted.acceptedAt, accepted.certificate);
    socket.once('close', this.onSocketClose);
    // A node app is given node:http's own req and res, which only llhttp's reading makes: its
    // connections stay with llhttp, refused as node-checks.ts refuses (docs/engines.md).
    const parser = llhttpHooks === null || this.nodeApp ? null : parserOf(socket);
    this.ledger = parser === null ? null : new ReadLedger(socket, parser, this);
  }

  protected override headBytesPending(): boolean {
    return this.socket.bytesRead > this.bytesAtIdle;
  }

  /**
   * An 'upgrade' request: node:http no longer parses this connection. It is answered (or handed
   * over) as any request, on a ServerResponse made for it. A response that did not take the
   * connection over is an ordinary one (RFC 9110 §7.8: the server may ignore Upgrade): the
   * connection persists as the request asks, read on by tsgi's parser, as on the tsgi engine.
   */
  onUpgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer): void {
    // node:http took its own error listener off the socket.
    socket.on('error', () => {});
    // Its socket is assigned when its turn comes (start()): a response to a request pipelined
    // before it may still hold the socket, and assigning it twice throws.
    const res = new http.ServerResponse(req);
    res.shouldKeepAlive = keepsAlive(req.httpVersionMinor === 0 ? 0 : 1, connectionField(req.rawHeaders));
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
    const headers = req.headers;
    const cl = headers['content-length'];
    const contentLength = cl === undefined ? -1 : Number(cl);
    const chunked = headers['transfer-encoding'] !== undefined;
    const checked = refusal ?? checkNodeRequest(req, this.options.limits);
    const pending: Pending = { req, res, expectContinue, refusal: typeof checked === 'number' ? null : checked, contentLength, chunked };
    const ledger = this.ledger;
    if (upgradeHead !== undefined) {
      // node:http let go of the connection after this request (the ledger checked the buffer it came in).
      pending.upgradeHead = upgradeHead;
    } else if (ledger !== null) {
      // Whatever tsgi would refuse, and every chunked body, the sans-IO parser reads instead: its
      // answer is the tsgi engine's, to the byte.
      ledger.request(typeof checked === 'number' && !chunked ? checked : -1, contentLength < 0 ? 0 : contentLength);
      this.unsettled++;
    }
    this.queue.push(pending);
    if (ledger === null || upgradeHead !== undefined) this.startQueued();
    if (this.queue.length >= QUEUE_HIGH && !this.socket.isPaused()) this.socket.pause();
  }

  /**
   * The head length (usual layout) of an Upgrade request llhttp stopped at, or -1 when the sans-IO
   * parser must read it: one tsgi refuses, or one with content (the tsgi engine reads the body).
   */
  upgradeHeadLength(req: http.IncomingMessage): number {
    const checked = checkNodeRequest(req, this.options.limits);
    const headers = req.headers;
    const cl = headers['content-length'];
    return typeof checked === 'number' && headers['transfer-encoding'] === undefined && (cl === undefined || cl === '0') ? checked : -1;
  }

  get log(): Logger {
    return this.core.log;
  }

  /** The ledger has settled the buffer llhttp parsed: its requests stand, or the sans-IO parser takes over. */
  parsed(handOver: Buffer | null): void {
    const fresh = this.unsettled;
    this.unsettled = 0;
    if (handOver === null) {
      if (fresh > 0) this.startQueued();
      return;
    }
    // llhttp's reading of the requests in that buffer is dropped: the sans-IO parser reads them.
    this.queue.length -= fresh;
    this.sansIoBytes = handOver;
    this.core.log.debug({ remote: this.info.remoteAddr, served: this.served }, 'node engine: the rest of this connection goes to the sans-IO parser (llhttp refused or may have normalised a request)');
    this.startQueued();
  }

  private start(p: Pending): void {
    const { req, res } = p;
    this.req = req;
    this.res = res;
    this.upgradeHead = p.upgradeHead ?? null;
    if (p.upgradeHead !== undefined) this.assignUpgradeSocket(res);
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
    // A node app reads req itself; a refused request's body is dropped.
    else if (!this.nodeApp || ex === null || ex.finished) req.resume();
  }

  /** The response to an 'upgrade' request gets the socket node:http has let go of. */
  private assignUpgradeSocket(res: http.ServerResponse): void {
    const socket = this.socket;
    res.assignSocket(socket);
    // No node:http server follows this response: one that closes ends the socket once it has left.
    res.once('finish', () => {
      if (this.state === CLOSING) socket.end();
    });
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
    if (this.sansIoBytes !== null || this.closing) return;
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
    if (this.upgradeHead !== null) {
      // node:http stopped parsing at that Upgrade request, which the app answered as an ordinary
      // one: tsgi's parser reads on, from the bytes node:http read past its head.
      this.sansIoBytes = this.upgradeHead;
      this.upgradeHead = null;
    }
    if (this.queue.length === 0 && this.pendingRefusal === null && this.sansIoBytes === null) return;
    // RFC 9112 §9.3.2: the next answer waits for this one to have left, so a client that reads
    // nothing makes the worker hold one response, not one per request it pipelined.
    // node:http lets go of the socket on 'finish' (writableFinished may come first): a response
    // to an 'upgrade' request waiting next can only be given the socket after that.
    if (res !== null && !res.destroyed && (!res.writableFinished || (this.socket as { _httpMessage?: unknown })._httpMessage === res)) {
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
      if (this.queue.length < QUEUE_HIGH / 4 && this.socket.isPaused() && this.sansIoBytes === null) this.socket.resume();
      this.start(next);
      return;
    }
    if (this.unsettled > 0) return;
    if (this.sansIoBytes !== null) return this.switchToSansIo();
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
  private switchToSansIo(): void {
    const bytes = this.sansIoBytes!;
    this.sansIoBytes = null;
    const socket = this.socket;
    if (socket.destroyed) return;
    socket.removeListener('close', this.onSocketClose);
    new TsgiConnection(this.core, socket, this.options.limits, { info: this.info, certificate: this.peerCertificate, acceptedAt: this.openedAt, head: bytes }, { served: this.served });
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

/** The Connection field values of a request, joined, or null when it has none. */
function connectionField(raw: string[]): string | null {
  let value: string | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 10 && raw[i]!.toLowerCase() === 'connection') value = value === null ? raw[i + 1]! : `${value},${raw[i + 1]!}`;
  }
  return value;
}
