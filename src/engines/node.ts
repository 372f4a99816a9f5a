/**
 * The `node` engine: node:http (whose parser is llhttp) carrying TSGI apps. It builds the same
 * environ as the tsgi engine and adds the checks llhttp leaves to the application (a repeated
 * Host, HTTP/0.9, tsgi's own limits), so both engines refuse the same requests.
 */
import http from 'node:http';
import type net from 'node:net';
import { buildEnviron, type ConnectionInfo } from '../gateway/environ.js';
import { connectionInfo, pairs } from './connection-info.js';
import { RequestInput, EMPTY_INPUT, type BodySource } from '../gateway/input.js';
import { Cycle, type Transport } from '../gateway/cycle.js';
import type { CheckedResponse } from '../gateway/app-headers.js';
import type { Chunk, Environ } from '../gateway/types.js';
import { STATUS_REASONS } from '../http/status.js';
import { simpleResponse } from '../http/response.js';
import { checkNodeRequest, checkNodeTrailers, clientErrorStatus } from './node-checks.js';
import { checkTarget } from '../http/parser.js';
import { IDLE_GRACE_MS, listenOnHandle, type Engine, type EngineOptions, type InFlightRequest, type ListenHandle } from './engine.js';

export class NodeEngine implements Engine {
  private readonly servers: http.Server[] = [];
  private readonly sockets = new Set<net.Socket>();
  /** Requests being answered. */
  readonly active = new Set<NodeTransport>();
  /** Requests started per connection: a connection that has served none is not idle. */
  private readonly served = new WeakMap<net.Socket, number>();
  /** When each connection's last response ended. */
  readonly finishedAt = new WeakMap<net.Socket, number>();
  draining = false;
  private drained: (() => void) | null = null;

  constructor(readonly options: EngineOptions) {}

  get connections(): number {
    return this.sockets.size;
  }

  async listen(handle: ListenHandle): Promise<void> {
    const o = this.options;
    const limits = o.limits;
    const server = http.createServer(
      {
        // tsgi's own limits are checked per request (checkNodeRequest); llhttp's total must not
        // refuse first, so it is set to the most those limits allow.
        maxHeaderSize: (limits.maxRequestLine || 8190) + limits.maxHeaderCount * (limits.maxHeaderFieldSize + 2) + 4,
        requireHostHeader: true,
        joinDuplicateHeaders: false,
        insecureHTTPParser: false,
        keepAliveTimeout: o.keepalive * 1000,
        requestTimeout: 0,
      },
      (req, res) => this.onRequest(req, res, false),
    );
    // Node drops fields past maxHeadersCount silently; tsgi refuses them instead (431).
    server.maxHeadersCount = 0;
    server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => this.onRequest(req, res, true));
    server.on('checkExpectation', (_req: http.IncomingMessage, res: http.ServerResponse) => {
      respondAndClose(res, 417, 'only "Expect: 100-continue" is supported\n');
    });
    server.on('connect', (req: http.IncomingMessage, socket: net.Socket) => {
      const bad = checkTarget(req.method!, req.url!);
      socket.end(bad !== null ? rawError(bad.status, bad.message + '\n') : rawError(501, 'CONNECT is not supported\n'));
    });
    server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: net.Socket) => {
      // Bytes after a refused request are not a request: the refusal already answered.
      // RFC 9112 §9.6: nothing after a "Connection: close" request is processed or answered.
      if (!socket.writable || refused.has(socket) || err.code === 'HPE_CLOSED_CONNECTION') {
        socket.destroy();
        return;
      }
      const status = clientErrorStatus(err);
      this.options.log.info({ status, code: err.code }, `refused request: ${err.message}`);
      socket.end(rawError(status, `${err.message}\n`));
    });
    server.on('connection', (socket: net.Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => {
        this.sockets.delete(socket);
        if (this.draining && this.sockets.size === 0 && this.drained !== null) this.drained();
      });
    });
    server.on('error', (err) => o.log.error({ err }, 'listening socket error'));
    await listenOnHandle(server, handle, this.options.backlog);
    this.servers.push(server);
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse, expectContinue: boolean): void {
    const o = this.options;
    this.served.set(req.socket, (this.served.get(req.socket) ?? 0) + 1);
    const refusal = checkNodeRequest(req, o.limits);
    if (refusal !== null) {
      refused.add(req.socket);
      o.log.info({ status: refusal.status }, `refused request: ${refusal.message}`);
      respondAndClose(res, refusal.status, refusal.message + '\n');
      req.resume();
      return;
    }
    const headers = req.headers;
    const hasBody = headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
    const transport = new NodeTransport(this, req, res);
    const input = hasBody ? transport.attachInput(expectContinue, headers['transfer-encoding'] !== undefined) : EMPTY_INPUT;
    const environ = buildEnviron(
      req.method!,
      req.url!,
      req.httpVersionMinor === 0 ? 0 : 1,
      req.rawHeaders,
      input,
      this.connectionInfo(req.socket),
      o.server,
    );
    transport.environ = environ;
    const cycle = new Cycle(transport, req.method!, o.log);
    transport.cycle = cycle;
    cycle.run(o.app, environ);
  }

  private readonly infos = new WeakMap<net.Socket, ConnectionInfo>();

  private connectionInfo(socket: net.Socket): ConnectionInfo {
    let info = this.infos.get(socket);
    if (info === undefined) {
      info = connectionInfo(socket);
      this.infos.set(socket, info);
    }
    return info;
  }

  drain(): Promise<void> {
    this.draining = true;
    const done = new Promise<void>((resolve) => {
      this.drained = resolve;
    });
    for (const server of this.servers) server.close();
    // As in the tsgi engine: idle keep-alive connections close now; a request in flight, or the
    // first request of a connection just accepted, is answered with Connection: close.
    const busy = new Set<net.Socket>();
    for (const t of this.active) busy.add(t.socket);
    const now = Date.now();
    for (const socket of this.sockets) {
      if (busy.has(socket) || (this.served.get(socket) ?? 0) === 0) continue;
      const idle = now - (this.finishedAt.get(socket) ?? 0);
      if (idle >= IDLE_GRACE_MS) {
        socket.destroySoon();
      } else {
        setTimeout(() => {
          for (const t of this.active) if (t.socket === socket) return;
          socket.destroySoon();
        }, IDLE_GRACE_MS - idle).unref();
      }
    }
    if (this.sockets.size === 0) this.drained!();
    return done;
  }

  destroy(): void {
    this.draining = true;
    for (const server of this.servers) server.close();
    for (const socket of this.sockets) socket.destroy();
  }

  inFlight(now: number): InFlightRequest[] {
    return [...this.active].map((t) => t.current(now));
  }

  expire(now: number, limitMs: number): number {
    let n = 0;
    for (const t of this.active) if (t.expire(now, limitMs)) n++;
    return n;
  }
}

class NodeTransport implements Transport, BodySource {
  private input: RequestInput | null = null;
  private drainWaiter: Promise<void> | null = null;
  private closed = false;
  private readonly startedAt = Date.now();
  private readonly startedPerf = performance.now();
  private received = 0;
  cycle: Cycle | null = null;
  private status = 0;
  /** Set once built; chunked trailers are stored on it before the input ends (spec §4.4). */
  environ: Environ | null = null;

  constructor(
    readonly engine: NodeEngine,
    private readonly req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
  ) {
    engine.active.add(this);
    res.once('close', () => {
      this.closed = true;
      engine.active.delete(this);
      if (!res.writableFinished) this.input?.fail(new Error('the client disconnected'));
    });
  }

  get socket(): net.Socket {
    return this.req.socket;
  }

  current(now: number): InFlightRequest {
    return { method: this.req.method!, target: this.req.url!, ms: now - this.startedAt };
  }

  /** --request-timeout: 504 if nothing was sent, else the connection is aborted. */
  expire(now: number, limitMs: number): boolean {
    if (this.closed || now - this.startedAt < limitMs) return false;
    this.engine.options.log.error(
      { method: this.req.method, target: this.req.url, ms: now - this.startedAt },
      `request exceeded --request-timeout (${limitMs / 1000}s); ${this.res.headersSent ? 'connection aborted' : 'answered 504'}`,
    );
    this.engine.active.delete(this);
    this.input?.fail(new Error('the request timed out'));
    if (this.res.headersSent) this.res.destroy();
    else respondAndClose(this.res, 504, 'the request took too long\n');
    this.closed = true;
    return true;
  }

  get gone(): boolean {
    return this.closed && !this.res.writableFinished;
  }

  attachInput(expectContinue: boolean, chunked: boolean): RequestInput {
    const input = new RequestInput(this, expectContinue);
    this.input = input;
    const req = this.req;
    req.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      input.push(chunk);
      if (!input.hungry) req.pause();
    });
    req.once('end', () => {
      if (chunked) {
        const refusal = checkNodeTrailers(req.rawTrailers);
        if (refusal !== null) {
          this.refuseBody(refusal.status, refusal.message);
          return;
        }
        if (this.environ !== null) this.environ['tsgi.trailers'] = pairs(req.rawTrailers);
      }
      input.end();
    });
    req.once('error', (err) => input.fail(err));
    req.pause();
    return input;
  }

  /** The body broke a rule after the app started: answer the status if nothing was sent, close. */
  private refuseBody(status: number, message: string): void {
    this.engine.options.log.info({ status }, `refused request: ${message}`);
    this.input?.fail(new Error(message));
    refused.add(this.req.socket);
    if (!this.res.headersSent) respondAndClose(this.res, status, message + '\n');
    else this.res.destroy();
    this.closed = true;
  }

  wantBody(): void {
    this.req.resume();
  }

  sendContinue(): void {
    this.res.writeContinue();
  }

  sendHead(r: CheckedResponse, contentLength: number, _noBody: boolean): void {
    const flat: string[] = [];
    const headers = r.headers;
    for (let i = 0; i < headers.length; i++) flat.push(headers[i]![0], headers[i]![1]);
    if (contentLength >= 0 && r.status !== 204) flat.push('Content-Length', String(contentLength));
    const input = this.input;
    if (this.engine.draining || (input !== null && input.continueUnsent && !input.ended)) flat.push('Connection', 'close');
    this.status = r.status;
    const space = r.statusLine.indexOf(' ');
    this.res.writeHead(r.status, space === -1 ? '' : r.statusLine.slice(space + 1), flat);
  }

  sendChunk(chunk: Chunk, _byteLength: number): boolean {
    if (this.closed) return true;
    return this.res.write(chunk);
  }

  waitDrain(): Promise<void> {
    if (this.closed || !this.res.writableNeedDrain) return Promise.resolve();
    this.drainWaiter ??= new Promise<void>((resolve) => {
      const done = (): void => {
        this.drainWaiter = null;
        this.res.removeListener('drain', done);
        this.res.removeListener('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
    return this.drainWaiter;
  }

  finish(complete: boolean): void {
    if (this.closed) return;
    this.res.end();
    this.engine.active.delete(this);
    this.engine.finishedAt.set(this.req.socket, Date.now());
    const done = this.engine.options.onRequestDone;
    if (done !== undefined) {
      const cycle = this.cycle;
      done({
        environ: this.environ,
        method: this.req.method!,
        target: this.req.url!,
        protocol: this.req.httpVersionMinor === 0 ? 'HTTP/1.0' : 'HTTP/1.1',
        remoteAddr: this.environ?.REMOTE_ADDR ?? '',
        status: this.status,
        responseHeaders: cycle?.response.headers ?? [],
        bytesSent: cycle?.sent ?? 0,
        bytesReceived: this.received,
        startedAt: this.startedAt,
        durationMs: performance.now() - this.startedPerf,
        outcome: complete ? 'ok' : 'app-error',
      });
    }
    // Node would keep a connection whose body fell short of its Content-Length; the next
    // response would then be read as the rest of this one.
    if (!complete) this.res.socket?.destroySoon();
  }

  sendError(status: number, _reason: string, body: string): void {
    if (this.closed || this.res.headersSent) return;
    this.status = status;
    this.res.writeHead(status, STATUS_REASONS[status] ?? '', ['Content-Type', 'text/plain; charset=utf-8', 'Content-Length', String(Buffer.byteLength(body))]);
    this.res.write(body);
  }

  abort(): void {
    this.res.destroy();
  }
}

/** Sockets whose last request was refused; they close after the answer. */
const refused = new WeakSet<net.Socket>();

function respondAndClose(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, STATUS_REASONS[status] ?? '', [
    'Content-Type',
    'text/plain; charset=utf-8',
    'Content-Length',
    String(Buffer.byteLength(body)),
    'Connection',
    'close',
  ]);
  res.end(body);
}

function rawError(status: number, body: string): string {
  return simpleResponse(status, STATUS_REASONS[status] ?? 'Bad Request', body, true);
}
