/**
 * Parser behaviour that mutation testing showed the other parser tests did not pin down: framing
 * field names matched case-insensitively and only by their exact name, repeated list fields
 * combined, Connection options, the method fast path, exact limits and the fault reported for a
 * section over them, checks made while a head, chunk-size line or trailer section is still
 * arriving, and the parser's lifecycle calls. Each case runs whole, byte by byte and cut at
 * seeded random points (harness.ts), and every way must agree.
 */
import { describe, expect, test } from 'vitest';
import { CLOSED, END, ERROR, HEAD, NEED_DATA, PAUSED, type ParserLimits } from '../../src/http/events.js';
import { RequestParser } from '../../src/http/parser.js';
import { SPLITS, bytes, drive, type Transcript } from './harness.js';

const HOST = 'Host: example.com\r\n';
const CHUNKED = `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n`;

/** Runs `raw` every way, checks that all ways agree, and returns the transcript. */
function allWays(raw: string, limits?: Partial<ParserLimits>, eof = true): Transcript {
  const [[, first], ...rest] = SPLITS.map(([how, split]) => [how, drive(split(bytes(raw)), { limits, eof })] as const);
  for (const [how, seen] of rest) expect(seen, how).toEqual(first);
  return first!;
}

/** The one request `raw` holds, which must parse cleanly. */
function only(raw: string, limits?: Partial<ParserLimits>): Transcript['requests'][number] {
  const seen = allWays(raw, limits);
  expect(seen.outcome, JSON.stringify(raw)).toBe('closed');
  expect(seen.requests, JSON.stringify(raw)).toHaveLength(1);
  return seen.requests[0]!;
}

function refused(raw: string, limits?: Partial<ParserLimits>): Transcript['outcome'] {
  const seen = allWays(raw, limits, false);
  expect(seen.requests, JSON.stringify(raw)).toEqual([]);
  return seen.outcome;
}

describe('framing fields are found by name, in any case, and only by their exact name', () => {
  // RFC 9110 §5.1: "Field names are case-insensitive".
  test('Host, Content-Length, Transfer-Encoding, Connection and Expect in upper and mixed case', () => {
    expect(only('GET / HTTP/1.1\r\nHOST: example.com\r\n\r\n').head.method).toBe('GET');
    expect(only('GET / HTTP/1.1\r\nhOsT: example.com\r\n\r\n').head.headers).toEqual(['hOsT', 'example.com']);
    expect(allWays('GET / HTTP/1.1\r\nHOST: a\r\nhost: b\r\n\r\n', undefined, false).outcome).toEqual({
      status: 400,
      code: 'TSGI_ERR_HTTP_HOST',
    });
    expect(only(`POST / HTTP/1.1\r\n${HOST}CONTENT-LENGTH: 3\r\n\r\nabc`).body).toBe('abc');
    expect(only(`POST / HTTP/1.1\r\n${HOST}content-LENGTH: 3\r\n\r\nabc`).head.contentLength).toBe(3);
    const chunked = only(`POST / HTTP/1.1\r\n${HOST}TRANSFER-ENCODING: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n`);
    expect(chunked.head.chunked).toBe(true);
    expect(chunked.body).toBe('x');
    expect(only(`GET / HTTP/1.1\r\n${HOST}CONNECTION: close\r\n\r\n`).head.keepAlive).toBe(false);
    expect(only(`POST / HTTP/1.1\r\n${HOST}EXPECT: 100-continue\r\nContent-Length: 1\r\n\r\nx`).head.expectContinue).toBe(true);
  });

  test('a field whose name has the length of a framing field but another name is an ordinary field', () => {
    // Same lengths as Host (4), Expect (6), Connection (10), Content-Length (14) and
    // Transfer-Encoding (17), with values that would change framing if they were those fields.
    const request = only(
      `GET / HTTP/1.1\r\n${HOST}Xost: not a host\r\nX-Expt: 200-ok\r\nX-Conn-Opt: close\r\n` +
        'X-Content-Size: abc\r\nX-Transfer-Coding: gzip\r\n\r\n',
    );
    expect(request.head).toMatchObject({ contentLength: -1, chunked: false, keepAlive: true, expectContinue: false });
    expect(request.head.headers).toHaveLength(12);
    // The same, spelled in lower case (the comparison that does not take the fast path).
    const lower = only(`GET / HTTP/1.1\r\n${HOST}x-conn-opt: close\r\nx-content-size: abc\r\nx-transfer-coding: gzip\r\n\r\n`);
    expect(lower.head).toMatchObject({ contentLength: -1, chunked: false, keepAlive: true });
  });
});

describe('repeated list fields combine into one list (RFC 9110 §5.3)', () => {
  test('Expect: every line counts', () => {
    expect(refused(`POST / HTTP/1.1\r\n${HOST}Expect: other\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx`)).toEqual({
      status: 417,
      code: 'TSGI_ERR_HTTP_EXPECTATION',
    });
    const twice = only(`POST / HTTP/1.1\r\n${HOST}Expect: 100-continue\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx`);
    expect(twice.head.expectContinue).toBe(true);
  });

  // RFC 9110 §5.6.1: "a recipient MUST accept empty list elements"... and ignore them.
  test('Expect: empty elements are ignored, and an empty list expects nothing', () => {
    const withEmpty = only(`POST / HTTP/1.1\r\n${HOST}Expect: , 100-continue,\r\nContent-Length: 1\r\n\r\nx`);
    expect(withEmpty.head.expectContinue).toBe(true);
    const empty = only(`POST / HTTP/1.1\r\n${HOST}Expect:\r\nContent-Length: 1\r\n\r\nx`);
    expect(empty.head.expectContinue).toBe(false);
  });

  test('Connection: close on the first of two lines still closes', () => {
    expect(only(`GET / HTTP/1.1\r\n${HOST}Connection: close\r\nConnection: te\r\n\r\n`).head.keepAlive).toBe(false);
  });
});

describe('Connection options decide persistence (RFC 9112 §9.3)', () => {
  const cases: [string, string, boolean][] = [
    ['HTTP/1.1 with an option that is neither close nor keep-alive', `GET / HTTP/1.1\r\n${HOST}Connection: upgrade\r\n\r\n`, true],
    ['HTTP/1.1 with two such options', `GET / HTTP/1.1\r\n${HOST}Connection: upgrade, te\r\n\r\n`, true],
    ['HTTP/1.1 with an empty Connection', `GET / HTTP/1.1\r\n${HOST}Connection:\r\n\r\n`, true],
    ['HTTP/1.0 with an option that is not keep-alive', 'GET / HTTP/1.0\r\nConnection: te\r\n\r\n', false],
    ['HTTP/1.0 with two options, neither keep-alive', 'GET / HTTP/1.0\r\nConnection: te, upgrade\r\n\r\n', false],
    ['HTTP/1.0 with keep-alive after another option', 'GET / HTTP/1.0\r\nConnection: te, Keep-Alive\r\n\r\n', true],
  ];
  for (const [name, raw, keepAlive] of cases) {
    test(`${name} → keepAlive ${keepAlive}`, () => {
      expect(only(raw).head.keepAlive).toBe(keepAlive);
    });
  }
});

describe('the method is kept as sent', () => {
  test('methods that share letters with GET, or start with it, are not read as GET', () => {
    for (const method of ['XET', 'GXT', 'GEX', 'GETX', 'GE', 'PET', 'POST']) {
      expect(only(`${method} / HTTP/1.1\r\n${HOST}\r\n`).head.method, method).toBe(method);
    }
  });
});

describe('Content-Length and chunk sizes', () => {
  // RFC 9110 §8.6: Content-Length = 1*DIGIT; leading zeros are digits like any other.
  test('a Content-Length with leading zeros is its decimal value', () => {
    expect(only(`POST / HTTP/1.1\r\n${HOST}Content-Length: 0000000000000005\r\n\r\nhello`).body).toBe('hello');
    expect(only(`POST / HTTP/1.1\r\n${HOST}Content-Length: 00000000000000000000005\r\n\r\nhello`).body).toBe('hello');
    expect(refused(`POST / HTTP/1.1\r\n${HOST}Content-Length: 00000000000000000009007199254740992\r\n\r\n`)).toEqual({
      status: 400,
      code: 'TSGI_ERR_HTTP_CONTENT_LENGTH',
    });
  });

  test('a Content-Length of 2^53 - 1 is accepted and its body awaited', () => {
    const seen = allWays(`POST / HTTP/1.1\r\n${HOST}Content-Length: 9007199254740991\r\n\r\nab`, undefined, false);
    expect(seen.heads).toBe(1);
    expect(seen.outcome).toBe('need-data');
  });

  test('a chunk size of 2^53 - 1 is accepted and its data awaited', () => {
    const seen = allWays(`${CHUNKED}1fffffffffffff\r\nab`, undefined, false);
    expect(seen.heads).toBe(1);
    expect(seen.outcome).toBe('need-data');
  });

  test('a chunk-size line of exactly 4096 bytes is accepted, one of 4097 refused', () => {
    const line = (length: number): string => `5;a=${'b'.repeat(length - 4)}`;
    expect(only(`${CHUNKED}${line(4096)}\r\nhello\r\n0\r\n\r\n`).body).toBe('hello');
    expect(refused(`${CHUNKED}${line(4097)}\r\nhello\r\n0\r\n\r\n`)).toEqual({ status: 400, code: 'TSGI_ERR_HTTP_CHUNK' });
  });

  test('a chunk-size line ended by a bare LF is refused even when what precedes it is hex', () => {
    expect(refused(`${CHUNKED}15\nx\r\n0\r\n\r\n`)).toEqual({ status: 400, code: 'TSGI_ERR_HTTP_CHUNK' });
  });

  test('chunk-data must be followed by exactly CRLF', () => {
    expect(refused(`${CHUNKED}5\r\nhelloX\n0\r\n\r\n`)).toEqual({ status: 400, code: 'TSGI_ERR_HTTP_CHUNK' });
    expect(refused(`${CHUNKED}5\r\nhello\rX3\r\nabc\r\n0\r\n\r\n`)).toEqual({ status: 400, code: 'TSGI_ERR_HTTP_CHUNK' });
  });

  test('a transfer coding other than chunked is refused whatever its length', () => {
    // "deflate" has the seven letters of "chunked".
    for (const coding of ['deflate', 'Deflate', 'chunke', 'chunkedx']) {
      expect(refused(`POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: ${coding}\r\n\r\n`), coding).toEqual({
        status: 400,
        code: 'TSGI_ERR_HTTP_TRANSFER_ENCODING',
      });
    }
  });
});

describe('request-line faults are named in the order they occur', () => {
  test('a bad target on HTTP/1.0 is a bad target, not an unsupported version', () => {
    expect(refused('GET /a\x01b HTTP/1.0\r\n\r\n')).toEqual({ status: 400, code: 'TSGI_ERR_HTTP_TARGET' });
  });

  test('a method that is not a token is refused before the version is looked at', () => {
    expect(refused(`GE(T / HTTP/1.2\r\n${HOST}\r\n`)).toEqual({ status: 400, code: 'TSGI_ERR_HTTP_REQUEST_LINE' });
  });

  const limits = { maxRequestLine: 64 };
  const LINE_ENDING = { status: 400, code: 'TSGI_ERR_HTTP_LINE_ENDING' };
  const TOO_LONG = { status: 414, code: 'TSGI_ERR_HTTP_REQUEST_LINE_TOO_LONG' };

  test('a bare CR inside the limit is a bad line ending, even on a line that is too long', () => {
    expect(refused(`GET /a\rb${'x'.repeat(100)} HTTP/1.1\r\n${HOST}\r\n`, limits)).toEqual(LINE_ENDING);
    expect(refused(`GET /a\nb${'x'.repeat(100)} HTTP/1.1\r\n${HOST}\r\n`, limits)).toEqual(LINE_ENDING);
    // At the last byte the limit allows (index 63).
    expect(refused(`GET /${'a'.repeat(58)}\rb HTTP/1.1\r\n${HOST}\r\n`, limits)).toEqual(LINE_ENDING);
  });

  test('a bare CR beyond the limit comes after the line was already too long', () => {
    expect(refused(`GET /${'a'.repeat(100)}\rb HTTP/1.1\r\n${HOST}\r\n`, limits)).toEqual(TOO_LONG);
    // At the first byte past the limit (index 64).
    expect(refused(`GET /${'a'.repeat(59)}\rb HTTP/1.1\r\n${HOST}\r\n`, limits)).toEqual(TOO_LONG);
  });

  test('of a bare CR and a bare LF on one line, the first decides', () => {
    // A bare LF inside the limit, then a bare CR past it; and the other way round.
    expect(refused(`GET /a\nb${'x'.repeat(100)}\rc HTTP/1.1\r\n${HOST}\r\n`, limits)).toEqual(LINE_ENDING);
    expect(refused(`GET /a\rb${'x'.repeat(100)}\nc HTTP/1.1\r\n${HOST}\r\n`, limits)).toEqual(LINE_ENDING);
  });

  test('the same holds while the line is still arriving', () => {
    expect(refused(`GET /a\rb${'x'.repeat(100)}`, limits)).toEqual(LINE_ENDING);
    expect(refused(`GET /${'a'.repeat(58)}\rb`, limits)).toEqual(LINE_ENDING);
    expect(refused(`GET /${'a'.repeat(100)}\rb`, limits)).toEqual(TOO_LONG);
    expect(refused(`GET /${'a'.repeat(59)}\rb`, limits)).toEqual(TOO_LONG);
  });

  test('and for a field line, complete or arriving', () => {
    const fieldLimits = { maxHeaderFieldSize: 32 }; // 30 bytes without the CRLF
    const FIELD_TOO_LARGE = { status: 431, code: 'TSGI_ERR_HTTP_FIELD_TOO_LARGE' };
    expect(refused(`GET / HTTP/1.1\r\nX: ${'a'.repeat(40)}\rb\r\n${HOST}\r\n`, fieldLimits)).toEqual(FIELD_TOO_LARGE);
    expect(refused(`GET / HTTP/1.1\r\nX: ${'a'.repeat(27)}\rb\r\n${HOST}\r\n`, fieldLimits)).toEqual(FIELD_TOO_LARGE);
    expect(refused(`GET / HTTP/1.1\r\nX: ${'a'.repeat(26)}\rb\r\n${HOST}\r\n`, fieldLimits)).toEqual(LINE_ENDING);
    expect(refused(`GET / HTTP/1.1\r\nX: a\nb${'x'.repeat(40)}\rc\r\n${HOST}\r\n`, fieldLimits)).toEqual(LINE_ENDING);
    expect(refused(`GET / HTTP/1.1\r\nX: a\rb${'x'.repeat(40)}\r\n${HOST}\r\n`, fieldLimits)).toEqual(LINE_ENDING);
    expect(refused(`GET / HTTP/1.1\r\nX: a\rb${'x'.repeat(40)}`, fieldLimits)).toEqual(LINE_ENDING);
    expect(refused(`GET / HTTP/1.1\r\nX: ${'a'.repeat(40)}\rb`, fieldLimits)).toEqual({
      status: 431,
      code: 'TSGI_ERR_HTTP_FIELD_TOO_LARGE',
    });
  });
});

describe('limits on whole sections', () => {
  // maxHeadBytes = 20 + CRLF + 2 fields x 16 bytes (with their CRLFs) = 54.
  const small = { maxRequestLine: 20, maxHeaderCount: 2, maxHeaderFieldSize: 16 };
  const requestLine = 'GET /aaaaaa HTTP/1.1'; // 20 bytes
  const TOO_MANY = { status: 431, code: 'TSGI_ERR_HTTP_TOO_MANY_FIELDS' };

  test('a head with every line at its limit and every field allowed passes', () => {
    expect(requestLine).toHaveLength(20);
    const raw = `${requestLine}\r\nHost: xxxxxxxx\r\nX-Field: aaaaa\r\n\r\n`;
    expect(raw.length - 2).toBe(54);
    expect(only(raw, small).head.headers).toEqual(['Host', 'xxxxxxxx', 'X-Field', 'aaaaa']);
  });

  test('a complete head over the section limit is refused for the line at fault', () => {
    expect(refused(`${requestLine}\r\nHost: xxxxxxxx\r\nX-Field: aaaaa\r\nX-Other: bbbbb\r\n\r\n`, small)).toEqual(TOO_MANY);
  });

  test('the same for a head too long to be decoded at first sight, followed by its body', () => {
    // maxHeadBytes = 102 + 2 x 600 = 1302; the head is over 1500 bytes, the buffer over 2048.
    const limits = { maxRequestLine: 100, maxHeaderCount: 2, maxHeaderFieldSize: 600 };
    const fields = ['Host: x', `X-A: ${'a'.repeat(500)}`, `X-B: ${'b'.repeat(500)}`, `X-C: ${'c'.repeat(500)}`];
    const raw = `POST / HTTP/1.1\r\n${fields.join('\r\n')}\r\nContent-Length: 1000\r\n\r\n${'z'.repeat(1000)}`;
    expect(refused(raw, limits)).toEqual(TOO_MANY);
  });

  test('a field line over its limit is named as such when a later line is malformed, and only then', () => {
    const fieldLimits = { maxHeaderFieldSize: 32 };
    expect(refused(`GET / HTTP/1.1\r\n${HOST}X-Long: ${'v'.repeat(40)}\r\nBad Line\r\n\r\n`, fieldLimits)).toEqual({
      status: 431,
      code: 'TSGI_ERR_HTTP_FIELD_TOO_LARGE',
    });
    expect(refused(`GET / HTTP/1.1\r\n${HOST}X-Short: v\r\nBad Line\r\n\r\n`, fieldLimits)).toEqual({
      status: 400,
      code: 'TSGI_ERR_HTTP_FIELD',
    });
  });

  test('too many fields are named as such when a later line is also malformed', () => {
    expect(refused(`GET / HTTP/1.1\r\n${HOST}A: 1\r\nB: 2\r\nBad Line\r\n\r\n`, { maxHeaderCount: 2 })).toEqual(TOO_MANY);
  });

  // maxTrailerBytes = 2 fields x 28 bytes = 56.
  const trailerLimits = { maxHeaderCount: 2, maxHeaderFieldSize: 28 };
  const trailer = (name: string): string => `${name}: ${'v'.repeat(26 - name.length - 2)}`; // 26 bytes

  test('a trailer section with every line at its limit and every field allowed passes', () => {
    const raw = `${CHUNKED}0\r\n${trailer('X-A')}\r\n${trailer('X-B')}\r\n\r\n`;
    expect(only(raw, trailerLimits).trailers).toEqual(['X-A', 'v'.repeat(21), 'X-B', 'v'.repeat(21)]);
  });

  test('a complete trailer section over the limit is refused for the line at fault', () => {
    const raw = `${CHUNKED}0\r\n${trailer('X-A')}\r\n${trailer('X-B')}\r\n${trailer('X-C')}\r\n\r\n`;
    expect(refused(raw, trailerLimits)).toEqual(TOO_MANY);
  });

  test('too many trailer fields are refused before the section ends', () => {
    expect(refused(`${CHUNKED}0\r\nA: 1\r\nB: 2\r\nC: 3\r\n`, { maxHeaderCount: 2 })).toEqual(TOO_MANY);
  });
});

describe('input that arrives in pieces', () => {
  test('a head cut in two at every byte parses the same', () => {
    const raw = bytes(`GET /path?q=1 HTTP/1.1\r\n${HOST}X-A: 1\r\n\r\n`);
    const reference = drive([raw]);
    expect(reference.requests).toHaveLength(1);
    for (let at = 1; at < raw.length; at++) {
      expect(drive([raw.subarray(0, at), raw.subarray(at)]), `cut at ${at}`).toEqual(reference);
    }
  });

  test('a head whose end straddles the first bytes looked at is found', () => {
    // The empty line that ends the head starts around byte 1024, with more than 2048 bytes in
    // the buffer (the body follows).
    for (let endAt = 1018; endAt <= 1026; endAt++) {
      const start = `POST / HTTP/1.1\r\n${HOST}Content-Length: 1500\r\nX-Pad: `;
      const raw = `${start}${'p'.repeat(endAt - start.length - 2)}\r\n\r\n${'b'.repeat(1500)}`;
      expect(raw.indexOf('\r\n\r\n')).toBe(endAt - 2);
      const seen = drive([bytes(raw)]);
      expect(seen.outcome, `head ends at ${endAt}`).toBe('closed');
      expect(seen.requests[0]!.body, `head ends at ${endAt}`).toHaveLength(1500);
    }
  });

  test('a bare CR in a pipelined request is refused as soon as the byte after it arrives', () => {
    const parser = new RequestParser();
    parser.feed(bytes(`GET /1 HTTP/1.1\r\n${HOST}\r\nGET /2 HTTP/1.1\r\nX-A: a`));
    expect(parser.next()).toBe(HEAD);
    expect(parser.next()).toBe(END);
    expect(parser.next()).toBe(PAUSED);
    parser.startNextRequest();
    expect(parser.next()).toBe(NEED_DATA);
    parser.feed(bytes('\r'));
    expect(parser.next()).toBe(NEED_DATA);
    parser.feed(bytes('b'));
    expect(parser.next()).toBe(ERROR);
    expect(parser.error!.code).toBe('TSGI_ERR_HTTP_LINE_ENDING');

    // The CR and the byte after it in one feed.
    const together = new RequestParser();
    together.feed(bytes(`GET /1 HTTP/1.1\r\n${HOST}\r\nGET /2 HTTP/1.1\r\nX-A: a`));
    expect(together.next()).toBe(HEAD);
    expect(together.next()).toBe(END);
    expect(together.next()).toBe(PAUSED);
    together.startNextRequest();
    expect(together.next()).toBe(NEED_DATA);
    together.feed(bytes('\rb'));
    expect(together.next()).toBe(ERROR);
    expect(together.error!.code).toBe('TSGI_ERR_HTTP_LINE_ENDING');
  });

  test('a bare CR in a chunk-size line is refused as soon as the byte after it arrives', () => {
    const inOne = new RequestParser();
    inOne.feed(bytes(`${CHUNKED}5\rx`));
    expect(inOne.next()).toBe(HEAD);
    expect(inOne.next()).toBe(ERROR);
    expect(inOne.error!.code).toBe('TSGI_ERR_HTTP_CHUNK');

    const inTwo = new RequestParser();
    inTwo.feed(bytes(`${CHUNKED}5\r`));
    expect(inTwo.next()).toBe(HEAD);
    expect(inTwo.next()).toBe(NEED_DATA);
    inTwo.feed(bytes('x'));
    expect(inTwo.next()).toBe(ERROR);
    expect(inTwo.error!.code).toBe('TSGI_ERR_HTTP_CHUNK');
  });

  test('a chunk-size line is refused as soon as it is longer than 4096 bytes, not before', () => {
    const parser = new RequestParser();
    parser.feed(bytes(`${CHUNKED}5;a=${'b'.repeat(4092)}`)); // 4096 bytes of the line
    expect(parser.next()).toBe(HEAD);
    expect(parser.next()).toBe(NEED_DATA);
    parser.feed(bytes('\r')); // may be the end of the line
    expect(parser.next()).toBe(NEED_DATA);

    const longer = new RequestParser();
    longer.feed(bytes(`${CHUNKED}5;a=${'b'.repeat(4093)}`)); // 4097 bytes
    expect(longer.next()).toBe(HEAD);
    expect(longer.next()).toBe(ERROR);
    expect(longer.error!.code).toBe('TSGI_ERR_HTTP_CHUNK');
  });
});

describe('lifecycle', () => {
  test('bytes fed after feedEnd() are ignored', () => {
    const parser = new RequestParser();
    parser.feed(bytes('GET / HTTP/1.1\r\nHo'));
    parser.feedEnd();
    parser.feed(bytes(`st: x\r\n\r\n`));
    expect(parser.buffered).toBe(18);
    expect(parser.next()).toBe(ERROR);
    expect(parser.error!.code).toBe('TSGI_ERR_HTTP_INCOMPLETE');
  });

  test('takeBuffered() returns a copy of the bytes past the head and ends parsing', () => {
    const parser = new RequestParser();
    const input = bytes(`GET /chat HTTP/1.1\r\n${HOST}Connection: upgrade\r\nUpgrade: websocket\r\n\r\n\x00\x01frame`);
    parser.feed(input);
    expect(parser.next()).toBe(HEAD);
    const rest = parser.takeBuffered();
    expect(rest.toString('latin1')).toBe('\x00\x01frame');
    input.fill(0x20); // a copy: the caller may reuse its buffers
    expect(rest.toString('latin1')).toBe('\x00\x01frame');
    expect(parser.buffered).toBe(0);
    parser.feed(bytes('more'));
    expect(parser.buffered).toBe(0);
  });

  test('startNextRequest() after ERROR or CLOSED changes nothing', () => {
    const failed = new RequestParser();
    failed.feed(bytes('GET / HTTP/1.1\n'));
    expect(failed.next()).toBe(ERROR);
    expect(() => failed.startNextRequest()).not.toThrow();
    expect(failed.next()).toBe(ERROR);

    // Refused in its body: the head stays for whoever reports the refusal.
    const inBody = new RequestParser();
    inBody.feed(bytes(`${CHUNKED}zz\r\n`));
    expect(inBody.next()).toBe(HEAD);
    const head = inBody.head;
    expect(inBody.next()).toBe(ERROR);
    inBody.startNextRequest();
    expect(inBody.head).toBe(head);
    expect(inBody.next()).toBe(ERROR);

    const closed = new RequestParser();
    closed.feedEnd();
    expect(closed.next()).toBe(CLOSED);
    expect(() => closed.startNextRequest()).not.toThrow();
    expect(closed.next()).toBe(CLOSED);
  });
});
