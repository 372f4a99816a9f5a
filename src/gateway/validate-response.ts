/**
 * tsgi/validate's side of one response (docs/spec.md §5, §6): it wraps `startResponse`, `write`,
 * `tsgi.early_hints` and the body, checks what the app passes and how the server iterates and
 * closes the body.
 */
import { FIELD_VALUE, HOP_BY_HOP, STATUS, TOKEN, parseContentLength } from './app-headers.js';
import {
  appBroke,
  byteLength,
  chunkHint,
  codeOf,
  describe,
  isAbandonCode,
  isChunk,
  isThenable,
  quote,
  serverBroke,
  ValidationError,
  watchSettle,
  type RequestState,
} from './validate-breach.js';
import type { Body, Chunk, EarlyHints, Environ, Header, StartResponse, Write } from './types.js';

/** What reports a body whose close() never came; it holds nothing that keeps the body alive. */
class CloseWatch {
  #fired = false;
  readonly #report: (error: ValidationError) => void;
  readonly #request: string;

  constructor(report: (error: ValidationError) => void, request: string) {
    this.#report = report;
    this.#request = request;
  }

  fire(problem: string): void {
    if (this.#fired) return;
    this.#fired = true;
    this.#report(new ValidationError('server', '§6.4', `${problem} (${this.#request})`, 'call body.close() exactly once whatever happens'));
  }
}

// A best-effort net for bodies the server dropped without iterating them (e.g. the client left
// while an async app was still running). Collection may never happen; the deadline below is the
// check that reliably runs.
const droppedBodies = new FinalizationRegistry<CloseWatch>((watch) => {
  watch.fire('the server dropped a body without calling its close()');
});

export class Exchange {
  readonly startResponse: StartResponse;
  readonly #environ: Environ;
  readonly #serverStartResponse: StartResponse;
  readonly #closeDeadlineMs: number;
  readonly #watch: CloseWatch;
  readonly #state: RequestState;
  #status: number | undefined;
  #declaredLength: number | undefined;
  /** The headers are committed: startResponse with excInfo must re-throw (spec §5.6). */
  #headersSent = false;
  /** A write(), a non-empty chunk or the end of the body passed through: the head went out. */
  #headSeen = false;
  /** Bytes of content the app produced so far (write() data and iterated chunks). */
  #bytesSent = 0;
  #closed = false;
  /** The app returned an Array: its bytes were counted once, as it was returned (spec §6.5). */
  #array = false;
  #nextPending = false;
  #deadline: ReturnType<typeof setTimeout> | undefined;
  // TSGI 1.1 (spec §6.4): an iteration in progress, and whether the server ended it with return().
  #iterating = false;
  #returnCalled = false;
  #returnSettled = false;
  /** The body ended with every declared byte: the response is complete. */
  #complete = false;
  #wrapped = false;
  #returnDeadline: ReturnType<typeof setTimeout> | undefined;

  constructor(environ: Environ, serverStartResponse: StartResponse, closeDeadlineMs: number, state: RequestState) {
    this.#environ = environ;
    this.#serverStartResponse = serverStartResponse;
    this.#closeDeadlineMs = closeDeadlineMs;
    this.#state = state;
    this.#watch = new CloseWatch(state.report, `${environ.REQUEST_METHOD} ${environ.RAW_URI}`);
    this.startResponse = (status, headers, excInfo) => this.#start(status, headers, excInfo);
    state.signal?.addEventListener('abort', () => this.#aborted(), { once: true });
  }

  // spec §5.1, §5.6
  #start(status: string, headers: unknown, excInfo: unknown): Write {
    const replacing = excInfo !== undefined;
    if (this.#closed) appBroke('§5.1', 'startResponse() was called after the body was closed', 'start the response before the body ends');
    if (this.#status !== undefined && !replacing) {
      appBroke('§5.1', 'startResponse() was called a second time without excInfo', 'call it once, or pass the caught error as excInfo to replace the headers');
    }
    const code = this.#checkStatus(status);
    const declaredLength = this.#checkHeaders(headers, code);
    if (replacing && this.#headersSent) {
      // The headers are on the wire; the server must re-throw excInfo so the app's error surfaces.
      let thrown: { error: unknown } | undefined;
      try {
        this.#serverStartResponse(status, headers as Header[], excInfo);
      } catch (error) {
        thrown = { error };
      }
      if (thrown === undefined) serverBroke('§5.6', 'startResponse() with excInfo returned after the headers were sent', 're-throw excInfo');
      if (thrown.error !== excInfo) serverBroke('§5.6', `startResponse() with excInfo threw ${describe(thrown.error)} instead of excInfo`, 're-throw excInfo itself');
      throw excInfo;
    }
    const write: unknown = replacing
      ? this.#serverStartResponse(status, headers as Header[], excInfo)
      : this.#serverStartResponse(status, headers as Header[]);
    if (typeof write !== 'function') serverBroke('§5.1', `startResponse() returned ${describe(write)}`, 'return the write function');
    this.#status = code;
    this.#declaredLength = declaredLength;
    return this.#validatedWrite(write as Write);
  }

  #checkStatus(status: unknown): number {
    if (typeof status !== 'string') appBroke('§5.2', `the status is ${describe(status)}`, "pass a string such as '200 OK'");
    const match = STATUS.exec(status);
    if (match === null || (!this.#state.v11 && !status.includes(' '))) {
      appBroke('§5.2', `the status ${quote(status)} is not a code 200-599, optionally followed by a space and a reason`, "use the form '404 Not Found'");
    }
    const code = Number(match[1]);
    if (code < 200) appBroke('§5.2', `the status code ${code} is not a final status (200-599)`, 'send 103 Early Hints with tsgi.early_hints; other 1xx responses belong to the server');
    return code;
  }

  /** Returns the declared Content-Length, if any. */
  #checkHeaders(headers: unknown, code: number): number | undefined {
    if (!Array.isArray(headers)) appBroke('§5.3', `the headers are ${describe(headers)}`, 'pass an array of [name, value] pairs');
    let declared: number | undefined;
    headers.forEach((header: unknown, i) => {
      const [name, value] = checkField(header, i, '§5.3', 'header');
      const lower = name.toLowerCase();
      if (HOP_BY_HOP.has(lower)) appBroke('§5.4', `the app set the hop-by-hop header ${name}`, 'leave connection management and framing to the server');
      if (lower === 'content-length') {
        const length = parseContentLength(value);
        if (length < 0) appBroke('§5.3', `Content-Length is ${quote(value)}`, 'it is a number of bytes, digits only');
        // RFC 9110 §8.6: "A server MUST NOT send a Content-Length header field in any response with
        // a status code of 1xx (Informational) or 204 (No Content)."
        if (code === 204) appBroke('§5.3', 'a 204 response carries Content-Length', 'drop Content-Length from 204 responses');
        if (declared !== undefined && declared !== length) appBroke('§5.3', `Content-Length is given twice, as ${declared} and ${length}`, 'send it once');
        declared = length;
      }
    });
    return declared;
  }

  // spec §5.5
  #validatedWrite(serverWrite: Write): Write {
    return (chunk: Chunk) => {
      if (this.#closed) {
        if (this.#state.v11) this.#watchRefusal(serverWrite, chunk);
        appBroke('§5.5', 'write() was called after the body was closed', 'finish writing before the body ends');
      }
      if (this.#array) appBroke('§6.5', 'write() was called after the app returned an Array body', 'an Array body is complete when it is returned: make every write() call before returning it');
      if (!isChunk(chunk)) appBroke('§5.5', `write() was called with ${describe(chunk)}`, 'write strings (sent as UTF-8) or Uint8Arrays');
      this.#headersSent = true;
      this.#headSeen = true;
      this.#count(chunk);
      const signal = this.#state.signal;
      const gone = this.#state.v11 && signal !== undefined && signal.aborted && codeOf(signal.reason) === 'TSGI_ERR_CLIENT_GONE';
      const pending: unknown = serverWrite(chunk);
      if (!isThenable(pending)) serverBroke('§5.5', `write() returned ${describe(pending)}`, 'return a Promise that settles once the chunk is handed to the transport');
      if (gone) {
        // spec §5.5 (1.1): once the client has gone, write() rejects with TSGI_ERR_CLIENT_GONE.
        watchSettle(
          pending,
          (outcome) =>
            outcome.ok ? 'write() resolved after the client had gone' : codeOf(outcome.error) === 'TSGI_ERR_CLIENT_GONE' ? null : `write() after the client had gone rejected with ${describe(outcome.error)}`,
          (problem) => this.#state.reportServer('§5.5', problem, 'reject write() with TSGI_ERR_CLIENT_GONE once the client has gone'),
        );
      }
      return pending as Promise<void>;
    };
  }

  /** spec §5.5 (1.1): the server's write() after the response ended rejects with TSGI_ERR_RESPONSE_ENDED. */
  #watchRefusal(serverWrite: Write, chunk: Chunk): void {
    let pending: unknown;
    try {
      pending = serverWrite(chunk);
    } catch (error) {
      pending = Promise.reject(error);
    }
    const signal = this.#state.signal;
    watchSettle(
      pending,
      (outcome) => {
        if (outcome.ok) return 'write() after the response ended resolved';
        const code = codeOf(outcome.error);
        if (code === 'TSGI_ERR_RESPONSE_ENDED' || (signal?.aborted === true && code === codeOf(signal.reason))) return null;
        return `write() after the response ended rejected with ${describe(outcome.error)}`;
      },
      (problem) => this.#state.reportServer('§5.5', problem, 'reject it with TSGI_ERR_RESPONSE_ENDED'),
    );
  }

  /** spec §5.7: wraps the server's `tsgi.early_hints`. */
  earlyHints(serverHints: EarlyHints): EarlyHints {
    return (headers: Header[]) => {
      if (!Array.isArray(headers)) appBroke('§5.7', `tsgi.early_hints() was given ${describe(headers)}`, 'pass an array of [name, value] pairs');
      headers.forEach((header: unknown, i) => {
        const [name] = checkField(header, i, '§5.7', 'hint');
        const lower = name.toLowerCase();
        if (lower === 'content-length' || HOP_BY_HOP.has(lower)) {
          appBroke('§5.7', `the hint ${name} is a framing or hop-by-hop field`, 'hints carry fields such as Link; leave framing and connection fields out');
        }
      });
      const committed = this.#headSeen;
      let thrown: { error: unknown } | undefined;
      try {
        serverHints(headers);
      } catch (error) {
        thrown = { error };
      }
      if (committed) {
        if (thrown === undefined) serverBroke('§5.7', 'tsgi.early_hints() returned after the final head was sent', 'throw a TsgiError with code TSGI_ERR_HEADERS_SENT');
        if (codeOf(thrown.error) !== 'TSGI_ERR_HEADERS_SENT') {
          serverBroke('§5.7', `tsgi.early_hints() after the final head threw ${describe(thrown.error)}`, 'throw a TsgiError with code TSGI_ERR_HEADERS_SENT');
        }
      }
      if (thrown !== undefined) throw thrown.error;
    };
  }

  /** HEAD, 204 and 304 responses carry no content (RFC 9110 §9.3.2, §15.3.5, §15.4.5). */
  #bodyless(): boolean {
    return this.#environ.REQUEST_METHOD === 'HEAD' || this.#status === 204 || this.#status === 304;
  }

  // spec §6.2, §6.3
  #count(chunk: Chunk): void {
    const bytes = byteLength(chunk);
    if (bytes === 0) return;
    if (this.#status === 204 || this.#status === 304) {
      appBroke('§6.3', `a ${this.#status} response produced ${bytes} bytes of content`, `a ${this.#status} response has no content: yield nothing`);
    }
    if (this.#bodyless()) return;
    this.#bytesSent += bytes;
    if (this.#declaredLength !== undefined && this.#bytesSent > this.#declaredLength) {
      appBroke('§6.3', `the body is longer than its Content-Length of ${this.#declaredLength} (${this.#bytesSent} bytes so far)`, 'declare the real length or drop Content-Length');
    }
  }

  #checkShort(): void {
    if (this.#declaredLength !== undefined && !this.#bodyless() && this.#bytesSent < this.#declaredLength) {
      appBroke('§6.3', `the body ended after ${this.#bytesSent} of its declared ${this.#declaredLength} bytes`, 'declare the real length or drop Content-Length');
    }
  }

  #chunk(value: unknown): void {
    if (!isChunk(value)) appBroke('§6.2', `the body produced ${describe(value)}`, chunkHint(value));
    if (this.#status === undefined) appBroke('§5.1', 'the body produced a chunk before startResponse() was called', 'call startResponse() before the first chunk');
    if (this.#array) return; // counted when it was returned
    this.#count(value);
    if (byteLength(value) > 0) {
      this.#headersSent = true;
      this.#headSeen = true;
    }
  }

  #bodyEnded(): void {
    this.#finished();
    if (this.#status === undefined) appBroke('§5.1', 'the body ended without startResponse() having been called', 'call startResponse() before returning an empty body');
    this.#headersSent = true;
    this.#headSeen = true;
    if (!this.#array) this.#checkShort();
    this.#complete = true;
  }

  /** The iteration is over, ended or failed: close() must follow (spec §6.4). */
  #finished(): void {
    this.#iterating = false;
    this.#stopped();
  }

  /** The server is done with the body: close() must follow within the deadline (spec §6.4). */
  #stopped(): void {
    if (this.#closed || this.#deadline !== undefined) return;
    const ms = this.#closeDeadlineMs;
    this.#deadline = setTimeout(() => this.#watch.fire(`the server stopped iterating the body but did not call close() within ${ms} ms`), ms);
    this.#deadline.unref();
  }

  /** spec §3.9 (1.1): what the server owes once it aborts tsgi.signal. */
  #aborted(): void {
    const reason = this.#state.signal!.reason;
    const code = codeOf(reason);
    if (!(reason instanceof Error) || code === undefined || (code.startsWith('TSGI_ERR_') && !isAbandonCode(code))) {
      this.#state.reportServer('§3.9', `tsgi.signal was aborted with ${describe(reason)}`, "abort it with a TsgiError whose code says why: TSGI_ERR_CLIENT_GONE, TSGI_ERR_REQUEST_TIMEOUT, TSGI_ERR_BODY_TIMEOUT or the parse error's own code");
    }
    if (this.#closed && this.#complete) {
      this.#state.reportServer('§3.9', `tsgi.signal was aborted (${code ?? describe(reason)}) after the response was complete`, 'never abort the signal of a request whose response was sent');
      return;
    }
    if (!isAbandonCode(code) || this.#closed || !this.#wrapped) return;
    if (this.#iterating && !this.#returnCalled) {
      // spec §6.4: abandoning a body: return() at once, even while a next() is pending.
      const ms = this.#closeDeadlineMs;
      this.#returnDeadline = setTimeout(() => {
        if (!this.#returnCalled && !this.#closed) {
          this.#watch.fire(`the server abandoned the request (${code}) but did not call return() on the body's iterator within ${ms} ms`);
        }
      }, ms);
      this.#returnDeadline.unref();
    } else if (!this.#iterating) {
      this.#stopped();
    }
  }

  #beforeNext(): void {
    if (this.#closed) serverBroke('§6.4', 'the server asked for another chunk after calling close()', 'stop iterating before closing the body');
    if (this.#state.v11 && this.#returnCalled && !this.#array) serverBroke('§6.4', "the server asked for another chunk after calling the iterator's return()", 'stop iterating once you abandon the body');
  }

  // spec §6.1
  wrapBody(body: unknown): Body {
    if (typeof body === 'string') appBroke('§6.1', `the app returned ${describe(body)} as its body`, 'return an iterable of chunks, e.g. [text]');
    if (typeof body !== 'object' || body === null) appBroke('§6.1', `the app returned ${describe(body)}`, 'return an iterable or async iterable of chunks, e.g. [] for no content');
    if (ArrayBuffer.isView(body) || body instanceof ArrayBuffer) {
      appBroke('§6.1', `the app returned ${describe(body)} as its body`, 'wrap the bytes in an array: [bytes]');
    }
    const source = body as Partial<Iterable<unknown> & AsyncIterable<unknown>> & { close?: unknown };
    const isAsync = typeof source[Symbol.asyncIterator] === 'function';
    if (!isAsync && typeof source[Symbol.iterator] !== 'function') {
      appBroke('§6.1', `the app returned ${describe(body)} that is neither iterable nor async iterable`, 'return an array, a generator or an async generator of chunks');
    }
    if (source.close !== undefined && typeof source.close !== 'function') {
      appBroke('§6.4', `the body's close is ${describe(source.close)}`, 'make close a method, or leave it out');
    }
    const close = () => {
      if (this.#closed) serverBroke('§6.4', 'the server called close() on a body twice', 'call close() exactly once');
      if (this.#state.v11 && this.#iterating && !this.#returnSettled) {
        serverBroke(
          '§6.4',
          this.#returnCalled ? "the server called close() before the iterator's return() had settled" : "the server called close() in the middle of an iteration without calling the iterator's return()",
          "on abandoning a body, call its iterator's return(), wait for it to settle, then call close()",
        );
      }
      this.#closed = true;
      this.#state.ended = true;
      clearTimeout(this.#deadline);
      clearTimeout(this.#returnDeadline);
      droppedBodies.unregister(this.#watch);
      return typeof source.close === 'function' ? source.close() : undefined;
    };

    let wrapped: Body;
    if (Array.isArray(body)) {
      wrapped = this.#wrapArray(body, close);
    } else if (isAsync) {
      const asyncSource = source as AsyncIterable<unknown>;
      let taken = false;
      wrapped = {
        [Symbol.asyncIterator]: () => {
          taken = this.#takeIterator(taken);
          return this.#asyncIterator(asyncSource[Symbol.asyncIterator]());
        },
        close,
      };
    } else {
      const syncSource = source as Iterable<unknown>;
      let taken = false;
      wrapped = {
        [Symbol.iterator]: () => {
          taken = this.#takeIterator(taken);
          return this.#syncIterator(syncSource[Symbol.iterator]());
        },
        close,
      };
    }
    this.#wrapped = true;
    // spec §6.4: a body that arrives after the request was abandoned is closed at once.
    if (this.#state.v11 && this.#state.abandoned) this.#stopped();
    droppedBodies.register(wrapped, this.#watch, this.#watch);
    return wrapped;
  }

  /**
   * An Array stays an Array, so a server may still size it up front (spec §6.3). It is complete when
   * returned (spec §6.5), so its length is checked here, once: a server may read it by index or
   * iterate it any number of times, and no way of reading it changes what it holds.
   */
  #wrapArray(body: unknown[], close: () => unknown): Body {
    const copy: Chunk[] = [];
    let bytes = 0;
    for (let i = 0; i < body.length; i++) {
      const value = body[i];
      if (!isChunk(value)) appBroke('§6.2', `element ${i} of the returned array is ${describe(value)}`, chunkHint(value));
      copy.push(value);
      bytes += byteLength(value);
    }
    if (this.#status === undefined) {
      appBroke('§5.1', `the app returned an Array body${bytes > 0 ? ' with content' : ''} without having called startResponse()`, 'call startResponse() before returning the body');
    }
    if (bytes > 0 && (this.#status === 204 || this.#status === 304)) {
      appBroke('§6.3', `a ${this.#status} response returned ${bytes} bytes of content`, `a ${this.#status} response has no content: return []`);
    }
    if (!this.#bodyless()) {
      this.#bytesSent += bytes;
      if (this.#declaredLength !== undefined && this.#bytesSent > this.#declaredLength) {
        appBroke('§6.3', `the body is longer than its Content-Length of ${this.#declaredLength} (${this.#bytesSent} bytes)`, 'declare the real length or drop Content-Length');
      }
      this.#checkShort();
    }
    this.#array = true;
    this.#headersSent = true;
    // Arrays may be iterated more than once (e.g. once to size them), so no single-iterator check.
    Object.defineProperty(copy, Symbol.iterator, {
      value: () => {
        if (this.#closed) serverBroke('§6.4', 'the server iterated the body after calling close()', 'stop iterating before closing the body');
        return this.#syncIterator(Array.prototype.values.call(copy));
      },
      configurable: true,
      writable: true,
    });
    Object.defineProperty(copy, 'close', { value: close, configurable: true, writable: true });
    return copy;
  }

  // spec §6.5
  #takeIterator(taken: boolean): true {
    if (this.#closed) serverBroke('§6.4', 'the server iterated the body after calling close()', 'stop iterating before closing the body');
    if (taken) serverBroke('§6.5', 'the server asked the body for a second iterator', 'iterate a body once; only Arrays may be re-read');
    this.#iterating = true;
    return true;
  }

  #syncIterator(source: Iterator<unknown>): IterableIterator<Chunk> {
    const iterator: IterableIterator<Chunk> = {
      next: () => {
        this.#beforeNext();
        let step: IteratorResult<unknown>;
        try {
          step = source.next();
        } catch (error) {
          this.#finished();
          throw error;
        }
        return this.#checkStep(step, source);
      },
      return: (value?: unknown) => {
        this.#returnCalled = true;
        try {
          if (typeof source.return === 'function') return source.return(value) as IteratorResult<Chunk>;
          return { done: true, value: undefined };
        } finally {
          this.#returnSettled = true;
          this.#finished();
        }
      },
      [Symbol.iterator]: () => iterator,
    };
    return iterator;
  }

  #asyncIterator(source: AsyncIterator<unknown>): AsyncIterableIterator<Chunk> {
    const iterator: AsyncIterableIterator<Chunk> = {
      next: async () => {
        if (this.#nextPending) serverBroke('§6.5', 'the server called next() on the body while the previous next() was pending', 'await each chunk before asking for the next');
        this.#beforeNext();
        this.#nextPending = true;
        let step: IteratorResult<unknown>;
        try {
          step = await source.next();
        } catch (error) {
          this.#nextPending = false;
          if (!this.#returnCalled) this.#finished();
          throw error;
        }
        this.#nextPending = false;
        // spec §6.4: the result of a next() that was pending when the server abandoned the body
        // is discarded, whatever it holds.
        if (this.#returnCalled) return step as IteratorResult<Chunk>;
        return this.#checkStep(step, source);
      },
      return: async (value?: unknown) => {
        this.#returnCalled = true;
        clearTimeout(this.#returnDeadline);
        // TSGI 1.0 let close() follow return() at once; 1.1 waits for return() to settle.
        if (!this.#state.v11) this.#finished();
        try {
          if (typeof source.return === 'function') return (await source.return(value)) as IteratorResult<Chunk>;
          return { done: true, value: undefined };
        } finally {
          this.#returnSettled = true;
          this.#finished();
        }
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  #checkStep(step: IteratorResult<unknown>, source: Iterator<unknown> | AsyncIterator<unknown>): IteratorResult<Chunk> {
    try {
      if (step.done) {
        this.#bodyEnded();
        return { done: true, value: undefined };
      }
      this.#chunk(step.value);
      return step as IteratorResult<Chunk>;
    } catch (error) {
      // The breach ends iteration: let the app's generator run its finally blocks.
      this.#finished();
      try {
        const finishing: unknown = source.return?.();
        if (isThenable(finishing)) finishing.then(undefined, () => {});
      } catch {
        // The breach being reported matters more than a failing return().
      }
      throw error;
    }
  }
}

/** A [name, value] pair whose name is a token and whose value may go on the wire (spec §5.3). */
function checkField(field: unknown, i: number, rule: string, what: string): [string, string] {
  if (!Array.isArray(field) || field.length !== 2 || typeof field[0] !== 'string' || typeof field[1] !== 'string') {
    appBroke(rule, `${what} ${i} is ${describe(field)}`, `each ${what} is a [name, value] pair of strings`);
  }
  const [name, value] = field as [string, string];
  if (!TOKEN.test(name)) appBroke(rule, `the ${what} name ${quote(name)} is not an RFC 9110 token`, "use letters, digits and !#$%&'*+-.^_`|~ only");
  if (!FIELD_VALUE.test(value)) {
    appBroke(rule, `the value of ${name} is ${quote(value)}`, 'no CR, LF, NUL, DEL or other controls but HTAB, and no characters above U+00FF (encode them, e.g. RFC 8187)');
  }
  return [name, value];
}
