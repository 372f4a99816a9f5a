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

/** Feeds `pieces` one by one, pumping next() after each, and returns what came out. */
export function drive(pieces: Buffer[], options: DriveOptions = {}): Transcript {
  const parser = new RequestParser(options.limits);
  const requests: SeenRequest[] = [];
  let current: { head: RequestHead; chunks: Buffer[] } | null = null;
  let outcome: Transcript['outcome'] = 'need-data';
  let heads = 0;
  let fed = 0;
  let handedOut = 0;

  const pump = (): void => {
    for (;;) {
      const event = parser.next();
      expect(parser.buffered).toBeGreaterThanOrEqual(0);
      switch (event) {
        case NEED_DATA:
          return;
        case HEAD:
          expect(current, 'HEAD while a request is open').toBeNull();
          expect(parser.head).not.toBeNull();
          current = { head: parser.head!, chunks: [] };
          heads++;
          break;
        case DATA: {
          expect(current, 'DATA outside a request').not.toBeNull();
          const chunk = parser.chunk!;
          expect(chunk.length).toBeGreaterThan(0);
          handedOut += chunk.length;
          expect(handedOut, 'DATA returned more bytes than were fed').toBeLessThanOrEqual(fed);
          // Keep the view itself, not a copy: views must stay intact after later feeds.
          current!.chunks.push(chunk);
          break;
        }
        case END: {
          expect(current, 'END outside a request').not.toBeNull();
          const { head, chunks } = current!;
          expect(parser.trailers === null, 'trailers are set exactly for chunked bodies').toBe(!head.chunked);
          requests.push({ head, body: Buffer.concat(chunks).toString('latin1'), trailers: parser.trailers });
          current = null;
          break;
        }
        case PAUSED:
          expect(current, 'PAUSED inside a request').toBeNull();
          // PAUSED repeats until the response is done.
          expect(parser.next()).toBe(PAUSED);
          parser.startNextRequest();
          break;
        case ERROR:
          expect(parser.error).not.toBeNull();
          expect(parser.next(), 'ERROR is final').toBe(ERROR);
          outcome = { status: parser.error!.status, code: parser.error!.code };
          return;
        case CLOSED:
          expect(current, 'CLOSED inside a request').toBeNull();
          expect(parser.next(), 'CLOSED is final').toBe(CLOSED);
          outcome = 'closed';
          return;
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
