/**
 * The response half of the sans-IO core (src/http/response.ts): which framing a response gets
 * (RFC 9112 §6), the exact head bytes the tsgi engine writes and the fields the node engine hands
 * to node:http (the same, in the same order), the head cache, and the server's own answers.
 */
import { describe, expect, it } from 'vitest';
import {
  CONTINUE,
  FRAME_CHUNKED,
  FRAME_CLOSE,
  FRAME_LENGTH,
  FRAME_NONE,
  HeadRenderer,
  LAST_CHUNK,
  CHUNK_END,
  chunkPrefix,
  framingOf,
  informationalText,
  serverResponse,
  serverResponseFields,
  serverResponseText,
  type HeadInput,
} from '../../src/http/response.js';
import { httpDate } from '../../src/http/date.js';

// A clock a few seconds ahead, at 600 ms into its second, so every render here formats the same
// Date (httpDate's cache only moves forward, and other tests in the process read it too).
const NOW = Math.floor(Date.now() / 1000) * 1000 + 3600;
const DATE = new Date(NOW).toUTCString();
const NEXT_SECOND = new Date(NOW + 1000).toUTCString();

function head(overrides: Partial<HeadInput> = {}): HeadInput {
  return {
    versionMinor: 1,
    status: 200,
    statusLine: '200 OK',
    headers: [['Content-Type', 'text/plain']],
    hasDate: false,
    contentLength: 5,
    noBody: false,
    keepAlive: true,
    ...overrides,
  };
}

/** text() split back into its field lines, to compare with fields(). */
function fieldsOfText(text: string): string[] {
  const lines = text.split('\r\n').slice(1, -2);
  return lines.flatMap((line) => {
    const colon = line.indexOf(': ');
    return [line.slice(0, colon), line.slice(colon + 2)];
  });
}

describe('framing (RFC 9112 §6)', () => {
  it.each([
    ['no body (HEAD, 204, 304)', { noBody: true, contentLength: 5 }, FRAME_NONE],
    ['a known length', { contentLength: 0 }, FRAME_LENGTH],
    ['an unknown length on HTTP/1.1', { contentLength: -1 }, FRAME_CHUNKED],
    ['an unknown length on HTTP/1.0', { contentLength: -1, versionMinor: 0 as const }, FRAME_CLOSE],
    ['a known length on HTTP/1.0', { contentLength: 3, versionMinor: 0 as const }, FRAME_LENGTH],
  ])('%s', (_name, overrides, framing) => {
    expect(framingOf(head(overrides))).toBe(framing);
  });

  it('chunks are framed as size in hex, CRLF, data, CRLF; the body ends with the last chunk', () => {
    expect(chunkPrefix(1)).toBe('1\r\n');
    expect(chunkPrefix(255)).toBe('ff\r\n');
    expect(chunkPrefix(65536)).toBe('10000\r\n');
    expect(CHUNK_END).toBe('\r\n');
    expect(LAST_CHUNK).toBe('0\r\n\r\n');
  });
});

describe('HeadRenderer.text(): the bytes of a head', () => {
  it('a known length, kept alive', () => {
    const r = new HeadRenderer(5);
    expect(r.text(head(), FRAME_LENGTH, true, NOW)).toBe(
      `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: ${DATE}\r\nContent-Length: 5\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n`,
    );
  });

  it('chunked, closing', () => {
    const r = new HeadRenderer(5);
    expect(r.text(head({ contentLength: -1 }), FRAME_CHUNKED, false, NOW)).toBe(
      `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: ${DATE}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`,
    );
  });

  it('close-delimited: no length field at all', () => {
    const r = new HeadRenderer(5);
    expect(r.text(head({ contentLength: -1, versionMinor: 0 }), FRAME_CLOSE, false, NOW)).toBe(
      `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: ${DATE}\r\nConnection: close\r\n\r\n`,
    );
  });

  it('an app Date is sent as given and the server adds none', () => {
    const r = new HeadRenderer(5);
    const text = r.text(head({ headers: [['Date', 'Mon, 01 Jan 2029 00:00:00 GMT']], hasDate: true }), FRAME_LENGTH, true, NOW);
    expect(text.match(/Date: /g)).toHaveLength(1);
    expect(text).toContain('\r\nDate: Mon, 01 Jan 2029 00:00:00 GMT\r\n');
  });

  it.each([
    ['HEAD or 304 with a declared length: the length goes out', 304, 7, 'Content-Length: 7\r\n'],
    ['HEAD or 304 without one: none', 304, -1, ''],
    ['204: never a Content-Length (RFC 9110 §8.6)', 204, 7, ''],
    ['1xx: never a Content-Length', 103, 7, ''],
  ])('no body, %s', (_name, status, contentLength, field) => {
    const r = new HeadRenderer(5);
    const statusLine = `${status} X`;
    const text = r.text(head({ status, statusLine, noBody: true, contentLength }), FRAME_NONE, false, NOW);
    expect(text).toBe(`HTTP/1.1 ${statusLine}\r\nContent-Type: text/plain\r\nDate: ${DATE}\r\n${field}Connection: close\r\n\r\n`);
  });

  it('the idle timeout is whole seconds, at least 1', () => {
    expect(new HeadRenderer(2.7).keepAliveFields).toBe('Connection: keep-alive\r\nKeep-Alive: timeout=2\r\n');
    expect(new HeadRenderer(0.2).keepAliveTimeout).toBe('1');
  });

  it('the last head is reused only while every input is the same', () => {
    const r = new HeadRenderer(5);
    const base = r.text(head(), FRAME_LENGTH, true, NOW);
    expect(r.text(head(), FRAME_LENGTH, true, NOW)).toBe(base);
    const changes: [string, string][] = [
      ['a value', r.text(head({ headers: [['Content-Type', 'text/html']] }), FRAME_LENGTH, true, NOW)],
      ['a name', r.text(head({ headers: [['Content-Typo', 'text/plain']] }), FRAME_LENGTH, true, NOW)],
      ['one field more', r.text(head({ headers: [['Content-Type', 'text/plain'], ['X', '1']] }), FRAME_LENGTH, true, NOW)],
      ['the status', r.text(head({ status: 201, statusLine: '201 Created' }), FRAME_LENGTH, true, NOW)],
      ['the length', r.text(head({ contentLength: 6 }), FRAME_LENGTH, true, NOW)],
      ['keep-alive', r.text(head(), FRAME_LENGTH, false, NOW)],
      ['the framing', r.text(head({ contentLength: -1 }), FRAME_CHUNKED, true, NOW)],
      ['the second', r.text(head(), FRAME_LENGTH, true, NOW + 1000)],
    ];
    for (const [what, text] of changes) {
      expect(text, what).not.toBe(base);
      // Each is what a fresh renderer makes of the same inputs.
    }
    expect(changes[0]![1]).toContain('Content-Type: text/html\r\n');
    expect(changes[1]![1]).toContain('Content-Typo: text/plain\r\n');
    expect(changes[2]![1]).toContain('X: 1\r\n');
    expect(changes[3]![1]).toMatch(/^HTTP\/1\.1 201 Created\r\n/);
    expect(changes[4]![1]).toContain('Content-Length: 6\r\n');
    expect(changes[5]![1]).toContain('Connection: close\r\n');
    expect(changes[6]![1]).toContain('Transfer-Encoding: chunked\r\n');
    expect(changes[7]![1]).toContain(`Date: ${NEXT_SECOND}\r\n`);
  });

  it('a length and the chunked framing never share a cached head', () => {
    const r = new HeadRenderer(5);
    const chunked = r.text(head({ contentLength: -1 }), FRAME_CHUNKED, true, NOW);
    const close = r.text(head({ contentLength: -1, versionMinor: 0 }), FRAME_CLOSE, true, NOW);
    const zero = r.text(head({ contentLength: 0 }), FRAME_LENGTH, true, NOW);
    expect(chunked).toContain('Transfer-Encoding: chunked');
    expect(close).not.toContain('Transfer-Encoding');
    expect(zero).toContain('Content-Length: 0\r\n');
  });
});

describe('HeadRenderer.fields(): the same head for node:http', () => {
  it.each([
    ['a known length, kept alive', head(), FRAME_LENGTH, true],
    ['chunked, closing', head({ contentLength: -1 }), FRAME_CHUNKED, false],
    ['close-delimited', head({ contentLength: -1, versionMinor: 0 }), FRAME_CLOSE, false],
    ['304 with a declared length', head({ status: 304, statusLine: '304 Not Modified', noBody: true, contentLength: 7 }), FRAME_NONE, true],
    ['204 with a declared length', head({ status: 204, statusLine: '204 No Content', noBody: true, contentLength: 7 }), FRAME_NONE, true],
    ['with the app Date', head({ headers: [['Date', 'Mon, 01 Jan 2029 00:00:00 GMT']], hasDate: true }), FRAME_LENGTH, true],
  ] as const)('%s: the fields of text(), in order', (_name, input, framing, keepAlive) => {
    const r = new HeadRenderer(5);
    const fields = r.fields(input, framing, keepAlive);
    const date = httpDate();
    const fromText = fieldsOfText(r.text(input, framing, keepAlive));
    expect(fields).toEqual(fromText);
    if (!input.hasDate) expect(fields[fields.indexOf('Date') + 1]).toBe(date);
  });
});

describe("the server's own responses", () => {
  it('serverResponse: the reason phrase and the UTF-8 length of its one-line body', () => {
    expect(serverResponse(400, 'bad é\n')).toEqual({ status: 400, statusLine: '400 Bad Request', body: 'bad é\n', length: 7 });
  });

  it('serverResponseText closes unless given the keep-alive fields', () => {
    const date = httpDate();
    const r = serverResponse(503, 'busy\n');
    expect(serverResponseText(r, null)).toBe(
      `HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nDate: ${date}\r\nContent-Length: 5\r\nConnection: close\r\n\r\nbusy\n`,
    );
    const kept = serverResponseText(r, new HeadRenderer(7).keepAliveFields);
    expect(kept).toContain('\r\nConnection: keep-alive\r\nKeep-Alive: timeout=7\r\n\r\nbusy\n');
    expect(kept).not.toContain('close');
  });

  it('serverResponseFields are the same fields for node:http', () => {
    const r = serverResponse(404, 'not here\n');
    const date = httpDate();
    expect(serverResponseFields(r, null)).toEqual(['Content-Type', 'text/plain; charset=utf-8', 'Date', date, 'Content-Length', '9', 'Connection', 'close']);
    expect(serverResponseFields(r, '3')).toEqual(['Content-Type', 'text/plain; charset=utf-8', 'Date', date, 'Content-Length', '9', 'Connection', 'keep-alive', 'Keep-Alive', 'timeout=3']);
    expect(fieldsOfText(serverResponseText(r, null))).toEqual(serverResponseFields(r, null));
  });

  it('interim responses: 103 with its fields, 100 Continue with none', () => {
    expect(informationalText(103, [['Link', '</a.css>; rel=preload'], ['Link', '</b.js>']])).toBe(
      'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nLink: </b.js>\r\n\r\n',
    );
    expect(CONTINUE).toBe('HTTP/1.1 100 Continue\r\n\r\n');
  });
});

describe('httpDate (RFC 9110 §5.6.7 IMF-fixdate)', () => {
  it('formats the second it is given, and moves on with the clock', () => {
    const t = NOW + 3000 - 590; // 10 ms into a second
    const second = (ms: number): string => new Date(ms).toUTCString();
    expect(httpDate(t)).toMatch(/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    expect(httpDate(t)).toBe(second(t));
    expect(httpDate(t + 900), 'the same second').toBe(second(t));
    expect(httpDate(t + 990)).toBe(second(t + 1000));
    expect(httpDate(t + 2000)).toBe(second(t + 2000));
  });
});

describe('the head cache never serves a head rendered for other inputs (found by mutation testing)', () => {
  /** Every combination that decides a head's tail, and a few field lists, one after another. */
  function inputs(): [HeadInput, number, boolean][] {
    const out: [HeadInput, number, boolean][] = [];
    const lists = [[['Content-Type', 'text/plain']], [['Content-Type', 'text/html']], [['X-A', '1'], ['X-B', '2']], [['X-A', '1']], []] as const;
    for (const headers of lists) {
      for (const keepAlive of [true, false]) {
        for (const [overrides, framing] of [
          [{ contentLength: 0 }, FRAME_LENGTH],
          [{ contentLength: 1 }, FRAME_LENGTH],
          [{ contentLength: 9 }, FRAME_LENGTH],
          [{ contentLength: -1 }, FRAME_CHUNKED],
          [{ contentLength: -1, versionMinor: 0 as const }, FRAME_CLOSE],
          [{ noBody: true, contentLength: -1 }, FRAME_NONE],
          [{ noBody: true, contentLength: 0 }, FRAME_NONE],
          [{ noBody: true, contentLength: 9 }, FRAME_NONE],
          [{ noBody: true, contentLength: 9, status: 304, statusLine: '304 Not Modified' }, FRAME_NONE],
          [{ noBody: true, contentLength: 9, status: 204, statusLine: '204 No Content' }, FRAME_NONE],
        ] as const) {
          out.push([head({ headers: headers as unknown as HeadInput['headers'], ...overrides }), framing, keepAlive]);
        }
      }
    }
    return out;
  }

  it('in any order, each head is what a fresh renderer makes of it', () => {
    const all = inputs();
    const shared = new HeadRenderer(5);
    // Forwards, backwards, and each twice in a row.
    for (const order of [all, [...all].reverse(), all.flatMap((x) => [x, x])]) {
      for (const [input, framing, keepAlive] of order) {
        expect(shared.text(input, framing, keepAlive, NOW)).toBe(new HeadRenderer(5).text(input, framing, keepAlive, NOW));
      }
    }
  });

  it('fields(): the app fields in order (several of them), and the same length rules as text()', () => {
    const r = new HeadRenderer(5);
    for (const [input, framing, keepAlive] of inputs()) {
      expect(r.fields(input, framing, keepAlive)).toEqual(fieldsOfText(r.text(input, framing, keepAlive)));
    }
  });

  it('HEAD answered 200 with a declared length carries it, 0 included', () => {
    const r = new HeadRenderer(5);
    for (const contentLength of [0, 12]) {
      const input = head({ noBody: true, contentLength });
      expect(r.text(input, FRAME_NONE, true, NOW)).toContain(`\r\nContent-Length: ${contentLength}\r\n`);
      expect(r.fields(input, FRAME_NONE, true)).toContain(String(contentLength));
    }
  });
});
