/**
 * The request a worker most recently handed to its app, in memory that another thread can read
 * while the worker's own thread is stuck. When an app blocks the event loop, the main thread can
 * report nothing; the watchdog thread (watchdog-thread.ts) reads this to tell the master which
 * request was being served, and the last heartbeat tick to know that the loop stopped.
 *
 * The main thread writes per request: a start time and the method and target as UTF-8, between
 * two increments of a sequence number (a seqlock: the reader retries while the number is odd or
 * changed under it). Text is encoded only when it differs from the last request's, so a stream of
 * `GET /` costs two atomic adds and a store. bench/watchdog.js measures what it costs.
 */

const INTS = 4;
/** Int32 slots. */
const SEQ = 0;
const METHOD_LENGTH = 1;
const TARGET_LENGTH = 2;
/** The watchdog sleeps on this slot; 1 tells it to stop. */
export const STOP = 3;
const TICK_OFFSET = INTS * 4;
const STARTED_OFFSET = TICK_OFFSET + 8;
const METHOD_OFFSET = STARTED_OFFSET + 8;
const METHOD_BYTES = 32;
const TARGET_OFFSET = METHOD_OFFSET + METHOD_BYTES;
/** Targets are kept to this many bytes; a longer one is shown cut, ending in `…`. */
export const TARGET_BYTES = 1024;
const SIZE = TARGET_OFFSET + TARGET_BYTES;
/** Set in a length slot when the text did not fit. */
const CUT = 1 << 30;

export interface StartedRequest {
  method: string;
  target: string;
  /** Date.now() when the request was handed to the app. */
  startedAt: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class CurrentRequest {
  readonly buffer: SharedArrayBuffer;
  readonly ints: Int32Array;
  private readonly tickSlot: BigInt64Array;
  private readonly started: Float64Array;
  private readonly methodBytes: Uint8Array;
  private readonly targetBytes: Uint8Array;
  private lastMethod = '';
  private lastTarget = '';

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(SIZE)) {
    this.buffer = buffer;
    this.ints = new Int32Array(buffer, 0, INTS);
    this.tickSlot = new BigInt64Array(buffer, TICK_OFFSET, 1);
    this.started = new Float64Array(buffer, STARTED_OFFSET, 1);
    this.methodBytes = new Uint8Array(buffer, METHOD_OFFSET, METHOD_BYTES);
    this.targetBytes = new Uint8Array(buffer, TARGET_OFFSET, TARGET_BYTES);
  }

  /** A request is handed to the app (main thread). */
  record(method: string, target: string, now: number): void {
    const ints = this.ints;
    Atomics.add(ints, SEQ, 1);
    this.started[0] = now;
    if (method !== this.lastMethod) {
      this.lastMethod = method;
      ints[METHOD_LENGTH] = encodeCut(method, this.methodBytes);
    }
    if (target !== this.lastTarget) {
      this.lastTarget = target;
      ints[TARGET_LENGTH] = encodeCut(target, this.targetBytes);
    }
    Atomics.add(ints, SEQ, 1);
  }

  /** The event loop is turning (main thread, with every heartbeat). */
  tick(now: number): void {
    Atomics.store(this.tickSlot, 0, BigInt(now));
  }

  /** Date.now() of the last tick; 0 before the first. */
  lastTick(): number {
    return Number(Atomics.load(this.tickSlot, 0));
  }

  /** The request last handed to the app, or null before the first (any thread). */
  read(): StartedRequest | null {
    const ints = this.ints;
    for (let attempt = 0; attempt < 100; attempt++) {
      const before = Atomics.load(ints, SEQ);
      if (before === 0) return null;
      if ((before & 1) === 1) continue;
      const startedAt = this.started[0]!;
      const method = decodeCut(this.methodBytes, ints[METHOD_LENGTH]!);
      const target = decodeCut(this.targetBytes, ints[TARGET_LENGTH]!);
      if (Atomics.load(ints, SEQ) === before) return { method, target, startedAt };
    }
    return null;
  }
}

function encodeCut(text: string, into: Uint8Array): number {
  const { read, written } = encoder.encodeInto(text, into);
  return read < text.length ? written | CUT : written;
}

function decodeCut(from: Uint8Array, length: number): string {
  // TextDecoder refuses views of shared memory; a copy of the few bytes is made, only when read.
  const text = decoder.decode(from.slice(0, length & ~CUT));
  return (length & CUT) !== 0 ? `${text}…` : text;
}
