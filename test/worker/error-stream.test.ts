import { describe, expect, test } from 'vitest';
import { pino } from 'pino';
import { LineBufferedErrors, MAX_LINE } from '../../src/worker/error-stream.js';

interface Record {
  msg: string;
  level: number;
  stream: string;
  partial?: boolean;
}

/** A real pino logger writing JSON lines into memory. */
function capture(): { stream: LineBufferedErrors; make: (maxLine?: number) => LineBufferedErrors; records: () => Record[] } {
  const out: string[] = [];
  const log = pino({ base: null }, { write: (line: string) => void out.push(line) });
  return {
    stream: new LineBufferedErrors(log),
    make: (maxLine?: number) => new LineBufferedErrors(log, maxLine),
    records: () => out.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record),
  };
}

describe('LineBufferedErrors', () => {
  test('a piece is held until its line ends; one record per line, at error level, tagged tsgi.errors', () => {
    const { stream, records } = capture();
    stream.write('slow query ');
    stream.write('(1200 ms)');
    expect(records()).toEqual([]);
    stream.write('\n');
    expect(records()).toEqual([{ level: 50, stream: 'tsgi.errors', msg: 'slow query (1200 ms)', time: expect.any(Number) }]);
  });

  test('several lines in one write, CRLF endings, blank lines skipped, the rest held', () => {
    const { stream, records } = capture();
    stream.write('one\r\ntwo\n\n   \nthree');
    expect(records().map((r) => r.msg)).toEqual(['one', 'two']);
    expect(stream.held).toBe(5);
    stream.flush();
    expect(records().map((r) => r.msg)).toEqual(['one', 'two', 'three']);
    expect(stream.held).toBe(0);
    stream.flush();
    expect(records()).toHaveLength(3);
  });

  test('a write that never ends its line holds at most maxLine characters and logs bounded pieces', () => {
    const { make, records } = capture();
    const stream = make(100);
    for (let i = 0; i < 1000; i++) {
      stream.write('y'.repeat(37));
      expect(stream.held).toBeLessThanOrEqual(100);
    }
    stream.write('\n');
    const all = records();
    expect(all.map((r) => r.msg).join('')).toBe('y'.repeat(37_000));
    for (const r of all) expect(r.msg.length).toBeLessThanOrEqual(100);
    expect(all.slice(0, -1).every((r) => r.partial === true)).toBe(true);
    expect(all.at(-1)!.partial).toBeUndefined();
  });

  test('one huge line in a single write is logged in pieces of MAX_LINE', () => {
    const { stream, records } = capture();
    stream.write('z'.repeat(MAX_LINE * 3 + 5) + '\nnext\n');
    expect(records().map((r) => r.msg.length)).toEqual([MAX_LINE, MAX_LINE, MAX_LINE, 5, 4]);
  });

  test('a careless non-string write is logged, not thrown', () => {
    const { stream, records } = capture();
    expect(() => stream.write(42 as unknown as string)).not.toThrow();
    stream.write('\n');
    expect(records().map((r) => r.msg)).toEqual(['42']);
  });
});
