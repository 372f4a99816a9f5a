/**
 * Drives a RequestParser the way a connection would, checking on every event that the parser
 * keeps its own contract, and records what an app would have seen.
 */
import { expect } from 'vitest';
import { RequestParser } from '../../src/http/parser.js';
import type { CorpusRequest } from '../corpus/requests.js';
import {
  CLOSED,
  DATA,
  END,
  ERROR,
  HEAD,
  NEED_DATA,
  PAUSED,
  type ParserLimits,
  type RequestHead,
} from '../../src/http/events.js';

export interface SeenRequest {
  head: RequestHead;
  /** The body as latin1. */
  body: string;
  trailers: string[] | null;
}

export interface Transcript {
  requests: SeenRequest[];
  /** HEAD events seen, including one for a request refused in its body. */
  heads: number;
  /** How it ended: still waiting for bytes, closed cleanly, or refused. */
  outcome: 'need-data' | 'closed' | { status: number; code: string };
}

export interface DriveOptions {
  limits?: Partial<ParserLimits>;
  /** Call feedEnd() after the last piece (default true). */
  eof?: boolean;
}

/**
 * The parser's contract, checked on every event. A plain comparison, not expect(): it runs per
 * byte in the byte-by-byte and scale tests, and expect() there costs more than the parsing.
 */
function holds(ok: boolean, what: () => string): void {
  if (!ok) expect.fail(`parser contract broken: ${what()}`);
}

/** Feeds `pieces` one by one, pumping next() after each, and returns what came out. */
export function drive(pieces: Buffer[], options: DriveOptions = {}): Transcript {
  const parser = new RequestParser(options.limits);
  const requests: SeenRequest[] = [];
  let current: { head: RequestHead; chunks: Buffer[] } | null = null;
  let outcome: Transcript['outcome'] = 'need-data';
  let heads = 0;
  let fed = 0;
  let handedOut = 0;
  /** Bytes the parser has consumed (fed and no longer buffered): it never gives any back. */
  let consumed = 0;

  const pump = (): void => {
    for (;;) {
      const event = parser.next();
      // What the parser holds is what it was fed and has not consumed: it never grows without a
      // feed, never exceeds what was fed, and body bytes it handed out are no longer in it.
      const nowConsumed = fed - parser.buffered;
      holds(parser.buffered <= fed, () => `buffered (${parser.buffered}) exceeds what was fed (${fed})`);
      holds(nowConsumed >= consumed, () => `the parser took back consumed bytes (${consumed} consumed, now ${nowConsumed})`);
      consumed = nowConsumed;
      switch (event) {
        case NEED_DATA:
          return;
        case HEAD:
          holds(current === null, () => 'HEAD while a request is open');
          holds(parser.head !== null, () => 'HEAD without a head');
          current = { head: parser.head!, chunks: [] };
          heads++;
          break;
        case DATA: {
          holds(current !== null, () => 'DATA outside a request');
          const chunk = parser.chunk!;
          holds(chunk.length > 0, () => 'an empty DATA chunk');
          handedOut += chunk.length;
          holds(handedOut <= fed, () => `DATA returned more bytes (${handedOut}) than were fed (${fed})`);
          holds(handedOut <= consumed, () => `a chunk handed out is still buffered (${handedOut} handed out, ${consumed} consumed)`);
          // Keep the view itself, not a copy: views must stay intact after later feeds.
          current!.chunks.push(chunk);
          break;
        }
        case END: {
          holds(current !== null, () => 'END outside a request');
          const { head, chunks } = current!;
          holds((parser.trailers === null) === !head.chunked, () => 'trailers are set exactly for chunked bodies');
          requests.push({ head, body: Buffer.concat(chunks).toString('latin1'), trailers: parser.trailers });
          current = null;
          break;
        }
        case PAUSED: {
          holds(current === null, () => 'PAUSED inside a request');
          // PAUSED repeats until the response is done.
          const again = parser.next();
          holds(again === PAUSED, () => `PAUSED was followed by ${again}`);
          parser.startNextRequest();
          break;
        }
        case ERROR: {
          holds(parser.error !== null, () => 'ERROR without an error');
          const again = parser.next();
          holds(again === ERROR, () => `ERROR is final, but next() gave ${again}`);
          outcome = { status: parser.error!.status, code: parser.error!.code };
          return;
        }
        case CLOSED: {
          holds(current === null, () => 'CLOSED inside a request');
          const again = parser.next();
          holds(again === CLOSED, () => `CLOSED is final, but next() gave ${again}`);
          outcome = 'closed';
          return;
        }
        default:
          throw new Error(`unknown event ${String(event)}`);
      }
    }
  };

  // pump() sets `outcome`; read it through a function so the check is not narrowed away.
  const finished = (): boolean => outcome !== 'need-data';
  for (const piece of pieces) {
    if (finished()) break;
    parser.feed(piece);
    fed += piece.length;
    pump();
  }
  if (options.eof !== false && !finished()) {
    parser.feedEnd();
    pump();
  }
  return { requests, heads, outcome };
}

/** latin1 string → bytes. */
export function bytes(raw: string): Buffer {
  return Buffer.from(raw, 'latin1');
}

/** mulberry32: a small seeded PRNG so that "random" splits repeat from run to run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The whole buffer as one piece. */
export function whole(buf: Buffer): Buffer[] {
  return [buf];
}

/** One byte per piece. */
export function byteByByte(buf: Buffer): Buffer[] {
  const pieces: Buffer[] = [];
  for (let i = 0; i < buf.length; i++) pieces.push(buf.subarray(i, i + 1));
  return pieces;
}

/** Pieces cut at random points (several per buffer, sizes 1 to ~40 bytes and larger). */
export function randomSplits(buf: Buffer, seed: number): Buffer[] {
  const random = prng(seed);
  const pieces: Buffer[] = [];
  for (let at = 0; at < buf.length; ) {
    const size = random() < 0.2 ? 1 + Math.floor(random() * 3) : 1 + Math.floor(random() * Math.max(1, buf.length / 3));
    pieces.push(buf.subarray(at, at + size));
    at += size;
  }
  return pieces;
}

/** The three ways every case runs, plus a second random cut. */
export const SPLITS: [string, (buf: Buffer) => Buffer[]][] = [
  ['whole', whole],
  ['byte by byte', byteByByte],
  ['random split (seed 1)', (buf) => randomSplits(buf, 1)],
  ['random split (seed 7)', (buf) => randomSplits(buf, 7)],
];

/** What an app would see of a request, in the corpus's shape: trailers only for chunked requests. */
export function appView(request: SeenRequest): CorpusRequest {
  const view = {
    method: request.head.method,
    target: request.head.target,
    versionMinor: request.head.versionMinor,
    headers: pairs(request.head.headers),
    body: request.body,
  };
  return request.trailers === null ? view : { ...view, trailers: pairs(request.trailers) };
}

/** [name, value, name, value, ...] → [[name, value], ...] */
function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}
