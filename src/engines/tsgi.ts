/**
 * The `tsgi` engine: moves bytes between node:net sockets and the sans-IO core. Received bytes go
 * to the RequestParser; its events go to the request driver (driver.ts), which runs one request at
 * a time per connection (so pipelined responses leave in order); what the driver renders is
 * written here. Everything between the bytes (keep-alive, timeouts, drain, refusals) is the
 * driver's.
 */
import http from 'node:http';
import net from 'node:net';
import { RequestParser } from '../http/parser.js';
import { NEED_DATA, HEAD, DATA, END, PAUSED, ERROR, CLOSED, type ParserLimits } from '../http/events.js';
import {
  CHUNK_END,
  CONTINUE,
  FRAME_CHUNKED,
  LAST_CHUNK,
  chunkPrefix,
  informationalText,
  serverResponseText,
  type Framing,
  type HeadInput,
  type ServerResponse,
} from '../http/response.js';
import type { Chunk, Header } from '../gateway/types.js';
import type { ConnectionInfo } from '../gateway/environ.js';
import { connectionInfo, pairs } from './connection-info.js';
import { Connection, EngineCore } from './driver.js';
import { UPGRADED } from './connection-state.js';
import type { Exchange } from './exchange.js';
import { TIME_ORIGIN } from './clock.js';
import { listenOnHandle, type Engine, type EngineOptions, type InFlightRequest, type ListenHandle } from './engine.js';
import { watchDrops } from './drops.js';
import { acceptConnections, type Accepted } from './accept.js';

/** Bytes a connection may hold unparsed (pipelined requests, unread body) before reading stops. */
const READ_HIGH_WATER = 256 * 1024;
/** Unread request body a finished response may discard to keep the connection; beyond it, close. */
const DISCARD_LIMIT = 1024 * 1024;

export class TsgiEngine implements Engine {
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
    // allowHalfOpen: a client may send its request and then its FIN; it still gets its answer.
    const socketOptions = { noDelay: true, allowHalfOpen: true };
    // node:tls is loaded only by a server that serves TLS.
    const server = o.tls === undefined ? net.createServer(socketOptions) : (await import('node:tls')).createServer({ ...o.tls.options, ...socketOptions });
    const listening = await acceptConnections(server, this.core, o, (socket, accepted) => {
      new TsgiConnection(this.core, socket, limits, accepted);
    });
    watchDrops(listening, o);
    listening.on('error', (err) => o.log.error({ err }, 'listening socket error'));
    await listenOnHandle(listening, handle, o.backlog);
    this.servers.push(listening);
  }

  drain(): Promise<void> {
    for (const server of this.servers) server.close();
    return this.core.drain();
  }

  destroy(): void {
    for (const server of this.servers) server.close();
    this.core.destroyAll();
  }

  inFlight(): InFlightRequest[] {
    return this.core.inFlight(performance.now());
  }
}

/**
 * A connection another engine began and hands over from a request boundary on (the node engine,
 * for what llhttp cannot be trusted to read as this engine would: docs/engines.md).
 */
/** A connection the node engine hands to this one's handling (node.ts) after some requests. */
export interface HandedOver {
  /** Requests the connection has already carried. */
  served: number;
}

export class TsgiConnection extends Connection {
  private readonly parser: RequestParser;
  private pumping = false;
  /** Reading stopped: too much unparsed input is held. */
  private paused = false;
  /** The next request waits for the socket to drain: a client that does not read gets no more answers. */
  private awaitingDrain = false;
  /** The rest of a finished request's body is being read and dropped. */
  private discarding = false;
  private discarded = 0;
  /** The head of the response being sent, held to go out in the same write as the first body bytes. */
  private pendingHead: string | null = null;
  private headAscii = true;
  private framing: Framing = FRAME_CHUNKED;
  private drainWaiter: (() => void) | null = null;
  private drainPromise: Promise<void> | null = null;
  private corked = false;
  /** The engine's listeners on the socket, kept so a handover (spec §3.10) can remove them. */
  private readonly readers = {
    data: (data: Buffer): void => this.onData(data),
    end: (): void => this.onEnd(),
    drain: (): void => this.onSocketDrain(),
  };

  /** `accepted`: what accept.ts learnt of the connection (without it, the socket's own facts). */
  constructor(
    core: EngineCore,
    private readonly socket: net.Socket,
    limits: ParserLimits,
    accepted: Accepted | null = null,
    handedOver: HandedOver | null = null,
  ) {
    super(core, accepted?.info ?? connectionInfo(socket), accepted?.acceptedAt ?? performance.now(), accepted?.certificate ?? null);
    this.parser = new RequestParser(limits);
    socket.on('data', this.readers.data);
    socket.on('end', this.readers.end);
    socket.on('drain', this.readers.drain);
    socket.on('error', () => {
      // ECONNRESET and friends: the client went away; 'close' follows and cleans up.
    });
    socket.on('close', () => this.onClose());
    if (handedOver !== null) {
      this.served = handedOver.served;
      this.lastActive = performance.now();
    }
    // After a PROXY protocol header, or from the node engine: the bytes already read come first,
    // then the socket reads on (the reader before may have left it paused).
    const head = accepted?.head ?? null;
    if (head !== null && head.length > 0) this.onData(head);
    if (!this.paused && (handedOver !== null || socket.isPaused())) socket.resume();
  }

  // ---- reading -------------------------------------------------------------------------------

  private onData(data: Buffer): void {
    if (this.closing || this.state === UPGRADED) return;
    const now = performance.now();
    if (this.headStartedAt === 0 && this.exchange === null && !this.discarding) this.headStartedAt = now;
    this.parser.feed(data);
    this.pump(now);
  }

  /**
   * The peer sent its FIN. Mid-request, the parser reports the request incomplete; between
   * requests it is a clean close; with a complete request in flight, the client has gone (as
   * node:http reads it): the request is abandoned rather than answered into a half-closed socket.
   */
  private onEnd(): void {
    if (this.closing || this.state === UPGRADED) return;
    this.parser.feedEnd();
    const ex = this.exchange;
    if (ex !== null && !ex.finished && ex.bodyComplete) {
      this.gone();
      this.socket.destroy();
      return;
    }
    this.pump(performance.now());
  }

  /** Pulls events from the parser until it needs bytes, a response, or the app to read. */
  private pump(now: number): void {
    if (this.pumping) return;
    this.pumping = true;
    this.turnNow = now;
    // Responses produced while pumping (pipelined requests, array bodies) leave in one write.
    const socket = this.socket;
    const cork = !this.corked;
    if (cork) {
      this.corked = true;
      socket.cork();
    }
    try {
      while (!this.closing) {
        if (this.state === UPGRADED) return;
        const ex = this.exchange;
        // A request is with the app: read its body only as fast as the app takes it.
        if (ex !== null && !this.discarding && !ex.bodyComplete && !ex.input!.hungry) break;
        const ev = this.parser.next();
        if (ev === NEED_DATA) break;
        if (ev === HEAD) {
          this.beginRequest(this.parser.head!, now);
        } else if (ev === DATA) {
          const chunk = this.parser.chunk!;
          if (this.discarding) {
            this.discarded += chunk.length;
            if (this.discarded > DISCARD_LIMIT) this.closeIdle();
          } else {
            ex?.onBody(chunk, now);
          }
        } else if (ev === END) {
          if (this.discarding) {
            this.discarding = false;
          } else if (ex !== null) {
            const trailers = this.parser.trailers;
            ex.onBodyEnd(trailers === null ? null : pairs(trailers));
          }
        } else if (ev === PAUSED) {
          if (this.exchange !== null) break;
          // RFC 9112 §9.3.2: responses leave in request order; the next request waits for this
          // one's response, and for the client to take it (bounded output per connection).
          if (socket.writableNeedDrain) {
            this.awaitingDrain = true;
            break;
          }
          this.parser.startNextRequest();
          if (this.parser.buffered > 0) this.headStartedAt = now;
        } else if (ev === ERROR) {
          this.onParseError();
          break;
        } else if (ev === CLOSED) {
          // The peer ended cleanly between requests.
          if (this.exchange === null) this.closeIdle();
          break;
        }
      }
    } finally {
      this.pumping = false;
      this.turnNow = 0;
      if (cork) {
        this.corked = false;
        socket.uncork();
      }
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

  private onParseError(): void {
    const err = this.parser.error!;
    const ex = this.exchange;
    if (this.discarding) {
      // The previous request's body was malformed after its response: nothing left to answer.
      this.discarding = false;
      this.closeIdle();
      return;
    }
    if (ex !== null) {
      // The head was fine but the body is not: the app sees its read fail; the client gets the
      // error status if no byte of the response has left yet; the connection closes.
      ex.badBody(err);
      return;
    }
    this.refuseHead(err);
  }

  resumeBody(_ex: Exchange): void {
    if (!this.pumping) this.pump(performance.now());
  }

  // ---- writing -------------------------------------------------------------------------------

  writeHead(_ex: Exchange, head: HeadInput, framing: Framing, ascii: boolean): void {
    this.framing = framing;
    this.headAscii = ascii;
    this.pendingHead = this.core.renderer.text(head, framing, head.keepAlive, TIME_ORIGIN + this.now());
  }

  writeBody(_ex: Exchange, chunk: Chunk, byteLength: number): boolean {
    const socket = this.socket;
    if (socket.destroyed) return true;
    if (!this.corked) {
      // An async body writes from a promise continuation: gather what this turn writes (the head,
      // its chunks, the last chunk) into one write, released on the next tick.
      this.corked = true;
      socket.cork();
      process.nextTick(uncorkSocket, this);
    }
    const head = this.pendingHead;
    this.pendingHead = null;
    if (this.framing === FRAME_CHUNKED) {
      if (typeof chunk === 'string' && this.headAscii) {
        socket.write((head ?? '') + chunkPrefix(byteLength) + chunk + CHUNK_END);
      } else {
        if (head !== null) socket.write(head, 'latin1');
        socket.write(chunkPrefix(byteLength), 'latin1');
        socket.write(chunk);
        socket.write(CHUNK_END, 'latin1');
      }
    } else if (head === null) {
      socket.write(chunk);
    } else if (typeof chunk === 'string' && this.headAscii) {
      socket.write(head + chunk);
    } else {
      socket.write(head, 'latin1');
      socket.write(chunk);
    }
    return !socket.writableNeedDrain;
  }

  uncork(): void {
    if (this.corked) {
      this.corked = false;
      this.socket.uncork();
    }
  }

  endResponse(_ex: Exchange, _complete: boolean): void {
    const head = this.pendingHead;
    this.pendingHead = null;
    if (this.socket.destroyed) return;
    if (this.framing === FRAME_CHUNKED) this.socket.write(head === null ? LAST_CHUNK : head + LAST_CHUNK, 'latin1');
    else if (head !== null) this.socket.write(head, 'latin1');
  }

  writeServerResponse(_ex: Exchange | null, response: ServerResponse, keepAlive: boolean): void {
    this.pendingHead = null;
    if (!this.socket.destroyed) this.socket.write(serverResponseText(response, keepAlive ? this.core.renderer.keepAliveFields : null));
  }

  writeInterim(_ex: Exchange, status: 100 | 103, headers: Header[] | null): void {
    if (!this.socket.destroyed) this.socket.write(status === 100 ? CONTINUE : informationalText(status, headers!), 'latin1');
  }

  writable(): Promise<void> {
    if (this.socket.destroyed || !this.socket.writableNeedDrain) return Promise.resolve();
    this.drainPromise ??= new Promise<void>((resolve) => {
      this.drainWaiter = resolve;
    });
    return this.drainPromise;
  }

  private onSocketDrain(): void {
    const resolve = this.drainWaiter;
    if (resolve !== null) {
      this.drainWaiter = null;
      this.drainPromise = null;
      resolve();
    }
    if (this.awaitingDrain) {
      this.awaitingDrain = false;
      this.pump(performance.now());
    }
  }

  // ---- handing the connection over (spec §3.10) ------------------------------------------------

  protected detach(_ex: Exchange): { socket: net.Socket; head: Buffer } {
    const socket = this.socket;
    const head = this.parser.takeBuffered();
    // The app reads the socket from here on: tsgi's reader lets go, and the socket is back in
    // its initial mode (as node:http leaves it for 'upgrade'), so data waits for the app's reader.
    socket.removeListener('data', this.readers.data);
    socket.removeListener('end', this.readers.end);
    socket.removeListener('drain', this.readers.drain);
    (socket as unknown as { readableFlowing: boolean | null }).readableFlowing = null;
    if (this.paused) {
      this.paused = false;
      socket.resume();
      (socket as unknown as { readableFlowing: boolean | null }).readableFlowing = null;
    }
    return { socket, head };
  }

  incomingMessage(ex: Exchange): http.IncomingMessage {
    // A genuine IncomingMessage, as node:http gives an 'upgrade' listener: complete, with no body.
    const req = new http.IncomingMessage(this.socket);
    const start = ex.req;
    req.method = start.method;
    req.url = start.target;
    req.httpVersionMajor = 1;
    req.httpVersionMinor = start.versionMinor;
    req.httpVersion = start.versionMinor === 1 ? '1.1' : '1.0';
    (req as unknown as { _addHeaderLines(h: string[], n: number): void })._addHeaderLines(start.headers, start.headers.length);
    (req as unknown as { upgrade: boolean }).upgrade = true;
    req.complete = true;
    req.push(null);
    return req;
  }

  // ---- between requests ----------------------------------------------------------------------

  protected nextRequest(ex: Exchange): void {
    if (!ex.bodyComplete) {
      // The app did not read the whole body: read and drop the rest (bounded) so the next
      // request on this connection starts where it should.
      this.discarding = true;
      this.discarded = 0;
    }
    if (!this.pumping) this.pump(performance.now());
  }

  protected closeGracefully(peerDone: boolean): void {
    // RFC 9112 §9.6: half-close first so the response is not lost to a reset, then read until the
    // peer closes (the sweep destroys a connection whose peer never does). A client that asked to
    // close and has nothing left unread cannot cause a reset: the socket closes once the response
    // has left, without waiting for its FIN (Nginx's lingering close makes the same call).
    if (peerDone && this.parser.buffered === 0) this.socket.destroySoon();
    else this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onClose(): void {
    this.onSocketDrain();
    this.gone();
  }
}

function uncorkSocket(conn: TsgiConnection): void {
  conn.uncork();
}
