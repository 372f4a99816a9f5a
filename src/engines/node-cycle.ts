/**
 * The node runner: a node app (`(req, res)`: Express, Koa's callback(), Fastify's routing, or an
 * http.Server's 'request' listeners) called by the request driver with node:http's genuine
 * IncomingMessage and ServerResponse, after tsgi's checks and refusals. The app writes its
 * response through `res` as on node:http; the driver follows it for the record (status, fields,
 * bytes), the timeouts (504 while nothing was sent, else the connection is cut), the drain (a
 * response not yet begun says `Connection: close`) and --max-requests.
 *
 * Nothing shared is changed: what the driver needs is set on each request's own objects (a few
 * own properties, shared functions), never on node's prototypes, which frameworks in the same
 * process rely on.
 */
import http from 'node:http';
import type { EventEmitter } from 'node:events';
import { closeServer, type NodeEntry } from '../gateway/interfaces/detect.js';
import { Readable } from 'node:stream';
import type { CheckedResponse } from '../gateway/app-headers.js';
import type { App, Environ } from '../gateway/types.js';
import type { Logger } from '../log.js';
import { nodeUrl } from '../gateway/interfaces/node-url.js';
import { responseFields } from '../gateway/interfaces/node-fields.js';
import type { Exchange } from './exchange.js';
import type { RequestCycle, Runner } from './runner.js';
import { showForwarded } from './trust.js';

/** What the node runner calls: a listener (with its `this`), or a server whose listeners it emits to. */
export type NodeTarget = NodeEntry;

const kCycle = Symbol('tsgi.cycle');

type Req = http.IncomingMessage & { [kCycle]?: NodeCycle };
type Res = http.ServerResponse & { [kCycle]?: NodeCycle; _last?: boolean; _keepAliveTimeout?: number };

const outgoingWrite = http.OutgoingMessage.prototype.write;
const outgoingEnd = http.OutgoingMessage.prototype.end;
const readablePush = Readable.prototype.push;
const incomingRead = (http.IncomingMessage.prototype as unknown as { _read(n: number): void })._read;

function byteLength(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  return chunk instanceof Uint8Array ? chunk.length : 0;
}

// ---- shared functions set as own properties of each request's objects -----------------------

/** `res.write`, counting the content bytes for the record. */
function countingWrite(this: Res, chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
  const cycle = this[kCycle];
  if (cycle !== undefined && !this.writableEnded) cycle.sent += byteLength(chunk, encoding);
  return (outgoingWrite as (...a: unknown[]) => boolean).call(this, chunk, encoding, callback);
}

/** `res.end`, counting the last bytes. */
function countingEnd(this: Res, chunk?: unknown, encoding?: unknown, callback?: unknown): Res {
  const cycle = this[kCycle];
  if (cycle !== undefined && !this.writableEnded && typeof chunk !== 'function' && chunk !== undefined && chunk !== null) cycle.sent += byteLength(chunk, encoding);
  return (outgoingEnd as (...a: unknown[]) => Res).call(this, chunk, encoding, callback);
}

/** `req.push` (node's parser pushes the body through it): bytes received and progress, for the record and --body-timeout. */
function countingPush(this: Req, chunk: unknown, encoding?: BufferEncoding): boolean {
  const cycle = this[kCycle];
  if (cycle !== undefined) {
    const ex = cycle.ex;
    if (chunk === null) ex.bodyComplete = true;
    else if (chunk instanceof Uint8Array) {
      ex.bytesReceived += chunk.length;
      ex.lastProgress = performance.now();
    }
  }
  return readablePush.call(this, chunk, encoding);
}

/**
 * `req._read` on a request that expects `100 Continue`: node:http sends it when nobody listens for
 * 'checkContinue'; tsgi sends it when the app first reads the body (RFC 9110 §10.1.1), which is
 * what the client waits for.
 */
function continueThenRead(this: Req, n: number): void {
  delete (this as { _read?: unknown })._read;
  const cycle = this[kCycle];
  if (cycle !== undefined && !cycle.res.headersSent && !cycle.ex.finished) cycle.res.writeContinue();
  incomingRead.call(this, n);
}

function onFinish(this: Res): void {
  this[kCycle]?.finished();
}

function onClose(this: Res): void {
  this[kCycle]?.closed();
}

const noop = (): void => {};

export class NodeRunner implements Runner {
  readonly interface = 'node';
  readonly ownsBody = true;
  readonly upgrades: EventEmitter | undefined;

  constructor(
    readonly target: NodeTarget,
    readonly log: Logger,
  ) {
    this.upgrades = target.upgrades;
  }

  cycle(ex: Exchange): RequestCycle {
    return new NodeCycle(this, ex);
  }

  draining(): void {
    // Socket.IO and ws close their connections when their server closes (engine.io listens for
    // 'close'); a graceful stop is that moment.
    const server = this.target.server;
    if (server !== undefined) closeServer(server);
  }
}

/** The request's objects, from the engine that parsed it. */
export interface NodePair {
  req: http.IncomingMessage;
  res: http.ServerResponse;
}

class NodeCycle implements RequestCycle {
  sent = 0;
  readonly req: Req;
  readonly res: Res;
  private returned = false;
  private closedOnce = false;
  private releasedOnce = false;
  private fields: CheckedResponse | null = null;

  constructor(
    private readonly runner: NodeRunner,
    readonly ex: Exchange,
  ) {
    const pair = ex.conn.nodePair();
    if (pair === null) throw new TypeError('the node runner needs an engine that makes node:http request objects');
    this.req = pair.req as Req;
    this.res = pair.res as Res;
  }

  /** The record's fields: the response's as the app set them, read once when the request is settled. */
  get response(): CheckedResponse {
    if (this.fields !== null) return this.fields;
    const res = this.res;
    this.fields = { status: res.statusCode, statusLine: '', headers: responseFields(res), contentLength: -1, ascii: true, hasDate: false };
    return this.fields;
  }

  run(_app: App, environ: Environ): void {
    const req = this.req;
    const res = this.res;
    const ex = this.ex;
    req[kCycle] = this;
    res[kCycle] = this;
    // node:http's own head, as for any node app: its Date, its framing, and tsgi's keep-alive.
    res.sendDate = true;
    res.shouldKeepAlive = ex.keepAlive;
    res._keepAliveTimeout = ex.conn.core.keepAliveMs;
    // --root-path (or TSGI middleware before it) mounts the app below a prefix: req.url is the
    // path under it, as Express's own mounting gives it.
    if (environ.SCRIPT_NAME !== '') req.url = nodeUrl(environ);
    // Behind a trusted proxy, the socket shows the client and scheme it forwarded (trust.ts).
    if (ex.conn.trust !== null) showForwarded(req.socket, environ);
    if (ex.req.method !== 'HEAD') {
      res.write = countingWrite as typeof res.write;
      res.end = countingEnd as typeof res.end;
    }
    if (!ex.bodyComplete) {
      req.push = countingPush;
      if (ex.req.expectContinue) (req as unknown as { _read: typeof continueThenRead })._read = continueThenRead;
    }
    res.on('finish', onFinish);
    res.on('close', onClose);
    const target = this.runner.target;
    let result: unknown;
    try {
      result = target.server !== undefined ? target.server.emit('request', req, res) : target.handler.call(target.thisArg, req, res);
    } catch (err) {
      this.returned = true;
      this.fail(err);
      return;
    }
    if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
      (result as Promise<unknown>).then(
        () => this.appReturned(),
        (err: unknown) => {
          this.fail(err);
          this.appReturned();
        },
      );
      return;
    }
    this.appReturned();
  }

  /** The server abandoned the request (the client left, a timeout, a malformed body). */
  cancel(_reason: unknown): void {
    const res = this.res;
    // What the Exchange answers depends on whether the app's head went out.
    this.ex.headSent = res.headersSent;
    // The app may still write to a response the server ended; node would raise that as an
    // unhandled 'error' event.
    res.on('error', noop);
    if (!res.headersSent) clearHeaders(res);
  }

  /** A graceful stop began: a response not yet begun closes the connection after it. */
  draining(): void {
    if (!this.res.headersSent) this.res.shouldKeepAlive = false;
  }

  /** node:http finished sending the response. */
  finished(): void {
    const res = this.res;
    const ex = this.ex;
    if (res.statusCode === 204 || res.statusCode === 304) this.sent = 0;
    ex.nativeDone(res.statusCode, ex.keepAlive && !res._last);
  }

  /** The response's 'close': after 'finish', or when it was destroyed (the app, or the client). */
  closed(): void {
    if (this.closedOnce) return;
    this.closedOnce = true;
    const ex = this.ex;
    if (!ex.finished && !this.res.writableFinished) {
      // The app destroyed its response (or its socket) before finishing it.
      this.ex.headSent = this.res.headersSent;
      ex.abort();
    }
    this.release();
  }

  private appReturned(): void {
    this.returned = true;
    this.release();
  }

  /** The handler threw, or its promise rejected: a 500 if nothing was sent, else the connection is cut. */
  private fail(err: unknown): void {
    const ex = this.ex;
    const res = this.res;
    if (ex.finished) {
      this.runner.log.error({ err }, 'the node app raised after its response was over');
      return;
    }
    if (res.headersSent) {
      this.runner.log.error({ err }, 'the node app raised after the response head was sent; connection aborted');
      ex.headSent = true;
      ex.abort();
      return;
    }
    this.runner.log.error({ err }, 'the node app raised an error; answered 500');
    clearHeaders(res);
    res.on('error', noop);
    ex.failBeforeHead();
  }

  /** The app's work is over once its handler returned (its promise settled) and its response closed. */
  private release(): void {
    if (this.releasedOnce || !this.returned || !this.closedOnce) return;
    this.releasedOnce = true;
    this.ex.released();
  }
}

/** A server answer replaces whatever fields the app had set on a response it never sent. */
function clearHeaders(res: http.ServerResponse): void {
  for (const name of res.getHeaderNames()) res.removeHeader(name);
}
