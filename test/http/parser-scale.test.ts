/**
 * The parser at scale: large bodies stream through without being held, and pathological input
 * (64 KiB heads fed one byte at a time) costs work linear in its size.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { DATA, END, HEAD, NEED_DATA, PAUSED } from '../../src/http/events.js';
import { RequestParser } from '../../src/http/parser.js';
import { byteByByte, bytes, drive } from './harness.js';

const PIECE = 64 * 1024;
const TOTAL = 16 * 1024 * 1024;

/** Feeds `stream` in PIECE-sized pieces, draining after each; checks the streaming promises. */
function streamBody(head: string, stream: Buffer): { body: number; events: number[] } {
  const parser = new RequestParser();
  parser.feed(bytes(head));
  expect(parser.next()).toBe(HEAD);
  let body = 0;
  let maxBuffered = 0;
  const events: number[] = [];
  for (let at = 0; at < stream.length; at += PIECE) {
    const piece = stream.subarray(at, at + PIECE);
    parser.feed(piece);
    let fedNow = piece.length;
    for (let event = parser.next(); event !== NEED_DATA; event = parser.next()) {
      events.push(event);
      if (event !== DATA) break;
      const chunk = parser.chunk!;
      // Never more than what was fed since the last drain, plus what a join may carry over.
      expect(chunk.length).toBeLessThanOrEqual(fedNow + 64);
      fedNow -= Math.min(fedNow, chunk.length);
      body += chunk.length;
    }
    maxBuffered = Math.max(maxBuffered, parser.buffered);
  }
  // Only a split chunk-size line or CRLF is ever held back.
  expect(maxBuffered).toBeLessThan(64);
  return { body, events };
}

describe('streaming', () => {
  test('a 16 MiB Content-Length body streams out as views of each 64 KiB piece', () => {
    const parser = new RequestParser();
    parser.feed(bytes(`PUT /big HTTP/1.1\r\nHost: x\r\nContent-Length: ${TOTAL}\r\n\r\n`));
    expect(parser.next()).toBe(HEAD);
    const piece = Buffer.alloc(PIECE, 0x61);
    let body = 0;
    for (let i = 0; i < TOTAL / PIECE; i++) {
      // A fresh view each time, as a socket would deliver.
      const fed = piece.subarray(0);
      parser.feed(fed);
      expect(parser.next()).toBe(DATA);
      expect(parser.chunk).toBe(fed); // zero-copy: the fed buffer itself
      body += parser.chunk!.length;
      expect(parser.buffered).toBe(0);
      if (body < TOTAL) expect(parser.next()).toBe(NEED_DATA);
    }
    expect(body).toBe(TOTAL);
    expect(parser.next()).toBe(END);
    expect(parser.next()).toBe(PAUSED);
  });

  test('a 16 MiB chunked body in 1 MiB chunks, fed in 64 KiB pieces, is never held', () => {
    const chunkSize = 1024 * 1024;
    const data = Buffer.alloc(chunkSize, 0x62);
    const parts: Buffer[] = [];
    for (let i = 0; i < TOTAL / chunkSize; i++) parts.push(bytes(`${chunkSize.toString(16)};i=${i}\r\n`), data, bytes('\r\n'));
    parts.push(bytes('0\r\nX-Done: yes\r\n\r\n'));
    const { body, events } = streamBody('POST /big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', Buffer.concat(parts));
    expect(body).toBe(TOTAL);
    expect(events.at(-1)).toBe(END);
  });
});

/**
 * Counts the bytes the parser touches through Buffer: searched by indexOf, decoded by
 * latin1Slice, copied by copy. String work happens only on what was decoded, so this total
 * bounds all of it.
 */
let work = 0;
const original = {
  indexOf: Buffer.prototype.indexOf,
  latin1Slice: (Buffer.prototype as unknown as { latin1Slice: (s: number, e: number) => string }).latin1Slice,
  copy: Buffer.prototype.copy,
};

describe('linear time on pathological input', () => {
  beforeEach(() => {
    work = 0;
    const proto = Buffer.prototype as unknown as Record<string, unknown>;
    proto.indexOf = function (this: Buffer, value: unknown, offset?: number, encoding?: BufferEncoding): number {
      const at = original.indexOf.call(this, value as string, offset, encoding);
      work += (at === -1 ? this.length : at) - (offset ?? 0);
      return at;
    };
    proto.latin1Slice = function (this: Buffer, start: number, end: number): string {
      work += end - start;
      return original.latin1Slice.call(this, start, end);
    };
    proto.copy = function (this: Buffer, target: Uint8Array, targetStart?: number, sourceStart?: number, sourceEnd?: number): number {
      const copied = original.copy.call(this, target, targetStart, sourceStart, sourceEnd);
      work += copied;
      return copied;
    };
  });

  afterEach(() => {
    const proto = Buffer.prototype as unknown as Record<string, unknown>;
    proto.indexOf = original.indexOf;
    proto.latin1Slice = original.latin1Slice;
    proto.copy = original.copy;
  });

  const SIZE = 64 * 1024;
  const generous = { maxRequestLine: 0, maxHeaderCount: 100_000, maxHeaderFieldSize: 1 << 20 };

  /** Feeds `raw` one byte at a time and checks the work done stays within a constant per byte. */
  function expectLinear(raw: string, check: (seen: ReturnType<typeof drive>) => void): void {
    const input = bytes(raw);
    expect(input.length).toBeGreaterThanOrEqual(SIZE);
    const started = performance.now();
    const seen = drive(byteByByte(input), { limits: generous });
    const elapsed = performance.now() - started;
    check(seen);
    // This parser does about 12 per byte; one that rescans or recopies the held bytes on each
    // byte does about SIZE^2 / 2 = 2^31 in all.
    expect(work).toBeLessThan(32 * input.length);
    expect(elapsed).toBeLessThan(10_000);
  }

  test('a 64 KiB head of many fields', () => {
    const fields = Array.from({ length: SIZE / 32 }, (_, i) => `X-Field-${String(i).padStart(5, '0')}: ${'v'.repeat(15)}\r\n`);
    expectLinear(`GET / HTTP/1.1\r\nHost: x\r\n${fields.join('')}\r\n`, (seen) => {
      expect(seen.requests[0]!.head.headers.length).toBe(2 * (fields.length + 1));
    });
  });

  test('a single 64 KiB field line', () => {
    expectLinear(`GET / HTTP/1.1\r\nHost: x\r\nX-Huge: ${'h'.repeat(SIZE)}\r\n\r\n`, (seen) => {
      expect(seen.requests[0]!.head.headers[3]!.length).toBe(SIZE);
    });
  });

  test('a 64 KiB request-line', () => {
    expectLinear(`GET /${'p'.repeat(SIZE)} HTTP/1.1\r\nHost: x\r\n\r\n`, (seen) => {
      expect(seen.requests[0]!.head.target.length).toBe(SIZE + 1);
    });
  });

  test('a 64 KiB trailer section after many small chunks', () => {
    const chunks = 'a\r\n0123456789\r\n'.repeat(2048);
    const trailers = Array.from({ length: SIZE / 32 }, (_, i) => `X-Trailer-${String(i).padStart(5, '0')}: ${'t'.repeat(13)}\r\n`);
    expectLinear(`POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}0\r\n${trailers.join('')}\r\n`, (seen) => {
      expect(seen.requests[0]!.body.length).toBe(10 * 2048);
      expect(seen.requests[0]!.trailers!.length).toBe(2 * trailers.length);
    });
  });

  test('a refusal deep inside a 64 KiB head comes as soon as the bad line ends', () => {
    const good = Array.from({ length: SIZE / 32 }, (_, i) => `X-Field-${String(i).padStart(5, '0')}: ${'v'.repeat(15)}\r\n`).join('');
    expectLinear(`GET / HTTP/1.1\r\nHost: x\r\n${good}Bad Field: 1\r\n${good}\r\n`, (seen) => {
      expect(seen.outcome).toMatchObject({ status: 400, code: 'TSGI_ERR_HTTP_FIELD' });
    });
  });
});
