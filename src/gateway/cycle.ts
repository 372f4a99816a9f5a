/**
 * One request/response cycle: calls the app, enforces startResponse semantics (spec §5) and sends
 * the body (spec §6) through whichever engine carries the request. Nothing here knows about
 * sockets; an engine supplies a Transport.
 */
import type { App, Body, Chunk, Environ, StartResponse, Write } from './types.js';
import { AppHeaderError, checkResponse, type CheckedResponse } from './app-headers.js';
import type { Logger } from '../log.js';

/** What a cycle needs from the engine that carries the request. */
export interface Transport {
  /** True once the client has gone; the cycle stops producing the body. */
  readonly gone: boolean;
  /** Queue the head; `contentLength` is -1 when unknown. */
  sendHead(response: CheckedResponse, contentLength: number, noBody: boolean): void;
  /** Send a body chunk; false means wait for waitDrain() before sending more. */
  sendChunk(chunk: Chunk, byteLength: number): boolean;
  /** Resolves when the transport can take more, or the client has gone. */
  waitDrain(): Promise<void>;
  /** The response is over; `complete` false means the body fell short and the connection must close. */
  finish(complete: boolean): void;
  /** The server's own complete response (500...), used when nothing was sent yet. */
  sendError(status: number, reason: string, body: string): void;
  /** Something failed after the head went out: drop the connection. */
  abort(): void;
}

const NEW = 0;
const STARTED = 1;
const HEAD_SENT = 2;
const DONE = 3;

const INTERNAL_ERROR_BODY = 'Internal Server Error\n';

class AppContractError extends Error {}

export class Cycle {
  private state = NEW;
  readonly response: CheckedResponse = { status: 0, statusLine: '', headers: [], contentLength: -1, ascii: true };
  private noBody = false;
  /** Bytes of content handed to the transport. */
  sent = 0;
  private overflow = false;
  private writeFn: Write | null = null;
  private body: Body | null = null;
  private bodyClosed = false;
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
      this.fail(err);
      return;
    }
    if (Array.isArray(result)) {
      this.body = result;
      this.sendArray(result);
      return;
    }
    if (result !== null && typeof result === 'object' && typeof (result as Promise<Body>).then === 'function') {
      (result as Promise<Body>).then(
        (body) => this.consume(body),
        (err: unknown) => this.fail(err),
      );
      return;
    }
    this.consume(result as Body);
  }

  // PEP 3333 start_response semantics, carried over (spec §5).
  private start(status: string, headers: [string, string][], excInfo?: unknown): Write {
    if (excInfo !== undefined && excInfo !== null) {
      // §5.3: once the head is on the wire it cannot be taken back; the app's error goes on up.
      if (this.state >= HEAD_SENT) throw excInfo;
    } else if (this.state !== NEW) {
      throw new AppContractError('startResponse() was called a second time without excInfo');
    }
    checkResponse(status, headers, this.response);
    this.noBody = this.method === 'HEAD' || this.response.status === 204 || this.response.status === 304;
    this.state = STARTED;
    return (this.writeFn ??= (chunk: Chunk) => this.legacyWrite(chunk));
  }

  private legacyWrite(chunk: Chunk): Promise<void> {
    if (this.state === DONE) return Promise.reject(new AppContractError('write() called after the response ended'));
    const len = byteLengthOf(chunk);
    // spec §5.5: the first write() sends the head, even an empty one.
    if (this.state === STARTED) this.sendHead(-1);
    if (len === 0) return Promise.resolve();
    if (this.writeChunk(chunk, len)) return Promise.resolve();
    return this.transport.waitDrain();
  }

  private sendHead(knownLength: number): void {
    if (this.state === NEW) throw new AppContractError('the app produced a body before calling startResponse()');
    const declared = this.response.contentLength;
    this.transport.sendHead(this.response, declared >= 0 ? declared : knownLength, this.noBody);
    this.state = HEAD_SENT;
  }

  /** Arrays are the common case and already in memory: one pass, no awaiting. */
  private sendArray(body: Chunk[]): void {
    try {
      let known = 0;
      for (let i = 0; i < body.length; i++) known += byteLengthOf(body[i]);
      if (this.state === HEAD_SENT) {
        // write() already sent the head; the array follows it.
        known = -1;
      } else if (this.state === NEW) {
        throw new AppContractError('the app returned without calling startResponse()');
      }
      if (this.state === STARTED) this.sendHead(known);
      for (let i = 0; i < body.length && !this.overflow; i++) {
        const chunk = body[i]!;
        const len = byteLengthOf(chunk);
        if (len !== 0) this.writeChunk(chunk, len);
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
      this.fail(new AppContractError(`the app returned ${describe(body)}; return an iterable of chunks, e.g. [text]`));
      return;
    }
    const asyncIt = (body as AsyncIterable<Chunk>)[Symbol.asyncIterator];
    if (typeof asyncIt === 'function') {
      void this.pump(asyncIt.call(body), true);
      return;
    }
    const syncIt = (body as Iterable<Chunk>)[Symbol.iterator];
    if (typeof syncIt === 'function') {
      void this.pump(syncIt.call(body), false);
      return;
    }
    this.fail(new AppContractError(`the app returned ${describe(body)}, which is not iterable`));
  }

  private async pump(iterator: Iterator<Chunk> | AsyncIterator<Chunk>, isAsync: boolean): Promise<void> {
    let finished = false;
    try {
      for (;;) {
        const step = (isAsync ? await iterator.next() : iterator.next()) as IteratorResult<Chunk>;
        if (step.done === true) {
          finished = true;
          break;
        }
        if (this.transport.gone) break;
        const chunk = step.value;
        const len = byteLengthOf(chunk);
        if (len === 0) continue;
        if (this.state === STARTED) this.sendHead(-1);
        else if (this.state !== HEAD_SENT) throw new AppContractError('the app produced a body before calling startResponse()');
        if (!this.writeChunk(chunk, len)) await this.transport.waitDrain();
        if (this.overflow) break;
      }
    } catch (err) {
      this.stopIterator(iterator, finished);
      this.fail(err);
      return;
    }
    this.stopIterator(iterator, finished);
    if (this.transport.gone) {
      this.state = DONE;
      this.closeBody();
      return;
    }
    try {
      this.end();
    } catch (err) {
      this.fail(err);
    }
  }

  /** A generator left early still gets its finally blocks run. */
  private stopIterator(iterator: Iterator<Chunk> | AsyncIterator<Chunk>, finished: boolean): void {
    if (finished || typeof iterator.return !== 'function') return;
    try {
      const r = iterator.return();
      if (r !== null && typeof (r as Promise<unknown>).then === 'function') {
        (r as Promise<unknown>).then(undefined, (err: unknown) => this.log.error({ err }, 'the response body raised while being closed'));
      }
    } catch (err) {
      this.log.error({ err }, 'the response body raised while being closed');
    }
  }

  /** Enforces the app's Content-Length: never more bytes than declared (spec §6.2). */
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
    if (this.state === STARTED) this.sendHead(this.noBody ? -1 : 0);
    const declared = this.response.contentLength;
    const complete = !this.overflow && (this.noBody || declared < 0 || this.sent === declared);
    if (!complete && !this.overflow) {
      this.log.error({ declared, sent: this.sent }, 'the app sent fewer bytes than its Content-Length; the connection was closed');
    }
    this.state = DONE;
    this.transport.finish(complete);
    this.closeBody();
  }

  /** spec §8: before the head → 500 and the worker goes on; after → the connection is aborted. */
  private fail(err: unknown): void {
    const wasSent = this.state >= HEAD_SENT;
    if (this.state === DONE) {
      this.log.error({ err }, 'error after the response was complete');
      return;
    }
    this.state = DONE;
    if (err instanceof AppHeaderError) {
      this.log.error(`the app passed an invalid response to startResponse(): ${err.message}; answered 500`);
    } else if (err instanceof AppContractError) {
      this.log.error(`the app broke the TSGI contract: ${err.message}; ${wasSent ? 'connection aborted' : 'answered 500'}`);
    } else {
      this.log.error({ err }, wasSent ? 'the app raised after the response head was sent; connection aborted' : 'the app raised an error; answered 500');
    }
    if (this.transport.gone) {
      // Nothing to answer.
    } else if (wasSent) {
      this.transport.abort();
    } else {
      this.transport.sendError(500, 'Internal Server Error', INTERNAL_ERROR_BODY);
      this.transport.finish(true);
    }
    this.closeBody();
  }

  /** spec §6.4: close() exactly once, whatever happened. */
  closeBody(): void {
    if (this.bodyClosed) return;
    this.bodyClosed = true;
    const body = this.body;
    if (body === null || typeof body !== 'object' || typeof body.close !== 'function') return;
    try {
      const r = body.close();
      if (r !== null && typeof r === 'object' && typeof (r as Promise<unknown>).then === 'function') {
        (r as Promise<unknown>).then(undefined, (err: unknown) => this.log.error({ err }, 'body.close() raised'));
      }
    } catch (err) {
      this.log.error({ err }, 'body.close() raised');
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
