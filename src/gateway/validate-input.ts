/**
 * tsgi/validate's wrappers of `tsgi.input` and `tsgi.errors` (docs/spec.md §4): they forward every
 * call, and check both the app's use of the stream and the server's answers.
 */
import { isUint8Array } from 'node:util/types';
import { checkFieldList } from './validate-environ.js';
import {
  appBroke,
  codeOf,
  describe,
  isAbandonCode,
  isThenable,
  serverBroke,
  ValidationError,
  type RequestState,
} from './validate-breach.js';
import type { Environ, ErrorStream, InputStream } from './types.js';

/**
 * spec §4.1: what `read(size)` accepts. A positive integer reads at most that many bytes;
 * `undefined`, `null`, `Infinity` and negative numbers read any amount. Returns a description of a
 * size that is not allowed, or null.
 */
function badSize(size: unknown): string | null {
  if (size === undefined || size === null) return null;
  if (typeof size !== 'number') return describe(size);
  if (size === Infinity || size < 0) return null;
  if (Number.isInteger(size) && size > 0) return null;
  return describe(size);
}

/** Whether the request, as received, was framed by Transfer-Encoding or by Content-Length. */
function framingOf(environ: Environ): { chunked: boolean; length: boolean } {
  let chunked = false;
  let length = false;
  for (const [name] of environ['tsgi.raw_headers']) {
    if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') chunked = true;
    else if (name.length === 14 && name.toLowerCase() === 'content-length') length = true;
  }
  return { chunked, length };
}

/** Forwards to the server's input stream, checking the app's calls and the server's answers. */
export class ValidatedInput implements InputStream {
  readonly #source: InputStream;
  readonly #environ: Environ;
  readonly #state: RequestState;
  /** Bytes the body has, or undefined for a chunked body whose length is unknown. */
  readonly #expected: number | undefined;
  readonly #chunked: boolean;
  #busy = false;
  #ended = false;
  #received = 0;

  constructor(environ: Environ, state: RequestState) {
    this.#source = environ['tsgi.input'];
    this.#environ = environ;
    this.#state = state;
    const framing = framingOf(environ);
    this.#chunked = environ.HTTP_TRANSFER_ENCODING !== undefined || framing.chunked;
    // spec §3.4: CONTENT_LENGTH is the length tsgi.input yields, or '' when it is not known in
    // advance (a chunked request, or a body a middleware transforms, §11.2). RFC 9112 §6.3: a
    // request with neither Transfer-Encoding nor Content-Length on the wire has no content.
    if (environ.CONTENT_LENGTH !== '') this.#expected = Number(environ.CONTENT_LENGTH);
    else this.#expected = this.#chunked || framing.length ? undefined : 0;
  }

  read(size?: number | null): Promise<Uint8Array> {
    const v11 = this.#state.v11;
    const bad = badSize(size);
    if (bad !== null) {
      const breach = new ValidationError('app', '§4.1', `tsgi.input.read() was called with ${bad}`, 'pass a positive integer, or nothing (or null) to read whatever is available');
      if (!v11) throw breach;
      // TSGI 1.1: the server rejects such a size with a RangeError (0 must never look like the end),
      // or a TypeError when it is not a number at all.
      const expected = typeof size === 'number' ? RangeError : TypeError;
      return this.#expectRejection(size, '§4.1', (error) => error instanceof expected, `reject read(0), read(NaN) and fractional sizes with a RangeError, and sizes that are not numbers with a TypeError`, breach);
    }
    if (this.#busy) {
      const breach = new ValidationError('app', '§4.3', 'tsgi.input read() started while another read was pending', 'await each read before starting the next');
      if (!v11) throw breach;
      return this.#expectRejection(size, '§4.3', () => true, 'reject a read that starts while another is pending', breach);
    }
    if (v11 && this.#state.ended) {
      // spec §4.8: the response is over; there is nobody left to read for.
      const signal = this.#state.signal;
      const allowed = (error: unknown): boolean =>
        codeOf(error) === 'TSGI_ERR_RESPONSE_ENDED' || (signal !== undefined && signal.aborted && codeOf(error) === codeOf(signal.reason));
      return this.#expectRejection(size, '§4.8', allowed, 'reject a read after the response ended with TSGI_ERR_RESPONSE_ENDED', null);
    }
    if (v11 && this.#state.abandoned) {
      // spec §3.9: once the server abandoned the request, reads reject with the signal's reason.
      const reason = codeOf(this.#state.signal!.reason);
      return this.#expectRejection(size, '§3.9', (error) => codeOf(error) === reason, `reject reads after abandoning the request, with the signal's reason (${reason})`, null);
    }
    this.#busy = true;
    let pending: unknown;
    try {
      pending = this.#source.read(size);
    } catch (error) {
      this.#busy = false;
      throw error;
    }
    if (!isThenable(pending)) {
      this.#busy = false;
      serverBroke('§4.1', `tsgi.input.read() returned ${describe(pending)}`, 'return a Promise of a Uint8Array');
    }
    return Promise.resolve(pending).then(
      (chunk) => {
        this.#busy = false;
        if (!isUint8Array(chunk)) serverBroke('§4.1', `tsgi.input.read() resolved with ${describe(chunk)}`, 'resolve with a Uint8Array');
        if (typeof size === 'number' && size > 0 && chunk.length > size) {
          serverBroke('§4.1', `tsgi.input.read(${size}) resolved with ${chunk.length} bytes`, 'never return more than size bytes');
        }
        this.#account(chunk);
        return chunk;
      },
      (error: unknown) => {
        this.#busy = false;
        this.#checkRejection(error);
        throw error;
      },
    );
  }

  /**
   * Forwards a read that a correct server refuses, and settles with `breach` (or the server's own
   * error when there is none) once the server refused it; a server that does not refuse it is
   * the culprit.
   */
  #expectRejection(size: unknown, rule: string, allowed: (error: unknown) => boolean, fix: string, breach: ValidationError | null): Promise<never> {
    const call = `tsgi.input.read(${size === undefined ? '' : String(size)})`;
    let pending: unknown;
    try {
      pending = this.#source.read(size as number);
    } catch (error) {
      pending = Promise.reject(error);
    }
    return Promise.resolve(pending).then(
      (value) => {
        throw new ValidationError('server', rule, `${call} resolved with ${describe(value)}`, fix);
      },
      (error: unknown) => {
        if (!allowed(error)) {
          throw new ValidationError('server', rule, `${call} rejected with ${describe(error)}`, fix);
        }
        throw breach ?? error;
      },
    );
  }

  /** spec §3.9: a read that fails because the request was abandoned comes with an aborted signal. */
  #checkRejection(error: unknown): void {
    const signal = this.#state.signal;
    if (!this.#state.v11 || signal === undefined) return;
    const code = codeOf(error);
    if (isAbandonCode(code) && !signal.aborted) {
      serverBroke('§3.9', `tsgi.input.read() rejected with ${code} while tsgi.signal was not aborted`, 'abort the signal, with the same reason, no later than the read rejects');
    }
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array> {
    const source = this.#source[Symbol.asyncIterator]();
    const iterator: AsyncIterableIterator<Uint8Array> = {
      next: () => {
        this.#claim('iteration');
        let pending: Promise<IteratorResult<Uint8Array>>;
        try {
          pending = Promise.resolve(source.next());
        } catch (error) {
          this.#busy = false;
          throw error;
        }
        return pending.then(
          (step) => {
            this.#busy = false;
            if (step.done) {
              this.#end();
              return step;
            }
            if (!isUint8Array(step.value) || step.value.length === 0) {
              serverBroke('§4.2', `iterating tsgi.input gave ${describe(step.value)}`, 'yield non-empty Uint8Arrays and finish at the end of the body');
            }
            this.#account(step.value);
            return step;
          },
          (error: unknown) => {
            this.#busy = false;
            this.#checkRejection(error);
            throw error;
          },
        );
      },
      return: (value?: unknown) => Promise.resolve(source.return ? source.return(value) : { done: true as const, value: undefined }),
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  #claim(what: string): void {
    if (this.#busy) appBroke('§4.3', `tsgi.input ${what} started while another read was pending`, 'await each read before starting the next');
    this.#busy = true;
  }

  #account(chunk: Uint8Array): void {
    if (chunk.length === 0) return this.#end();
    if (this.#ended) serverBroke('§4.1', `tsgi.input returned ${chunk.length} bytes after it had signalled the end`, 'keep returning an empty array once the body has ended');
    this.#received += chunk.length;
    if (this.#expected !== undefined && this.#received > this.#expected) {
      serverBroke('§4.4', `tsgi.input returned ${this.#received} bytes for a CONTENT_LENGTH of ${this.#expected}`, "never read past this request's body");
    }
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#expected !== undefined && this.#received < this.#expected) {
      serverBroke('§4.4', `tsgi.input signalled the end after ${this.#received} of ${this.#expected} bytes`, 'reject the read when the client goes away; never pass a truncated body off as complete');
    }
    if (this.#chunked) {
      const trailers = this.#environ['tsgi.trailers'];
      if (trailers === undefined) serverBroke('§4.4', "a chunked body ended but environ['tsgi.trailers'] is unset", 'set it (to [] when there are none) before signalling the end');
      checkFieldList(trailers, 'tsgi.trailers', '§4.4');
    }
  }
}

export function validatedErrors(source: ErrorStream): ErrorStream {
  return {
    write(message: string): void {
      if (typeof message !== 'string') appBroke('§4.7', `tsgi.errors.write() was called with ${describe(message)}`, 'write strings');
      source.write(message);
    },
    flush(): void {
      source.flush();
    },
  };
}
