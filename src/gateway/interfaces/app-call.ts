/**
 * Calls a TSGI app the way a server does (spec §5, §6) and hands its response back as a pull
 * stream: `callApp()` resolves once "the headers are sent" (the first non-empty chunk, the first
 * `write()`, or the end of the body, §5.6), with the status and headers; `next()` then gives the
 * body one chunk at a time, asking the app for the next chunk only when the caller asks, so the
 * caller's own backpressure reaches the app. toFetch, toNode and the test client are built on it.
 *
 * It is middleware seen from the app's side, so it keeps every server rule towards the app:
 * the status and headers are checked before any of them can leave (§5.2, §5.3), hop-by-hop fields
 * are dropped (§5.4), a declared Content-Length is never exceeded (§6.3), HEAD, 204 and 304 carry
 * no content but their bodies are still iterated (§6.3), and `close()` is called exactly once
 * (§6.4).
 */
import { Buffer } from 'node:buffer';
import { TsgiError } from '../../errors.js';
import { checkResponse, emptyCheckedResponse, type CheckedResponse } from '../app-headers.js';
import type { App, Body, Chunk, Environ, Header, Write } from '../types.js';

/** The app broke the TSGI contract in a way the adapter cannot carry on from (spec §5, §6). */
export class AppContractError extends TsgiError {
  constructor(message: string) {
    super('TSGI_ERR_APP_CONTRACT', message);
  }
}

/** What the app answered, once its headers are sent. */
export interface AppResponse {
  status: number;
  /** The reason phrase the app gave ('' when it gave none). */
  reason: string;
  /** The app's fields after hop-by-hop ones were dropped; a declared Content-Length is included. */
  headers: Header[];
  /** The app's Content-Length, or -1. */
  contentLength: number;
  /** HEAD, 204 and 304: no content is ever given, whatever the body yields. */
  bodyless: boolean;
  /**
   * The next piece of content, or null at the end. Rejects when the app raised or broke the
   * contract after its headers were sent; the response is then incomplete.
   */
  next(): Promise<Uint8Array | null>;
  /**
   * Done with the response, complete or not: stops the body (its iterator's `return()`) and calls
   * its `close()`, once. Resolves when `close()` settled; never rejects (failures go to `onError`).
   */
  close(): Promise<void>;
}

export interface CallOptions {
  /** Where a failing `close()` or `return()` is reported; default `environ['tsgi.errors']`. */
  onError?: (message: string, error: unknown) => void;
}

const NEW = 0;
const STARTED = 1;
const HEAD_SENT = 2;
const DONE = 3;

const EMPTY = new Uint8Array(0);

function toBytes(chunk: Chunk): Uint8Array {
  return typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return 'a string';
  if (value instanceof Uint8Array) return 'a Uint8Array';
  if (typeof value === 'object') return `an object (${(value as object).constructor?.name ?? 'Object'})`;
  return typeof value;
}

class Call implements AppResponse {
  status = 0;
  reason = '';
  headers: Header[] = [];
  contentLength = -1;
  bodyless = false;

  private state = NEW;
  private readonly checked: CheckedResponse = emptyCheckedResponse();
  private readonly method: string;
  /** Content ready for the caller: write() data, or a chunk pulled to find out that the head is sent. */
  private readonly queue: Uint8Array[] = [];
  /** write() promises waiting for their chunk to be taken. */
  private readonly writers: (() => void)[] = [];
  private writeFn: Write | null = null;
  private body: Body | null = null;
  private iterator: Iterator<Chunk> | AsyncIterator<Chunk> | null = null;
  private isAsync = false;
  /** True once the app's function returned (or its promise settled). */
  private returned = false;
  private iterationDone = false;
  private failure: { error: unknown } | null = null;
  private given = 0;
  private closed: Promise<void> | null = null;
  private headWaiter: { resolve: (r: AppResponse) => void; reject: (e: unknown) => void } | null = null;
  /** The pull that looks for the head, while it runs. */
  private headPull: Promise<void> | null = null;
  /** close() was asked for before the app returned its body. */
  private closeWanted: ((done: Promise<void>) => void) | null = null;
  /** A caller's next() waiting for write() data while the app has not returned yet. */
  private dataWaiter: (() => void) | null = null;

  constructor(
    private readonly environ: Environ,
    private readonly onError: (message: string, error: unknown) => void,
  ) {
    this.method = environ.REQUEST_METHOD;
  }

  start(app: App): Promise<AppResponse> {
    const head = new Promise<AppResponse>((resolve, reject) => {
      this.headWaiter = { resolve, reject };
    });
    let result: Body | Promise<Body>;
    try {
      result = app(this.environ, (status, headers, excInfo) => this.startResponse(status, headers, excInfo));
    } catch (error) {
      this.raised(error);
      return head;
    }
    if (result !== null && typeof result === 'object' && typeof (result as Promise<Body>).then === 'function') {
      (result as Promise<Body>).then(
        (body) => this.received(body),
        (error: unknown) => this.raised(error),
      );
    } else {
      this.received(result as Body);
    }
    return head;
  }

  // spec §5.1, §5.6: PEP 3333's start_response rules.
  private startResponse(status: string, headers: Header[], excInfo?: unknown): Write {
    if (excInfo !== undefined && excInfo !== null) {
      if (this.state >= HEAD_SENT) throw excInfo;
    } else if (this.state !== NEW) {
      throw new AppContractError('startResponse() was called a second time without excInfo');
    }
    if (this.state === DONE) throw new AppContractError('startResponse() was called after the body was closed');
    checkResponse(status, headers, this.checked);
    this.state = STARTED;
    return (this.writeFn ??= (chunk) => this.write(chunk));
  }

  // spec §5.5
  private write(chunk: Chunk): Promise<void> {
    if (this.state === DONE) return Promise.reject(new AppContractError('write() was called after the response ended'));
    if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) {
      return Promise.reject(new AppContractError(`write() was given ${describe(chunk)}; chunks are strings or Uint8Arrays`));
    }
    if (this.state === STARTED) this.sendHead();
    const bytes = toBytes(chunk);
    if (bytes.length === 0 || this.bodyless) return Promise.resolve();
    this.queue.push(bytes);
    const waiter = this.dataWaiter;
    this.dataWaiter = null;
    waiter?.();
    // Resolved when the caller takes the chunk: awaiting write() is the app's backpressure.
    return new Promise<void>((resolve) => this.writers.push(resolve));
  }

  private sendHead(): void {
    const r = this.checked;
    this.status = r.status;
    const space = r.statusLine.indexOf(' ');
    this.reason = space === -1 ? '' : r.statusLine.slice(space + 1);
    this.headers = r.contentLength >= 0 ? [...r.headers, ['Content-Length', String(r.contentLength)]] : r.headers;
    this.contentLength = r.contentLength;
    this.bodyless = this.method === 'HEAD' || r.status === 204 || r.status === 304;
    this.state = HEAD_SENT;
    const waiter = this.headWaiter;
    this.headWaiter = null;
    waiter?.resolve(this);
  }

  /** The app raised (or its promise rejected) instead of returning a body: there is nothing to close. */
  private raised(error: unknown): void {
    this.returned = true;
    this.fail(error);
    const closeWanted = this.closeWanted;
    this.closeWanted = null;
    closeWanted?.(Promise.resolve());
  }

  private received(body: Body): void {
    this.returned = true;
    this.body = body;
    const closeWanted = this.closeWanted;
    if (closeWanted !== null) {
      this.closeWanted = null;
      closeWanted(this.closeBody());
      return;
    }
    if (this.state === DONE) {
      void this.close();
      return;
    }
    if (body === null || typeof body !== 'object' || body instanceof Uint8Array) {
      this.fail(new AppContractError(`the app returned ${describe(body)}; return an iterable of chunks, e.g. [text]`));
      return;
    }
    const asyncIt = (body as AsyncIterable<Chunk>)[Symbol.asyncIterator];
    const syncIt = (body as Iterable<Chunk>)[Symbol.iterator];
    try {
      if (typeof asyncIt === 'function') {
        this.iterator = asyncIt.call(body);
        this.isAsync = true;
      } else if (typeof syncIt === 'function') {
        this.iterator = syncIt.call(body);
      } else {
        throw new AppContractError(`the app returned ${describe(body)}, which is not iterable`);
      }
    } catch (error) {
      this.fail(error);
      return;
    }
    const waiter = this.dataWaiter;
    this.dataWaiter = null;
    waiter?.();
    if (this.state < HEAD_SENT) this.pullUntilHead();
  }

  /** The head is held back until the first non-empty chunk or the end of the body (§5.6). */
  private pullUntilHead(): void {
    this.headPull = (async () => {
      try {
        while (this.state < HEAD_SENT) {
          const chunk = await this.pull();
          if (this.state === DONE) return;
          if (chunk === null) {
            if (this.state === NEW) throw new AppContractError('the app returned without calling startResponse()');
            if (this.state === STARTED) this.sendHead();
            return;
          }
          if (chunk.length === 0) continue;
          if (this.state === NEW) throw new AppContractError('the body produced a chunk before startResponse() was called');
          // write() may have sent the head meanwhile; the chunk then follows its data.
          if (this.state === STARTED) this.sendHead();
          if (!this.bodyless) this.queue.push(chunk);
        }
      } catch (error) {
        this.fail(error);
      } finally {
        this.headPull = null;
      }
    })();
  }

  /** One step of the body: a chunk (possibly empty), or null at its end. */
  private async pull(): Promise<Uint8Array | null> {
    const iterator = this.iterator!;
    if (this.iterationDone) return null;
    const step = (this.isAsync ? await iterator.next() : iterator.next()) as IteratorResult<Chunk>;
    if (step.done === true) {
      this.iterationDone = true;
      return null;
    }
    const chunk = step.value as unknown;
    if (typeof chunk === 'string') return chunk.length === 0 ? EMPTY : Buffer.from(chunk, 'utf8');
    if (chunk instanceof Uint8Array) return chunk;
    throw new AppContractError(`the body yielded ${describe(chunk)}; chunks must be strings or Uint8Arrays`);
  }

  async next(): Promise<Uint8Array | null> {
    for (;;) {
      if (this.failure !== null) throw this.failure.error;
      let chunk: Uint8Array | null;
      if (this.queue.length > 0) {
        chunk = this.queue.shift()!;
        this.writers.shift()?.();
      } else if (!this.returned) {
        // Only write() can give content before the app returns its body.
        await new Promise<void>((resolve) => {
          this.dataWaiter = resolve;
        });
        continue;
      } else if (this.headPull !== null) {
        // The iterator is busy finding the head; one next() at a time (spec §6.5).
        await this.headPull;
        continue;
      } else if (this.state === DONE) {
        return null;
      } else {
        try {
          chunk = await this.pull();
        } catch (error) {
          this.fail(error);
          throw error;
        }
        if (chunk === null) return this.end();
        if (chunk.length === 0 || this.bodyless) continue;
      }
      return this.limit(chunk);
    }
  }

  /** spec §6.3: never more than the declared Content-Length, never a short body passed off as whole. */
  private limit(chunk: Uint8Array): Uint8Array {
    const declared = this.contentLength;
    if (declared < 0) {
      this.given += chunk.length;
      return chunk;
    }
    const room = declared - this.given;
    if (chunk.length <= room) {
      this.given += chunk.length;
      return chunk;
    }
    this.fail(new AppContractError(`the app sent more than its Content-Length of ${declared} bytes`));
    this.given = declared;
    if (room > 0) return chunk.subarray(0, room);
    throw this.failure!.error;
  }

  private end(): null {
    if (this.contentLength >= 0 && !this.bodyless && this.given < this.contentLength) {
      const error = new AppContractError(`the body ended after ${this.given} of its declared ${this.contentLength} bytes`);
      this.fail(error);
      throw error;
    }
    this.state = DONE;
    void this.close();
    return null;
  }

  private fail(error: unknown): void {
    if (this.failure === null) this.failure = { error };
    const waiter = this.headWaiter;
    this.headWaiter = null;
    this.state = DONE;
    for (const resolve of this.writers.splice(0)) resolve();
    const data = this.dataWaiter;
    this.dataWaiter = null;
    data?.();
    waiter?.reject(error);
    if (this.returned) void this.close();
  }

  close(): Promise<void> {
    if (this.closed !== null) return this.closed;
    this.state = DONE;
    const data = this.dataWaiter;
    this.dataWaiter = null;
    data?.();
    for (const resolve of this.writers.splice(0)) resolve();
    if (this.returned) {
      this.closed = this.closeBody();
    } else {
      // The app has not returned its body yet: close it once it does (spec §6.4).
      this.closed = new Promise<void>((resolve) => {
        this.closeWanted = resolve;
      });
    }
    return this.closed;
  }

  private async closeBody(): Promise<void> {
    const iterator = this.iterator;
    if (iterator !== null && !this.iterationDone && typeof iterator.return === 'function') {
      this.iterationDone = true;
      try {
        await iterator.return();
      } catch (error) {
        this.onError('the response body raised while being stopped', error);
      }
    }
    const body = this.body;
    if (body !== null && typeof body === 'object' && typeof body.close === 'function') {
      try {
        await body.close();
      } catch (error) {
        this.onError('body.close() raised', error);
      }
    }
  }
}

/**
 * Calls `app` with `environ` and resolves once its headers are sent. Rejects when the app raised,
 * or broke the contract, before that: the caller answers 500 (or re-raises, in a test).
 */
export function callApp(app: App, environ: Environ, options: CallOptions = {}): Promise<AppResponse> {
  const onError =
    options.onError ??
    ((message: string, error: unknown) => environ['tsgi.errors'].write(`${message}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`));
  return new Call(environ, onError).start(app);
}

/**
 * The response's content as a WHATWG byte stream, pulled from the app only as the reader reads;
 * cancelling it stops the app's body (`close()`). An app error after the head errors the stream
 * (and goes to `onError`).
 */
export function contentStream(response: AppResponse, onError?: (error: unknown) => void): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const chunk = await response.next();
          if (chunk === null) controller.close();
          else controller.enqueue(chunk);
        } catch (error) {
          onError?.(error);
          controller.error(error);
          void response.close();
        }
      },
      cancel: () => response.close(),
    },
    { highWaterMark: 0 },
  );
}
