/**
 * Runs the shared conformance corpus through the parser: every case whole, byte by byte and cut
 * at seeded random points; valid cases also pipelined three times over.
 */
import { describe, expect, test } from 'vitest';
import { FAILS_AFTER_HEAD, INVALID, VALID } from '../corpus/requests.js';
import { SPLITS, appView, bytes, drive, randomSplits } from './harness.js';

describe('corpus: valid requests', () => {
  test('the corpus holds at least 15 valid cases with unique names', () => {
    expect(VALID.length).toBeGreaterThanOrEqual(15);
    expect(new Set(VALID.map((c) => c.name)).size).toBe(VALID.length);
  });

  for (const c of VALID) {
    describe(c.name, () => {
      for (const [how, split] of SPLITS) {
        test(how, () => {
          const seen = drive(split(bytes(c.raw)));
          expect(seen.outcome).toBe('closed');
          expect(seen.requests.map(appView)).toEqual(c.requests);
        });
      }

      test('pipelined three times in one buffer, cut at random points', () => {
        const once = drive([bytes(c.raw)]);
        // A request that closes the connection (Connection: close, HTTP/1.0 without keep-alive)
        // must be the last one parsed: what follows it is never read as a request.
        const closes = once.requests.some((r) => !r.head.keepAlive);
        const expected = closes ? c.requests : [...c.requests!, ...c.requests!, ...c.requests!];
        const tripled = bytes(c.raw.repeat(3));
        for (const seed of [3, 11, 42]) {
          const seen = drive(randomSplits(tripled, seed));
          expect(seen.outcome).toBe('closed');
          expect(seen.requests.map(appView)).toEqual(expected);
        }
        expect(drive([tripled]).requests.map(appView)).toEqual(expected);
      });
    });
  }
});

describe('corpus: invalid requests', () => {
  test('the corpus holds at least 40 invalid cases with unique names', () => {
    expect(INVALID.length).toBeGreaterThanOrEqual(40);
    expect(new Set(INVALID.map((c) => c.name)).size).toBe(INVALID.length);
  });

  for (const c of INVALID) {
    test(`${c.name} → ${c.status}`, () => {
      let code: string | undefined;
      for (const [how, split] of SPLITS) {
        // No EOF: the bytes alone must prove the request wrong.
        const seen = drive(split(bytes(c.raw)), { eof: false });
        expect(seen.outcome, how).toMatchObject({ status: c.status });
        expect(seen.requests, how).toEqual([]);
        expect(seen.heads, how).toBe(FAILS_AFTER_HEAD.has(c.name) ? 1 : 0);
        const seenCode = (seen.outcome as { code: string }).code;
        code ??= seenCode;
        expect(seenCode, `${how}: the same code whatever the cut`).toBe(code);
      }
    });
  }
});
