/**
 * One request/response cycle: calls the app, enforces startResponse semantics (spec §5) and sends
 * the body (spec §6) through whichever engine carries the request. Nothing here knows about
 * sockets; the request driver supplies a Transport.
 *
 * States, and what moves between them:
 *
 *   NEW ──startResponse()──▶ STARTED ──first byte / write()──▶ HEAD_SENT ──body ends──▶ DONE
 *    │                          │                                  │
 *    └──────────────────────────┴──────── cancel() ────────────────┴──▶ CANCELLED
 *
 * DONE: the response is complete (or answered 500, or aborted); CANCELLED: the server abandoned
 * the request (client gone, timeout, bad body) and nothing more the app produces is sent.
 */
import { TsgiError } from '../errors.js';
import type { App, Body, Chunk, Environ, StartResponse, Write } from './types.js';
import { AppHeaderError, checkResponse, emptyCheckedResponse, type CheckedResponse } from './app-headers.js';
import type { Logger } from '../log.js';

/** What a cycle needs from the driver that carries the request. */
export interface Transport {
  /** Queue the head; `contentLength` is -1 when unknown. */
  sendHead(response: CheckedResponse, contentLength: number, noBody: boolean): void;
  /** Send a body chunk; false means wait for waitDrain() before sending more. */
  sendChunk(chunk: Chunk, byteLength: number): boolean;
  /** Resolves when the transport can take more, or the request was abandoned. */
  waitDrain(): Promise<void>;
  /** The response is over; `complete` false means the body fell short or overflowed and the connection must close. */
  finish(complete: boolean): void;
  /** The app failed before any byte of its response was sent: the server answers 500 itself. */
  failBeforeHead(): void;
  /** The app failed after its head went out: the connection is aborted. */
  abort(): void;
  /**
   * The cycle is over: the app's returned promise settled and the body was closed (its close()
   * promise settled). Called exactly once, after finish/abort/cancel; a graceful stop waits for it.
   */
  released(): void;
}

const NEW = 0;
const STARTED = 1;
const HEAD_SENT = 2;
const DONE = 3;
const CANCELLED = 4;

/** An app error worth a 500 and a log line naming the rule it broke. */
class AppContractError extends TsgiError {
  constructor(message: string) {
    super('TSGI_ERR_APP_CONTRACT', message);
  }
}

const noop = (): void => {};

/** A rejected promise that is already handled: awaiting it throws, ignoring it is harmless. */
function handledRejection(err: unknown): Promise<never> {
  const p = Promise.reject(err);
  p.catch(noop);
  return p;
}

export class Cycle {
  private state = NEW;
  readonly response: CheckedResponse = emptyCheckedResponse();
  private noBody = false;
  /** Bytes of content handed to the transport. */
  sent = 0;
  private overflow = false;
  private writeFn: Write | null = null;
  private body: Body | null = null;
  private iterator: Iterator<Chunk> | AsyncIterator<Chunk> | null = null;
  /** The iterator ran to its end, or return() was called on it. */
  private iteratorStopped = false;
  private bodyClosed = false;
  /** The app has returned (its body, or by throwing): only then can its body be closed. */
  private returned = false;
  private wroteAfterEnd = false;
  private cancelReason: unknown = null;
  readonly startResponse: StartResponse;

  constructor(
    private readonly transport: Transport,
    private readonly method: string,
    private readonly log: Logger,
  ) {
    this.startResponse = (status, headers, excInfo) => this.start(status, headers, excInfo);
  }

  /** Runs the app. Completes synchronously when the app returns an array synchronously. */
  run(app: App, environ: Environ): void {
    let result: Body | Promise<Body>;
    try {
      result = app(environ, this.startResponse);
    } catch (err) {
      this.returned = true;
      this.fail(err);
      return;
    }
    if (Array.isArray(result)) {
      this.returned = true;
      this.body = result;
      this.sendArray(result);
      return;
    }
    if (result !== null && typeof result === 'object' && typeof (result as Promise<Body>).then === 'function') {
      (result as Promise<Body>).then(
        (body) => {
          this.returned = true;
          this.consume(body);
        },
        (err: unknown) => {
          this.returned = true;
          this.fail(err);
        },
      );
      return;
    }
    this.returned = true;
    this.consume(result as Body);
  }

  /**
   * The server abandons the request: nothing more is sent. A body being iterated gets return() at
   * once (on an async generator it queues behind a pending next(); the app leaves its await through
   * tsgi.signal), then close() once return() has settled (spec §6.4).
   */
  cancel(reason: unknown): void {
    if (this.state === DONE || this.state === CANCELLED) return;
    this.state = CANCELLED;
    this.cancelReason = reason;
    if (this.iterator !== null) this.stopIterator(this.iterator);
    else if (this.body !== null) this.closeBody();
    // Otherwise the app has not returned yet: consume() closes what it returns.
  }

  // PEP 3333 start_response semantics, carried over (spec §5).
  private start(status: string, headers: [string, string][], excInfo?: unknown): Write {
    if (this.state === CANCELLED) return (this.writeFn ??= (chunk: Chunk) => this.legacyWrite(chunk));
    if (excInfo !== undefined && excInfo !== null) {
      // §5.3: once the head is on the wire it cannot be taken back; the app's error goes on up.
      if (this.state >= HEAD_SENT) throw excInfo;
    } else if (this.state !== NEW) {
      throw new AppContractError('startResponse() was called a second time without excInfo');
    }
    checkResponse(status, headers, this.response);
    const code = this.response.status;
    this.noBody = code === 204 || code === 304 || this.method === 'HEAD';
    this.state = STARTED;
    return (this.writeFn ??= (chunk: Chunk) => this.legacyWrite(chunk));
  }

  private legacyWrite(chunk: Chunk): Promise<void> {
    const state = this.state;
    if (state === CANCELLED) return handledRejection(this.cancelReason);
    if (state === DONE) {
      if (!this.wroteAfterEnd) {
        this.wroteAfterEnd = true;
        this.log.error('the app called write() after its response had ended; the bytes were dropped (await the body before returning)');
      }
      return handledRejection(new TsgiError('TSGI_ERR_RESPONSE_ENDED', 'write() was called after the response had ended'));
    }
    let len: number;
    try {
      len = byteLengthOf(chunk);
      // spec §5.5: the first write() sends the head, even an empty one.
      if (state === STARTED) this.sendHead(-1);
    } catch (err) {
      this.fail(err);
      return handledRejection(err);
    }
    if (len === 0) return Promise.resolve();
    const more = this.writeChunk(chunk, len);
    if (this.overflow) {
      // spec §6.3.1: what fits was sent; the write that went past the declared length rejects,
      // and the response is over (the connection closes).
      this.end();
      return handledRejection(new TsgiError('TSGI_ERR_RESPONSE_ENDED', 'write() went past the declared Content-Length; the excess was not sent'));
    }
    if (more) return Promise.resolve();
    return this.transport.waitDrain();
  }

  /**
   * `knownLength`: the bytes of an array body, 0 when the app ended without a body, -1 when
   * unknown. RFC 9110 §8.6: a HEAD or 304 response may carry Content-Length only if it equals what
   * the GET would send; the app's own declaration, or a HEAD answered with the GET's full array, is
   * that length; an empty body says nothing, so no length is sent.
   */
  private sendHead(knownLength: number): void {
    if (this.state === NEW) throw new AppContractError('the app produced a body before calling startResponse()');
    const declared = this.response.contentLength;
    let length = declared >= 0 ? declared : knownLength;
    if (this.noBody && declared < 0 && !(knownLength > 0 && this.method === 'HEAD')) length = -1;
    this.state = HEAD_SENT;
    this.transport.sendHead(this.response, length, this.noBody);
  }

  /** Arrays are the common case and already in memory: one pass, no awaiting. */
  private sendArray(body: Chunk[]): void {
    // The response may already be over (abandoned, or ended by a write() past its length).
    if (this.state === CANCELLED || this.state === DONE) {
      this.closeBody();
      return;
    }
    try {
      // The common body is one chunk: its length is taken once and serves both the head and the write.
      const single = body.length === 1 ? byteLengthOf(body[0]) : -1;
      let known = single;
      if (single < 0) {
        known = 0;
        for (let i = 0; i < body.length; i++) known += byteLengthOf(body[i]);
      }
      if (this.state === NEW) throw new AppContractError('the app returned without calling startResponse()');
      // When write() already sent the head, the array simply follows it.
      if (this.state === STARTED) this.sendHead(known);
      if (single > 0) {
        if (this.state === HEAD_SENT) this.writeChunk(body[0]!, single);
      } else {
        for (let i = 0; i < body.length && !this.overflow && this.state === HEAD_SENT; i++) {
          const chunk = body[i]!;
          const len = byteLengthOf(chunk);
          if (len !== 0) this.writeChunk(chunk, len);
        }
      }
      this.end();
    } catch (err) {
      this.fail(err);
    }
  }

  private consume(body: Body): void {
    if (Array.isArray(body)) {
      this.body = body;
      this.sendArray(body);
      return;
    }
    this.body = body;
    if (body === null || typeof body !== 'object' || body instanceof Uint8Array) {
      this.body = null;
      this.fail(new AppContractError(`the app returned ${describe(body)}; return an iterable of chunks, e.g. [text]`));
      return;
    }
    if (this.state === CANCELLED || this.state === DONE) {
      this.closeBody();
      return;
    }
    const asyncIt = (body as AsyncIterable<Chunk>)[Symbol.asyncIterator];
    const syncIt = (body as Iterable<Chunk>)[Symbol.iterator];
    let iterator: Iterator<Chunk> | AsyncIterator<Chunk>;
    try {
      if (typeof asyncIt === 'function') iterator = asyncIt.call(body);
      else if (typeof syncIt === 'function') iterator = syncIt.call(body);
      else throw new AppContractError(`the app returned ${describe(body)}, which is not iterable`);
    } catch (err) {
      this.fail(err);
      return;
    }
    this.iterator = iterator;
    void this.pump(iterator, typeof asyncIt === 'function');
  }

  private async pump(iterator: Iterator<Chunk> | AsyncIterator<Chunk>, isAsync: boolean): Promise<void> {
    // Whether an error came from the body's next() (the iterator is finished) or from what the
    // server did with a chunk (the iterator is suspended at a yield and still owes its finally).
    let inNext = false;
    try {
      for (;;) {
        inNext = true;
        const step = (isAsync ? await iterator.next() : iterator.next()) as IteratorResult<Chunk>;
        inNext = false;
        // cancel() already called return() and will close the body.
        if (this.state === CANCELLED) return;
        if (step.done === true) {
          this.iteratorStopped = true;
          break;
        }
        const chunk = step.value;
        const len = byteLengthOf(chunk);
        if (len === 0) continue;
        if (this.state === STARTED) this.sendHead(-1);
        else if (this.state !== HEAD_SENT) throw new AppContractError('the app produced a body before calling startResponse()');
        if (!this.writeChunk(chunk, len)) await this.transport.waitDrain();
        if (this.overflow || this.state !== HEAD_SENT) break;
      }
    } catch (err) {
      if (this.state === CANCELLED) {
        // The app's own way out of a pending next() (it saw tsgi.signal): nothing to report.
        return;
      }
      // A generator that threw is finished: return() would do nothing (spec §6.4). One that
      // yielded a chunk the server refused is abandoned by the server: it gets return().
      if (inNext) this.iteratorStopped = true;
      this.fail(err);
      return;
    }
    if (this.state === CANCELLED) return;
    try {
      this.end();
    } catch (err) {
      this.fail(err);
    }
  }

  /**
   * A generator left early still gets its finally blocks run: return() is called once; close()
   * follows when it has settled.
   */
  private stopIterator(iterator: Iterator<Chunk> | AsyncIterator<Chunk>): void {
    if (this.iteratorStopped) {
      this.closeBody();
      return;
    }
    this.iteratorStopped = true;
    if (typeof iterator.return !== 'function') {
      this.closeBody();
      return;
    }
    let r: unknown;
    try {
      r = iterator.return();
    } catch (err) {
      this.log.error({ err }, 'the response body raised while being closed');
      this.closeBody();
      return;
    }
    if (r !== null && typeof r === 'object' && typeof (r as Promise<unknown>).then === 'function') {
      (r as Promise<unknown>).then(
        () => this.closeBody(),
        (err: unknown) => {
          if (!(this.state === CANCELLED && err === this.cancelReason)) this.log.error({ err }, 'the response body raised while being closed');
          this.closeBody();
        },
      );
    } else {
      this.closeBody();
    }
  }

  /** Enforces the app's Content-Length as a running total: never more bytes than declared (spec §6.2). */
  private writeChunk(chunk: Chunk, len: number): boolean {
    if (this.noBody) return true;
    const declared = this.response.contentLength;
    if (declared >= 0 && this.sent + len > declared) {
      const room = declared - this.sent;
      this.log.error(
        { declared, attempted: this.sent + len },
        'the app sent more bytes than its Content-Length; the excess was dropped and the connection will close',
      );
      this.overflow = true;
      if (room <= 0) return true;
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      this.sent = declared;
      return this.transport.sendChunk(bytes.subarray(0, room), room);
    }
    this.sent += len;
    return this.transport.sendChunk(chunk, len);
  }

  private end(): void {
    if (this.state === NEW) throw new AppContractError('the app returned without calling startResponse()');
    if (this.state === STARTED) this.sendHead(0);
    if (this.state !== HEAD_SENT) return;
    const declared = this.response.contentLength;
    const complete = !this.overflow && (this.noBody || declared < 0 || this.sent === declared);
    if (!complete && !this.overflow) {
      this.log.error({ declared, sent: this.sent }, 'the app sent fewer bytes than its Content-Length; the connection was closed');
    }
    this.state = DONE;
    this.transport.finish(complete);
    if (this.iterator !== null) this.stopIterator(this.iterator);
    else this.closeBody();
  }

  /** spec §8: before the head → 500 and the worker goes on; after → the connection is aborted. */
  private fail(err: unknown): void {
    const state = this.state;
    if (state === CANCELLED) {
      if (this.iterator === null) this.closeBody();
      return;
    }
    if (state === DONE) {
      this.log.error({ err }, 'the app raised after its response was complete');
      this.closeBody();
      return;
    }
    const wasSent = state === HEAD_SENT;
    this.state = DONE;
    const declared = this.response.contentLength;
    if (wasSent && declared >= 0 && this.sent === declared && !this.overflow) {
      // spec §6.3.1: every declared byte went out, so the response stands; the connection
      // closes, since the app's state is unknown.
      this.log.error({ err }, 'the app raised after its whole declared body was sent; the response stands and the connection will close');
      this.transport.finish(false);
      if (this.iterator !== null) this.stopIterator(this.iterator);
      else this.closeBody();
      return;
    }
    if (err instanceof AppHeaderError) {
      this.log.error(`the app passed an invalid response to startResponse(): ${err.message}; answered 500`);
    } else if (err instanceof AppContractError) {
      this.log.error(`the app broke the TSGI contract: ${err.message}; ${wasSent ? 'connection aborted' : 'answered 500'}`);
    } else {
      this.log.error({ err }, wasSent ? 'the app raised after the response head was sent; connection aborted' : 'the app raised an error; answered 500');
    }
    if (wasSent) this.transport.abort();
    else this.transport.failBeforeHead();
    if (this.iterator !== null) this.stopIterator(this.iterator);
    else this.closeBody();
  }

  /** spec §6.4: close() exactly once, whatever happened; then the cycle is released. */
  private closeBody(): void {
    // Until the app returns there is nothing to close; every way it returns comes back here.
    if (!this.returned) return;
    if (this.bodyClosed) return;
    this.bodyClosed = true;
    const body = this.body;
    if (body === null || typeof body !== 'object' || typeof body.close !== 'function') {
      this.transport.released();
      return;
    }
    let r: unknown;
    try {
      r = body.close();
    } catch (err) {
      this.log.error({ err }, 'body.close() raised');
      this.transport.released();
      return;
    }
    if (r !== null && typeof r === 'object' && typeof (r as Promise<unknown>).then === 'function') {
      (r as Promise<unknown>).then(
        () => this.transport.released(),
        (err: unknown) => {
          this.log.error({ err }, 'body.close() raised');
          this.transport.released();
        },
      );
    } else {
      this.transport.released();
    }
  }
}

function byteLengthOf(chunk: unknown): number {
  if (typeof chunk === 'string') return chunk.length === 0 ? 0 : Buffer.byteLength(chunk);
  if (chunk instanceof Uint8Array) return chunk.length;
  throw new AppContractError(`the body yielded ${describe(chunk)}; chunks must be strings or Uint8Arrays`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return 'a string';
  if (value instanceof Uint8Array) return 'a Uint8Array';
  if (typeof value === 'object') return `an object (${(value as object).constructor?.name ?? 'Object'})`;
  return typeof value;
}
