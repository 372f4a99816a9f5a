/**
 * environ['tsgi.input'] (spec §4): the request body as a pull stream. The engine pushes what it has
 * parsed; the input asks the engine for more only when the app has drained what is queued, so a
 * slow app never makes the worker hold more than one high-water mark of a large upload.
 */
import { TsgiError } from '../errors.js';
import type { InputStream } from './types.js';

/** What an input needs from the engine that feeds it. One object per connection, not per request. */
export interface BodySource {
  /** The input's queue fell below the high-water mark: parse/read more of the body. */
  wantBody(): void;
  /**
   * RFC 9110 §10.1.1: send "100 Continue", once, when the app first reads a body the client waits
   * to send. The source sends it only while no byte of the response has gone out.
   */
  sendContinue(): void;
}

/** How much unread body an input queues before it stops asking for more. */
export const INPUT_HIGH_WATER = 64 * 1024;

const EMPTY = new Uint8Array(0);

export class RequestInput implements InputStream {
  private queue: Uint8Array[] = [];
  private head = 0;
  queued = 0;
  ended = false;
  private failure: Error | null = null;
  private waiting: ((chunk: Uint8Array) => void) | null = null;
  private waitingFail: ((err: Error) => void) | null = null;
  private waitingSize = -1;
  private continuePending: boolean;
  /** Bytes the app has read so far. */
  consumed = 0;

  constructor(
    private readonly source: BodySource,
    expectContinue: boolean,
  ) {
    this.continuePending = expectContinue;
  }

  /** True while the input would accept more bytes without exceeding its high-water mark. */
  get hungry(): boolean {
    return !this.ended && (this.queued < INPUT_HIGH_WATER || this.waiting !== null);
  }

  /** True when the app has not asked for a 100-continue body and nothing was read. */
  get continueUnsent(): boolean {
    return this.continuePending;
  }

  push(chunk: Uint8Array): void {
    // After fail() nothing more is read: what still arrives is the server's to discard.
    if (chunk.length === 0 || this.failure !== null) return;
    if (this.waiting !== null) {
      const size = this.waitingSize;
      if (size > 0 && chunk.length > size) {
        this.queue.push(chunk.subarray(size));
        this.queued += chunk.length - size;
        chunk = chunk.subarray(0, size);
      }
      this.resolve(chunk);
      return;
    }
    this.queue.push(chunk);
    this.queued += chunk.length;
  }

  end(): void {
    this.ended = true;
    if (this.waiting !== null && this.queued === 0) this.resolve(EMPTY);
  }

  /**
   * From now on every read rejects with `err` (spec §4.4, §4.8: the body was truncated or
   * malformed, the request was abandoned, or its response ended), whatever was queued.
   */
  fail(err: Error): void {
    if (this.failure !== null) return;
    this.ended = true;
    this.failure = err;
    this.queue.length = 0;
    this.head = 0;
    this.queued = 0;
    if (this.waitingFail !== null) {
      const reject = this.waitingFail;
      this.waiting = null;
      this.waitingFail = null;
      reject(err);
    }
  }

  /**
   * spec §4.1: `size` a positive integer reads at most that many bytes; undefined, null, Infinity
   * or a negative number read any amount. 0, NaN and fractions are refused: an empty result always
   * means the end of the body, so no size may produce one early.
   */
  read(size?: number | null): Promise<Uint8Array> {
    let want = -1;
    if (size !== undefined && size !== null && size !== Infinity && !(size < 0)) {
      const bad = badSize(size);
      if (bad !== null) return Promise.reject(bad);
      want = size;
    }
    // spec §4.3: the pending read is left alone.
    if (this.waiting !== null) {
      return Promise.reject(new TsgiError('TSGI_ERR_INPUT_READ', 'tsgi.input.read() was called while a previous read is pending; await each read before the next'));
    }
    if (this.continuePending) {
      this.continuePending = false;
      this.source.sendContinue();
    }
    if (this.queued > 0) return Promise.resolve(this.take(want));
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve(EMPTY);
    return new Promise<Uint8Array>((resolve, reject) => {
      this.waiting = resolve;
      this.waitingFail = reject;
      this.waitingSize = want;
      this.source.wantBody();
    });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      const chunk = await this.read();
      if (chunk.length === 0) return;
      yield chunk;
    }
  }

  private resolve(chunk: Uint8Array): void {
    const resolve = this.waiting!;
    this.waiting = null;
    this.waitingFail = null;
    this.consumed += chunk.length;
    resolve(chunk);
  }

  private take(want: number): Uint8Array {
    let chunk = this.queue[this.head]!;
    if (want > 0 && chunk.length > want) {
      this.queue[this.head] = chunk.subarray(want);
      chunk = chunk.subarray(0, want);
    } else {
      this.queue[this.head] = EMPTY;
      this.head++;
      if (this.head === this.queue.length) {
        this.queue.length = 0;
        this.head = 0;
      }
    }
    this.queued -= chunk.length;
    this.consumed += chunk.length;
    if (this.queued < INPUT_HIGH_WATER && !this.ended) this.source.wantBody();
    return chunk;
  }
}

/**
 * spec §4.1: a size that is not a number rejects with a TypeError; 0, NaN and fractions with a
 * RangeError (an empty result would look like the end). Both carry the code TSGI_ERR_INPUT_READ.
 * null for a size that reads at most `size` bytes.
 */
function badSize(size: unknown): Error | null {
  if (typeof size !== 'number') {
    return coded(new TypeError(`tsgi.input.read(${typeof size}): the size must be a number; pass a positive integer, or nothing`));
  }
  if (size > 0 && Number.isInteger(size)) return null;
  return coded(new RangeError(`tsgi.input.read(${size}): the size must be a positive integer; pass nothing to read any amount`));
}

function coded<E extends Error>(err: E): E & { code: 'TSGI_ERR_INPUT_READ' } {
  return Object.assign(err, { code: 'TSGI_ERR_INPUT_READ' as const });
}

/** The input of a request without a body: shared, since it holds no state. */
export const EMPTY_INPUT: InputStream = {
  read(size?: number | null): Promise<Uint8Array> {
    const bad = size === undefined || size === null || size === Infinity || size < 0 ? null : badSize(size);
    return bad === null ? Promise.resolve(EMPTY) : Promise.reject(bad);
  },
  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {},
};
