/**
 * The request parser's behaviour: what the app sees of valid requests, keep-alive and pipelining,
 * end of input, and every refusal with its status and code. Each table case runs whole, byte by
 * byte and cut at seeded random points (see harness.ts).
 */
import { describe, expect, test } from 'vitest';
import { HttpParseError, TsgiError } from '../../src/errors.js';
import { CLOSED, DATA, END, ERROR, HEAD, NEED_DATA, PAUSED, type ParserLimits } from '../../src/http/events.js';
import { FORBIDDEN_TRAILERS, RequestParser } from '../../src/http/parser.js';
import { INVALID, VALID } from '../corpus/requests.js';
import { SPLITS, byteByByte, bytes, drive, prng, randomSplits, type Transcript } from './harness.js';

const HOST = 'Host: example.com\r\n';

/**
 * Runs `raw` every way and checks that each way gives the same transcript; when it parses
 * cleanly, also pipelines it three times over, cut at random points. Returns the transcript.
 */
function parseAllWays(raw: string, limits?: Partial<ParserLimits>): Transcript {
  const [[, first], ...rest] = SPLITS.map(([how, split]) => [how, drive(split(bytes(raw)), { limits })] as const);
  for (const [how, seen] of rest) expect(seen, how).toEqual(first);
  if (first!.outcome === 'closed' && first!.requests.length > 0) {
    // Nothing after a request that closes the connection is read as a request.
    const closes = first!.requests.some((r) => !r.head.keepAlive);
    const expected = closes ? first!.requests : [...first!.requests, ...first!.requests, ...first!.requests];
    for (const seed of [5, 9]) {
      const seen = drive(randomSplits(bytes(raw.repeat(3)), seed), { limits });
      expect(seen.outcome, `pipelined, seed ${seed}`).toBe('closed');
      expect(seen.requests, `pipelined, seed ${seed}`).toEqual(expected);
    }
  }
  return first!;
}

describe('valid requests', () => {
  test('a simple GET gives HEAD then END, with every head field filled in', () => {
    const seen = parseAllWays(`GET /index.html HTTP/1.1\r\n${HOST}\r\n`);
    expect(seen.outcome).toBe('closed');
    expect(seen.requests).toEqual([
      {
        head: {
          method: 'GET',
          target: '/index.html',
          versionMinor: 1,
          headers: ['Host', 'example.com'],
          contentLength: -1,
          chunked: false,
          keepAlive: true,
          expectContinue: false,
        },
        body: '',
        trailers: null,
      },
    ]);
  });

  test('a request without a body goes straight from HEAD to END', () => {
    const parser = new RequestParser();
    parser.feed(bytes(`DELETE /x HTTP/1.1\r\n${HOST}\r\n`));
    expect(parser.next()).toBe(HEAD);
    expect(parser.next()).toBe(END);
    expect(parser.trailers).toBeNull();
    expect(parser.next()).toBe(PAUSED);
  });

  test('fields keep their order, their names as sent and their duplicates; OWS is removed', () => {
    const seen = parseAllWays(
      `GET / HTTP/1.1\r\nx-first: 1\r\n${HOST}SET-COOKIE: a=1\r\nSet-Cookie:b=2\r\nX-Pad: \t padded\t \r\nX-Inner: a \t b\r\n\r\n`,
    );
    expect(seen.requests[0]!.head.headers).toEqual([
      'x-first', '1',
      'Host', 'example.com',
      'SET-COOKIE', 'a=1',
      'Set-Cookie', 'b=2',
      'X-Pad', 'padded',
      'X-Inner', 'a \t b',
    ]);
  });

  test('field values are latin1 decodings of the bytes, obs-text included', () => {
    const seen = parseAllWays(`GET / HTTP/1.1\r\n${HOST}X-Latin: caf\xe9 \x80\xff\r\n\r\n`);
    expect(seen.requests[0]!.head.headers[3]).toBe('caf\xe9 \x80\xff');
  });

  test('a Content-Length body arrives as DATA and ends with END', () => {
    const seen = parseAllWays(`POST /form HTTP/1.1\r\n${HOST}Content-Length: 13\r\n\r\nname=tsgi&x=1`);
    expect(seen.requests).toHaveLength(1);
    expect(seen.requests[0]!.head.contentLength).toBe(13);
    expect(seen.requests[0]!.head.chunked).toBe(false);
    expect(seen.requests[0]!.body).toBe('name=tsgi&x=1');
    expect(seen.requests[0]!.trailers).toBeNull();
  });

  test('a chunked body with extensions and trailers', () => {
    const raw =
      `POST /up HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n` +
      '4;ext=1\r\nWiki\r\n5 ; a = "q\\"x" ; b\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0;last\r\nX-Sum: 9f\r\nX-Other:  two \r\n\r\n';
    const seen = parseAllWays(raw);
    expect(seen.outcome).toBe('closed');
    const [request] = seen.requests;
    expect(request!.head.chunked).toBe(true);
    expect(request!.head.contentLength).toBe(-1);
    expect(request!.body).toBe('Wikipedia in\r\n\r\nchunks.');
    expect(request!.trailers).toEqual(['X-Sum', '9f', 'X-Other', 'two']);
  });

  test('a chunked body without trailers ends with an empty trailer list', () => {
    const seen = parseAllWays(`POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`);
    expect(seen.requests[0]!.body).toBe('abc');
    expect(seen.requests[0]!.trailers).toEqual([]);
  });

  test('CONNECT with an authority-form target parses (the server answers it)', () => {
    const seen = parseAllWays('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    expect(seen.requests[0]!.head.method).toBe('CONNECT');
    expect(seen.requests[0]!.head.target).toBe('example.com:443');
  });

  test('any token is a method, case kept', () => {
    const seen = parseAllWays(`get / HTTP/1.1\r\n${HOST}\r\nM-SEARCH * HTTP/1.1\r\n${HOST}\r\n`);
    expect(seen.outcome).toMatchObject({ status: 400 }); // "*" belongs to OPTIONS only
    expect(seen.requests.map((r) => r.head.method)).toEqual(['get']);
  });

  test('Host may be empty, an IPv4 or IPv6 literal, a reg-name with %-escapes, with or without a port', () => {
    for (const host of ['', '127.0.0.1:80', '[::1]', '[2001:db8::7]:443', '[v1.fe80::a+en1]', 'ex%41mple.com', 'host:']) {
      const seen = parseAllWays(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      expect(seen.requests, host).toHaveLength(1);
    }
  });

  test('Expect: 100-continue is reported on HTTP/1.1, in any case', () => {
    const seen = parseAllWays(`POST / HTTP/1.1\r\n${HOST}Expect: 100-Continue\r\nContent-Length: 1\r\n\r\nx`);
    expect(seen.requests[0]!.head.expectContinue).toBe(true);
  });

  test('Expect is ignored on HTTP/1.0, whatever its value', () => {
    for (const value of ['100-continue', 'something-else']) {
      const seen = parseAllWays(`POST / HTTP/1.0\r\nExpect: ${value}\r\nContent-Length: 1\r\n\r\nx`);
      expect(seen.requests[0]!.head.expectContinue).toBe(false);
    }
  });

  test('body chunks are views of the fed buffer, not copies', () => {
    const head = bytes(`PUT / HTTP/1.1\r\n${HOST}Content-Length: 20\r\n\r\n`);
    const withBody = Buffer.concat([head, bytes('0123456789')]);
    const rest = bytes('abcdefghij');
    const parser = new RequestParser();
    parser.feed(withBody);
    expect(parser.next()).toBe(HEAD);
    expect(parser.next()).toBe(DATA);
    expect(parser.chunk!.buffer).toBe(withBody.buffer);
    expect(parser.chunk!.byteOffset).toBe(withBody.byteOffset + head.length);
    parser.feed(rest);
    expect(parser.next()).toBe(DATA);
    expect(parser.chunk).toBe(rest); // the whole fed buffer is the chunk
    expect(parser.next()).toBe(END);
  });

  test('a chunk split across feeds comes out in pieces that add up', () => {
    const head = `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n`;
    const pieces = [head + '1', '0\r\n0123', '456789abcdef\r', '\n0', '\r\n', '\r\n'].map(bytes);
    const seen = drive(pieces);
    expect(seen.outcome).toBe('closed');
    expect(seen.requests[0]!.body).toBe('0123456789abcdef');
  });
});

describe('interop: what real clients send, accepted without touching framing', () => {
  const at = (target: string): Transcript => parseAllWays(`GET ${target} HTTP/1.1\r\n${HOST}\r\n`);

  test('every visible ASCII character but "%" and "#", and every byte 0x80-0xFF, is accepted in path, query and fragment', () => {
    for (let byte = 0x21; byte <= 0xff; byte++) {
      if (byte === 0x25 || byte === 0x23 || byte === 0x7f) continue;
      const c = String.fromCharCode(byte);
      for (const target of [`/a${c}b`, `/?q=${c}`, `/#f${c}`]) {
        const seen = at(target);
        expect(seen.requests.map((r) => r.head.target), JSON.stringify(target)).toEqual([target]);
      }
    }
  });

  test('every control character, SP and DEL is refused wherever it appears in the target', () => {
    for (let byte = 0x00; byte <= 0x20; byte++) {
      if (byte === 0x0d || byte === 0x0a) continue; // line endings: refused as such
      for (const target of ['/a?b', '/a?q#f', '/a#f']) {
        const raw = target.replace('a', `a${String.fromCharCode(byte)}`);
        const seen = at(raw);
        expect(seen.requests, JSON.stringify(raw)).toEqual([]);
        expect(seen.outcome, JSON.stringify(raw)).toMatchObject({ status: 400 });
      }
    }
    expect(at('/a\x7fb').outcome).toEqual({ status: 400, code: 'TSGI_ERR_HTTP_TARGET' });
    expect(at('/a#b\x7f').outcome).toEqual({ status: 400, code: 'TSGI_ERR_HTTP_TARGET' });
  });

  test('a fragment is accepted on origin-form and absolute-form targets and kept in the target as received', () => {
    for (const target of ['/a?b=1#frag', '/#', '/#a#b?c', '/p?#', 'http://example.com#f', 'http://example.com/x?y#z', '/%41#%42']) {
      expect(at(target).requests.map((r) => r.head.target), target).toEqual([target]);
    }
  });

  test('"#" does not open a way around the rest of the target grammar', () => {
    // The form rules still apply to what precedes the fragment.
    for (const target of ['#frag', 'a#/b', '*#f', 'http://#f', 'http://u@a/#f', 'example.com:80#f']) {
      expect(at(target).outcome, target).toMatchObject({ status: 400 });
    }
    expect(parseAllWays(`OPTIONS *#f HTTP/1.1\r\n${HOST}\r\n`).outcome).toMatchObject({ status: 400 });
    expect(parseAllWays(`CONNECT example.com:443#f HTTP/1.1\r\n${HOST}\r\n`).outcome).toMatchObject({ status: 400 });
  });

  test('trailer fields that are not about framing, routing or authentication are accepted, apart from the headers', () => {
    const names = ['Content-Type', 'Content-Encoding', 'Content-Range', 'Vary', 'Expires', 'Range', 'If-None-Match', 'Expect', 'ETag', 'Server-Timing', 'X-Forwarded-For'];
    const trailerSection = names.map((name) => `${name}: v\r\n`).join('');
    const seen = parseAllWays(`POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n${trailerSection}\r\n`);
    expect(seen.outcome).toBe('closed');
    const [request] = seen.requests;
    expect(request!.trailers).toEqual(names.flatMap((name) => [name, 'v']));
    expect(request!.head.headers).toEqual(['Host', 'example.com', 'Transfer-Encoding', 'chunked']);
  });

  test('every trailer field about framing, routing or authentication is refused, in any case', () => {
    for (const name of FORBIDDEN_TRAILERS) {
      for (const spelling of [name, name.toUpperCase()]) {
        const raw = `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n0\r\nX-Ok: 1\r\n${spelling}: v\r\n\r\n`;
        expect(parseAllWays(raw).outcome, spelling).toEqual({ status: 400, code: 'TSGI_ERR_HTTP_TRAILER' });
      }
    }
    expect([...FORBIDDEN_TRAILERS].sort()).toEqual(
      ['authorization', 'connection', 'content-length', 'cookie', 'host', 'keep-alive', 'max-forwards', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'].sort(),
    );
  });

  test('the field-size limit counts each line with its CRLF, whatever the OWS', () => {
    const limits = { maxHeaderFieldSize: 20 };
    // 18 bytes + CRLF = 20: passes; 19 + CRLF = 21: refused, with or without spaces around the value.
    for (const [line, ok] of [['X-A: 1234567890123', true], ['X-A:12345678901234', true], ['X-A:123456789012345', false], ['X-A:    12345678901', false], ['X-A: 1234567890123 ', false]] as const) {
      expect(line.length + 2 <= 20).toBe(ok);
      const seen = parseAllWays(`${GET}Host: x\r\n${line}\r\n\r\n`, limits);
      if (ok) expect(seen.requests, line).toHaveLength(1);
      else expect(seen.outcome, line).toEqual({ status: 431, code: 'TSGI_ERR_HTTP_FIELD_TOO_LARGE' });
    }
  });
});

describe('keep-alive', () => {
  const cases: [string, string, boolean][] = [
    ['HTTP/1.1 by default', `GET / HTTP/1.1\r\n${HOST}\r\n`, true],
    ['HTTP/1.1 with Connection: close', `GET / HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`, false],
    ['HTTP/1.1 with Connection: CLOSE', `GET / HTTP/1.1\r\n${HOST}Connection: CLOSE\r\n\r\n`, false],
    ['HTTP/1.1 with close among other options', `GET / HTTP/1.1\r\n${HOST}Connection: upgrade, Close\r\n\r\n`, false],
    ['HTTP/1.1 with close on a second Connection line', `GET / HTTP/1.1\r\n${HOST}Connection: te\r\nConnection: close\r\n\r\n`, false],
    ['HTTP/1.1 with Connection: keep-alive', `GET / HTTP/1.1\r\n${HOST}Connection: keep-alive\r\n\r\n`, true],
    ['HTTP/1.0 by default', 'GET / HTTP/1.0\r\n\r\n', false],
    ['HTTP/1.0 with Connection: keep-alive', 'GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n', true],
    ['HTTP/1.0 with keep-alive and close', 'GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n', false],
  ];
  for (const [name, raw, keepAlive] of cases) {
    test(`${name} → keepAlive ${keepAlive}`, () => {
      const seen = parseAllWays(raw + raw);
      expect(seen.requests[0]!.head.keepAlive).toBe(keepAlive);
      // RFC 9112 §9.6: nothing after a closing request is read as a request.
      expect(seen.requests).toHaveLength(keepAlive ? 2 : 1);
      expect(seen.outcome).toBe('closed');
    });
  }
});

describe('pipelining', () => {
  test('each request waits in PAUSED until startNextRequest(), so responses stay in order', () => {
    const first = `POST /1 HTTP/1.1\r\n${HOST}Content-Length: 3\r\n\r\nabc`;
    const second = `GET /2 HTTP/1.1\r\n${HOST}\r\n`;
    const third = `GET /3 HTTP/1.1\r\n${HOST}\r\n`;
    const parser = new RequestParser();
    parser.feed(bytes(first + second + third));
    expect(parser.next()).toBe(HEAD);
    expect(parser.head!.target).toBe('/1');
    expect(parser.next()).toBe(DATA);
    expect(parser.chunk!.toString()).toBe('abc');
    expect(parser.next()).toBe(END);
    const held = parser.buffered;
    expect(held).toBe(second.length + third.length);
    for (let i = 0; i < 3; i++) expect(parser.next()).toBe(PAUSED);
    expect(parser.head!.target).toBe('/1'); // still the first request's head
    parser.feed(bytes('GET /4'));
    expect(parser.next()).toBe(PAUSED);
    expect(parser.buffered).toBe(held + 6);
    parser.startNextRequest();
    expect(parser.head).toBeNull();
    expect(parser.next()).toBe(HEAD);
    expect(parser.head!.target).toBe('/2');
    expect(parser.next()).toBe(END);
    expect(parser.next()).toBe(PAUSED);
    parser.startNextRequest();
    expect(parser.next()).toBe(HEAD);
    expect(parser.head!.target).toBe('/3');
    expect(parser.next()).toBe(END);
    parser.startNextRequest();
    expect(parser.next()).toBe(NEED_DATA);
    parser.feed(bytes(` HTTP/1.1\r\n${HOST}\r\n`));
    expect(parser.next()).toBe(HEAD);
    expect(parser.head!.target).toBe('/4');
  });

  test('after a closing request, later bytes are dropped and next() says CLOSED once released', () => {
    const parser = new RequestParser();
    parser.feed(bytes(`GET /a HTTP/1.1\r\n${HOST}Connection: close\r\n\r\nGET /b HTTP/1.1\r\n${HOST}\r\n`));
    expect(parser.next()).toBe(HEAD);
    expect(parser.next()).toBe(END);
    expect(parser.buffered).toBe(0);
    expect(parser.next()).toBe(PAUSED);
    parser.feed(bytes('more bytes'));
    expect(parser.buffered).toBe(0);
    expect(parser.next()).toBe(PAUSED);
    parser.startNextRequest();
    expect(parser.next()).toBe(CLOSED);
    expect(parser.next()).toBe(CLOSED);
  });

  test('empty lines between pipelined requests are skipped too', () => {
    const request = `GET / HTTP/1.1\r\n${HOST}\r\n`;
    const seen = parseAllWays(`${request}\r\n${request}\r\n\r\n${request}`);
    expect(seen.requests).toHaveLength(3);
    expect(seen.outcome).toBe('closed');
  });
});

describe('end of input', () => {
  test('EOF before any byte is CLOSED', () => {
    const parser = new RequestParser();
    parser.feedEnd();
    expect(parser.next()).toBe(CLOSED);
  });

  test('EOF between requests is CLOSED, also after empty lines', () => {
    expect(parseAllWays(`GET / HTTP/1.1\r\n${HOST}\r\n`).outcome).toBe('closed');
    expect(parseAllWays(`GET / HTTP/1.1\r\n${HOST}\r\n\r\n\r\n`).outcome).toBe('closed');
  });

  test('EOF while PAUSED keeps PAUSED until the response is done, then CLOSED', () => {
    const parser = new RequestParser();
    parser.feed(bytes(`GET / HTTP/1.1\r\n${HOST}\r\n`));
    parser.feedEnd();
    expect(parser.next()).toBe(HEAD);
    expect(parser.next()).toBe(END);
    expect(parser.next()).toBe(PAUSED);
    parser.startNextRequest();
    expect(parser.next()).toBe(CLOSED);
  });

  test('pipelined requests followed by EOF are all parsed before CLOSED', () => {
    const seen = parseAllWays(`GET /1 HTTP/1.1\r\n${HOST}\r\nGET /2 HTTP/1.1\r\n${HOST}\r\n`);
    expect(seen.requests.map((r) => r.head.target)).toEqual(['/1', '/2']);
    expect(seen.outcome).toBe('closed');
  });

  const truncated: [string, string][] = [
    ['inside the request-line', 'GET /ind'],
    ['inside a field line', `GET / HTTP/1.1\r\nHo`],
    ['before the empty line', `GET / HTTP/1.1\r\n${HOST}`],
    ['in a lone CR that may start an empty line', '\r'],
    ['inside a Content-Length body', `POST / HTTP/1.1\r\n${HOST}Content-Length: 10\r\n\r\nabc`],
    ['inside a chunk-size line', `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n1`],
    ['inside chunk-data', `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n5\r\nab`],
    ['before the CRLF after chunk-data', `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n2\r\nab\r`],
    ['before the final CRLF', `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n0\r\n`],
    ['inside the trailer section', `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n`],
  ];
  for (const [where, raw] of truncated) {
    test(`EOF ${where} is an incomplete request (400)`, () => {
      const seen = parseAllWays(raw);
      expect(seen.outcome).toEqual({ status: 400, code: 'TSGI_ERR_HTTP_INCOMPLETE' });
      expect(seen.requests).toEqual([]);
    });
  }
});

/** [what, raw, status, code, limits?] */
type Refusal = [string, string, number, string, Partial<ParserLimits>?];
const GET = 'GET / HTTP/1.1\r\n';
const CHUNKED = `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n`;

const REFUSALS: Refusal[] = [
  // request-line
  ['double space', `GET  / HTTP/1.1\r\n${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_REQUEST_LINE'],
  ['tab as separator', `GET\t/ HTTP/1.1\r\n${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_REQUEST_LINE'],
  ['no spaces at all', `GET\r\n${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_REQUEST_LINE'],
  ['no request-target', `GET HTTP/1.1\r\n${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_REQUEST_LINE'],
  ['missing version (HTTP/0.9)', 'GET /index.html\r\n\r\n', 400, 'TSGI_ERR_HTTP_VERSION'],
  ['HTTP/1.2', `GET / HTTP/1.2\r\n${HOST}\r\n`, 505, 'TSGI_ERR_HTTP_VERSION_NOT_SUPPORTED'],
  ['HTTP/2.0', `GET / HTTP/2.0\r\n${HOST}\r\n`, 505, 'TSGI_ERR_HTTP_VERSION_NOT_SUPPORTED'],
  ['http/1.1', `GET / http/1.1\r\n${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_VERSION'],
  ['HTTP/1.10', `GET / HTTP/1.10\r\n${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_VERSION'],
  ['method not a token', `G@T / HTTP/1.1\r\n${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_REQUEST_LINE'],
  ['too many leading empty lines', '\r\n'.repeat(17) + `${GET}${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_REQUEST_LINE'],
  ['bare LF before the request-line', `\n${GET}${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_LINE_ENDING'],
  ['bare CR before the request-line', `\rGET / HTTP/1.1\r\n${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_LINE_ENDING'],
  ['bare CR in the request-line', `GET /\r HTTP/1.1\r\n${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_LINE_ENDING'],
  // request-target
  ['empty target', `GET  HTTP/1.1\r\n${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_TARGET'],
  ['relative target', `GET index.html HTTP/1.1\r\n${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_TARGET'],
  ['control character', `GET /a\x7fb HTTP/1.1\r\n${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_TARGET'],
  ['control character in the fragment', `GET /a#\x7f HTTP/1.1\r\n${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_TARGET'],
  ['%zz', `GET /%zz HTTP/1.1\r\n${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_TARGET'],
  ['%4 at the end', `GET /a%4 HTTP/1.1\r\n${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_TARGET'],
  ['%4 in the query', `GET /a?b=%4 HTTP/1.1\r\n${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_TARGET'],
  ['%4 in the fragment', `GET /a#b%4 HTTP/1.1\r\n${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_TARGET'],
  ['% right before the fragment', `GET /a%#b HTTP/1.1\r\n${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_TARGET'],
  ['absolute-form, bad %-escape in the fragment', `GET http://a/#%x HTTP/1.1\r\n${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_TARGET'],
  ['absolute-form, raw byte in the host', `GET http://caf\xe9/ HTTP/1.1\r\n${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_TARGET'],
  ['absolute-form, ftp scheme', `GET ftp://example.com/ HTTP/1.1\r\n${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_TARGET'],
  ['absolute-form, no host', `GET http:/// HTTP/1.1\r\n${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_TARGET'],
  ['absolute-form, userinfo', `GET https://u@example.com/ HTTP/1.1\r\n${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_TARGET'],
  ['absolute-form, bad port', `GET http://example.com:8x/ HTTP/1.1\r\n${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_TARGET'],
  ['asterisk-form with GET', `GET * HTTP/1.1\r\n${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_TARGET'],
  ['authority-form with GET', `GET example.com:80 HTTP/1.1\r\n${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_TARGET'],
  ['CONNECT without a port', `CONNECT example.com HTTP/1.1\r\n${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_TARGET'],
  ['CONNECT with asterisk-form', `CONNECT * HTTP/1.1\r\n${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_TARGET'],
  // field lines
  ['whitespace before the colon', `${GET}${HOST}Content-Length : 0\r\n\r\n`, 400, 'TSGI_ERR_HTTP_FIELD'],
  ['empty field name', `${GET}${HOST}:x\r\n\r\n`, 400, 'TSGI_ERR_HTTP_FIELD'],
  ['no colon', `${GET}${HOST}Broken\r\n\r\n`, 400, 'TSGI_ERR_HTTP_FIELD'],
  ['obs-fold', `${GET}${HOST}X-A: 1\r\n\t2\r\n\r\n`, 400, 'TSGI_ERR_HTTP_FIELD'],
  ['whitespace before the first field line', `${GET} ${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_FIELD'],
  ['NUL in a value', `${GET}${HOST}X-A: \x00\r\n\r\n`, 400, 'TSGI_ERR_HTTP_FIELD'],
  ['ESC in a value', `${GET}${HOST}X-A: \x1b[31m\r\n\r\n`, 400, 'TSGI_ERR_HTTP_FIELD'],
  ['name with a slash', `${GET}${HOST}X/A: 1\r\n\r\n`, 400, 'TSGI_ERR_HTTP_FIELD'],
  ['bare LF ends a field line', `${GET}${HOST}X-A: 1\n\r\n`, 400, 'TSGI_ERR_HTTP_LINE_ENDING'],
  ['bare CR in a value', `${GET}${HOST}X-A: 1\r2\r\n\r\n`, 400, 'TSGI_ERR_HTTP_LINE_ENDING'],
  ['CR CR LF', `${GET}${HOST}X-A: 1\r\r\n\r\n`, 400, 'TSGI_ERR_HTTP_LINE_ENDING'],
  ['LF LF ends the head', `${GET}${HOST}\n`, 400, 'TSGI_ERR_HTTP_LINE_ENDING'],
  // Host
  ['missing Host on HTTP/1.1', `${GET}\r\n`, 400, 'TSGI_ERR_HTTP_HOST'],
  ['two Host lines', `${GET}${HOST}host: example.com\r\n\r\n`, 400, 'TSGI_ERR_HTTP_HOST'],
  ['two Host lines on HTTP/1.0', `GET / HTTP/1.0\r\n${HOST}${HOST}\r\n`, 400, 'TSGI_ERR_HTTP_HOST'],
  ['Host with a comma', `${GET}Host: a.example, b.example\r\n\r\n`, 400, 'TSGI_ERR_HTTP_HOST'],
  ['Host with a bad port', `${GET}Host: example.com:80a\r\n\r\n`, 400, 'TSGI_ERR_HTTP_HOST'],
  ['Host with a bad IPv6 literal', `${GET}Host: [1::2::3]\r\n\r\n`, 400, 'TSGI_ERR_HTTP_HOST'],
  ['Host with a bad %-escape', `${GET}Host: ex%zzample\r\n\r\n`, 400, 'TSGI_ERR_HTTP_HOST'],
  // Content-Length
  ['Content-Length twice, equal', `POST / HTTP/1.1\r\n${HOST}Content-Length: 1\r\nContent-Length: 1\r\n\r\nx`, 400, 'TSGI_ERR_HTTP_CONTENT_LENGTH'],
  ['Content-Length list', `POST / HTTP/1.1\r\n${HOST}Content-Length: 1, 1\r\n\r\nx`, 400, 'TSGI_ERR_HTTP_CONTENT_LENGTH'],
  ['Content-Length with a sign', `POST / HTTP/1.1\r\n${HOST}Content-Length: +1\r\n\r\nx`, 400, 'TSGI_ERR_HTTP_CONTENT_LENGTH'],
  ['Content-Length in hex', `POST / HTTP/1.1\r\n${HOST}Content-Length: 0x1\r\n\r\nx`, 400, 'TSGI_ERR_HTTP_CONTENT_LENGTH'],
  ['Content-Length empty', `POST / HTTP/1.1\r\n${HOST}Content-Length: \r\n\r\n`, 400, 'TSGI_ERR_HTTP_CONTENT_LENGTH'],
  ['Content-Length with an inner space', `POST / HTTP/1.1\r\n${HOST}Content-Length: 1 0\r\n\r\n`, 400, 'TSGI_ERR_HTTP_CONTENT_LENGTH'],
  ['Content-Length 2^53', `POST / HTTP/1.1\r\n${HOST}Content-Length: 9007199254740992\r\n\r\n`, 400, 'TSGI_ERR_HTTP_CONTENT_LENGTH'],
  // Transfer-Encoding
  ['Content-Length and Transfer-Encoding', `POST / HTTP/1.1\r\n${HOST}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n`, 400, 'TSGI_ERR_HTTP_TRANSFER_ENCODING'],
  ['Transfer-Encoding and Content-Length', `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n`, 400, 'TSGI_ERR_HTTP_TRANSFER_ENCODING'],
  ['Transfer-Encoding on HTTP/1.0', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', 400, 'TSGI_ERR_HTTP_TRANSFER_ENCODING'],
  ['chunked, chunked', `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked, chunked\r\n\r\n`, 400, 'TSGI_ERR_HTTP_TRANSFER_ENCODING'],
  ['chunked on two lines', `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n`, 400, 'TSGI_ERR_HTTP_TRANSFER_ENCODING'],
  ['chunked, gzip', `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked, gzip\r\n\r\n`, 400, 'TSGI_ERR_HTTP_TRANSFER_ENCODING'],
  ['empty list element', `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: , chunked\r\n\r\n`, 400, 'TSGI_ERR_HTTP_TRANSFER_ENCODING'],
  ['empty value', `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding:\r\n\r\n`, 400, 'TSGI_ERR_HTTP_TRANSFER_ENCODING'],
  ['chunked with a parameter', `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked;q=1\r\n\r\n`, 400, 'TSGI_ERR_HTTP_TRANSFER_ENCODING'],
  ['coding that is not a token', `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: "chunked"\r\n\r\n`, 400, 'TSGI_ERR_HTTP_TRANSFER_ENCODING'],
  // RFC 9112 §6.3: not ending in chunked, the framing is invalid (400) whatever the coding.
  ['gzip', `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: gzip\r\n\r\n`, 400, 'TSGI_ERR_HTTP_TRANSFER_ENCODING'],
  ['gzip, chunked', `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: gzip, chunked\r\n\r\n`, 501, 'TSGI_ERR_HTTP_UNSUPPORTED_CODING'],
  ['foo', `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: foo\r\n\r\n`, 400, 'TSGI_ERR_HTTP_TRANSFER_ENCODING'],
  ['identity', `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: identity\r\n\r\n`, 400, 'TSGI_ERR_HTTP_TRANSFER_ENCODING'],
  ['identity, chunked', `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: identity, chunked\r\n\r\n`, 501, 'TSGI_ERR_HTTP_UNSUPPORTED_CODING'],
  // Expect
  ['Expect: 200-ok', `${GET}${HOST}Expect: 200-ok\r\n\r\n`, 417, 'TSGI_ERR_HTTP_EXPECTATION'],
  ['Expect: 100-continue, other', `${GET}${HOST}Expect: 100-continue, other\r\n\r\n`, 417, 'TSGI_ERR_HTTP_EXPECTATION'],
  // chunked framing
  ['chunk size 0x5', `${CHUNKED}0x5\r\nhello\r\n0\r\n\r\n`, 400, 'TSGI_ERR_HTTP_CHUNK'],
  ['chunk size -1', `${CHUNKED}-1\r\n`, 400, 'TSGI_ERR_HTTP_CHUNK'],
  ['chunk size +1', `${CHUNKED}+1\r\n`, 400, 'TSGI_ERR_HTTP_CHUNK'],
  ['chunk size with a leading space', `${CHUNKED} 5\r\nhello\r\n0\r\n\r\n`, 400, 'TSGI_ERR_HTTP_CHUNK'],
  ['chunk size with a trailing space', `${CHUNKED}5 \r\nhello\r\n0\r\n\r\n`, 400, 'TSGI_ERR_HTTP_CHUNK'],
  ['chunk size with a trailing tab', `${CHUNKED}5\t\r\nhello\r\n0\r\n\r\n`, 400, 'TSGI_ERR_HTTP_CHUNK'],
  ['empty chunk-size line', `${CHUNKED}\r\n`, 400, 'TSGI_ERR_HTTP_CHUNK'],
  ['chunk size beyond 2^53', `${CHUNKED}ffffffffffffffffff\r\n`, 400, 'TSGI_ERR_HTTP_CHUNK'],
  ['chunk size 2^53', `${CHUNKED}20000000000000\r\n`, 400, 'TSGI_ERR_HTTP_CHUNK'],
  ['bare CR in a chunk-size line', `${CHUNKED}5\rx\r\nhello\r\n0\r\n\r\n`, 400, 'TSGI_ERR_HTTP_CHUNK'],
  ['bare LF ends a chunk-size line', `${CHUNKED}5\nhello\r\n0\r\n\r\n`, 400, 'TSGI_ERR_HTTP_CHUNK'],
  ['bare CR in a chunk-ext', `${CHUNKED}5;a=b\rc\r\nhello\r\n0\r\n\r\n`, 400, 'TSGI_ERR_HTTP_CHUNK'],
  ['chunk-ext without a name', `${CHUNKED}5;\r\nhello\r\n0\r\n\r\n`, 400, 'TSGI_ERR_HTTP_CHUNK'],
  ['chunk-ext with an unterminated quote', `${CHUNKED}5;a="b\r\nhello\r\n0\r\n\r\n`, 400, 'TSGI_ERR_HTTP_CHUNK'],
  ['chunk-ext with a control character', `${CHUNKED}5;a=\x01\r\nhello\r\n0\r\n\r\n`, 400, 'TSGI_ERR_HTTP_CHUNK'],
  ['chunk-size line over 4096 bytes', `${CHUNKED}5;a=${'b'.repeat(4096)}\r\nhello\r\n0\r\n\r\n`, 400, 'TSGI_ERR_HTTP_CHUNK'],
  ['chunk data too long', `${CHUNKED}3\r\nhello\r\n0\r\n\r\n`, 400, 'TSGI_ERR_HTTP_CHUNK'],
  ['chunk data followed by LF only', `${CHUNKED}5\r\nhello\n0\r\n\r\n`, 400, 'TSGI_ERR_HTTP_CHUNK'],
  ['chunk data followed by CR only', `${CHUNKED}5\r\nhello\r0\r\n\r\n`, 400, 'TSGI_ERR_HTTP_CHUNK'],
  // trailers
  ['Content-Length trailer', `${CHUNKED}0\r\nContent-Length: 5\r\n\r\n`, 400, 'TSGI_ERR_HTTP_TRAILER'],
  ['Transfer-Encoding trailer', `${CHUNKED}0\r\ntransfer-encoding: chunked\r\n\r\n`, 400, 'TSGI_ERR_HTTP_TRAILER'],
  ['Host trailer', `${CHUNKED}0\r\nHost: other\r\n\r\n`, 400, 'TSGI_ERR_HTTP_TRAILER'],
  ['Authorization trailer', `${CHUNKED}0\r\nX-Ok: 1\r\nAuthorization: Basic eA==\r\n\r\n`, 400, 'TSGI_ERR_HTTP_TRAILER'],
  ['Trailer trailer', `${CHUNKED}0\r\nTrailer: X\r\n\r\n`, 400, 'TSGI_ERR_HTTP_TRAILER'],
  ['TE trailer', `${CHUNKED}0\r\nTE: trailers\r\n\r\n`, 400, 'TSGI_ERR_HTTP_TRAILER'],
  ['Cookie trailer', `${CHUNKED}0\r\ncookie: a=b\r\n\r\n`, 400, 'TSGI_ERR_HTTP_TRAILER'],
  ['Proxy-Authorization trailer', `${CHUNKED}0\r\nProxy-Authorization: Basic eA==\r\n\r\n`, 400, 'TSGI_ERR_HTTP_TRAILER'],
  ['Upgrade trailer', `${CHUNKED}0\r\nUpgrade: websocket\r\n\r\n`, 400, 'TSGI_ERR_HTTP_TRAILER'],
  ['Max-Forwards trailer', `${CHUNKED}0\r\nMax-Forwards: 1\r\n\r\n`, 400, 'TSGI_ERR_HTTP_TRAILER'],
  ['bad trailer line', `${CHUNKED}0\r\nX-T : 1\r\n\r\n`, 400, 'TSGI_ERR_HTTP_FIELD'],
  ['NUL in a trailer', `${CHUNKED}0\r\nX-T: \x00\r\n\r\n`, 400, 'TSGI_ERR_HTTP_FIELD'],
  ['bare LF in the trailer section', `${CHUNKED}0\r\nX-T: 1\n\r\n`, 400, 'TSGI_ERR_HTTP_LINE_ENDING'],
  ['bare LF as the empty trailer section', `${CHUNKED}0\r\n\n`, 400, 'TSGI_ERR_HTTP_LINE_ENDING'],
  ['bare CR as the empty trailer section', `${CHUNKED}0\r\n\rX`, 400, 'TSGI_ERR_HTTP_LINE_ENDING'],
];

describe('refusals', () => {
  for (const [what, raw, status, code, limits] of REFUSALS) {
    test(`${what} → ${status} ${code}`, () => {
      for (const [how, split] of SPLITS) {
        // No EOF: each of these is provable from the bytes alone.
        const seen = drive(split(bytes(raw)), { limits, eof: false });
        expect(seen.outcome, how).toEqual({ status, code });
        expect(seen.requests, how).toEqual([]);
      }
    });
  }

  test('an error is an HttpParseError with a one-line message, and it is final', () => {
    const parser = new RequestParser();
    parser.feed(bytes(`GET / HTTP/1.1\r\n${HOST}Content-Length: 1\r\nContent-Length: 1\r\n\r\nx`));
    expect(parser.next()).toBe(ERROR);
    const error = parser.error!;
    expect(error).toBeInstanceOf(HttpParseError);
    expect(error).toBeInstanceOf(TsgiError);
    expect(error.message).not.toMatch(/[\r\n]/);
    expect(error.message).toMatch(/Content-Length/);
    parser.feed(bytes(`GET / HTTP/1.1\r\n${HOST}\r\n`));
    expect(parser.buffered).toBe(0);
    expect(parser.next()).toBe(ERROR);
    expect(parser.error).toBe(error);
    parser.feedEnd();
    expect(parser.next()).toBe(ERROR);
  });

  test('the message names the unsupported coding', () => {
    const parser = new RequestParser();
    parser.feed(bytes(`POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: br, chunked\r\n\r\n`));
    expect(parser.next()).toBe(ERROR);
    expect(parser.error!.status).toBe(501);
    expect(parser.error!.message).toContain('"br"');
  });
});

describe('limits', () => {
  const limits = { maxRequestLine: 64, maxHeaderCount: 4, maxHeaderFieldSize: 32 };
  const requestLine = (length: number): string => `GET /${'a'.repeat(length - 'GET / HTTP/1.1'.length)} HTTP/1.1`;
  const field = (length: number): string => `X-F: ${'v'.repeat(length - 'X-F: '.length)}`;

  test('a request-line exactly at the limit passes, one byte more is 414', () => {
    expect(parseAllWays(`${requestLine(64)}\r\n${HOST}\r\n`, limits).requests).toHaveLength(1);
    expect(parseAllWays(`${requestLine(65)}\r\n${HOST}\r\n`, limits).outcome).toEqual({
      status: 414,
      code: 'TSGI_ERR_HTTP_REQUEST_LINE_TOO_LONG',
    });
  });

  test('a field line with its CRLF exactly at the limit passes, one byte more is 431 (as Gunicorn counts)', () => {
    const host = 'Host: x'; // 7 bytes, under the limit
    expect(parseAllWays(`${GET}${host}\r\n${field(30)}\r\n\r\n`, limits).requests).toHaveLength(1);
    expect(parseAllWays(`${GET}${host}\r\n${field(31)}\r\n\r\n`, limits).outcome).toEqual({
      status: 431,
      code: 'TSGI_ERR_HTTP_FIELD_TOO_LARGE',
    });
  });

  test('exactly maxHeaderCount fields pass, one more is 431', () => {
    const fields = (n: number): string => ['Host: x', ...Array.from({ length: n - 1 }, (_, i) => `X-${i}: v`)].join('\r\n');
    expect(parseAllWays(`${GET}${fields(4)}\r\n\r\n`, limits).requests).toHaveLength(1);
    expect(parseAllWays(`${GET}${fields(5)}\r\n\r\n`, limits).outcome).toEqual({
      status: 431,
      code: 'TSGI_ERR_HTTP_TOO_MANY_FIELDS',
    });
  });

  test('trailers count against the same limits', () => {
    const head = `POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n`;
    const trailers = (n: number): string => Array.from({ length: n }, (_, i) => `X-${i}: v\r\n`).join('');
    expect(parseAllWays(`${head}${trailers(4)}\r\n`, limits).requests[0]!.trailers).toHaveLength(8);
    expect(parseAllWays(`${head}${trailers(5)}\r\n`, limits).outcome).toEqual({
      status: 431,
      code: 'TSGI_ERR_HTTP_TOO_MANY_FIELDS',
    });
    expect(parseAllWays(`${head}${field(30)}\r\n\r\n`, limits).requests).toHaveLength(1);
    expect(parseAllWays(`${head}${field(31)}\r\n\r\n`, limits).outcome).toEqual({
      status: 431,
      code: 'TSGI_ERR_HTTP_FIELD_TOO_LARGE',
    });
  });

  test('limits of 0 mean no limit', () => {
    const none = { maxRequestLine: 0, maxHeaderCount: 0, maxHeaderFieldSize: 0 };
    const many = Array.from({ length: 300 }, (_, i) => `X-${i}: ${'v'.repeat(100)}\r\n`).join('');
    const seen = parseAllWays(`${requestLine(20000)}\r\nHost: x\r\n${field(20000)}\r\n${many}\r\n`, none);
    expect(seen.requests[0]!.head.headers).toHaveLength(2 * 302);
  });

  test('a request-line over the limit is refused before its CRLF arrives', () => {
    const parser = new RequestParser(limits);
    parser.feed(bytes(requestLine(64).slice(0, 60)));
    expect(parser.next()).toBe(NEED_DATA);
    parser.feed(bytes('x'.repeat(5)));
    expect(parser.next()).toBe(ERROR);
    expect(parser.error!.status).toBe(414);
  });

  test('a field line over the limit is refused before its CRLF arrives', () => {
    const parser = new RequestParser(limits);
    parser.feed(bytes(`${GET}Host: x\r\n${'X-Long: '.padEnd(30, 'v')}`));
    expect(parser.next()).toBe(NEED_DATA);
    parser.feed(bytes('v'));
    expect(parser.next()).toBe(ERROR);
    expect(parser.error!.status).toBe(431);
  });

  test('a CR at the limit may still end the line', () => {
    const parser = new RequestParser(limits);
    parser.feed(bytes(`${requestLine(64)}\r`));
    expect(parser.next()).toBe(NEED_DATA);
    parser.feed(bytes(`\nHost: x\r\n\r\n`));
    expect(parser.next()).toBe(HEAD);
  });

  test('too many fields are refused before the head ends', () => {
    const parser = new RequestParser(limits);
    parser.feed(bytes(`${GET}Host: x\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n`));
    expect(parser.next()).toBe(ERROR);
    expect(parser.error!.status).toBe(431);
  });

  test('a bare LF or bare CR is refused as soon as it arrives', () => {
    for (const raw of [`${GET}Host: x\n`, `${GET}Host: x\rX`, `GET / HTTP/1.1\n`, `${GET}Host: x\r\nX: 1\r\r`]) {
      const parser = new RequestParser();
      parser.feed(bytes(raw));
      expect(parser.next(), JSON.stringify(raw)).toBe(ERROR);
      expect(parser.error!.code).toBe('TSGI_ERR_HTTP_LINE_ENDING');
    }
  });

  test('a malformed line is refused as soon as it is complete', () => {
    const parser = new RequestParser();
    parser.feed(bytes(`${GET}Host: x\r\nBad Name: 1\r\n`));
    expect(parser.next()).toBe(ERROR);
    expect(parser.error!.code).toBe('TSGI_ERR_HTTP_FIELD');
  });

  test('up to 16 empty lines before a request-line are skipped, and leave the buffer', () => {
    const parser = new RequestParser();
    parser.feed(bytes('\r\n'.repeat(16)));
    expect(parser.next()).toBe(NEED_DATA);
    expect(parser.buffered).toBe(0);
    parser.feed(bytes(`${GET}Host: x\r\n\r\n`));
    expect(parser.next()).toBe(HEAD);
  });
});

describe('misuse', () => {
  test('startNextRequest() in the middle of a request throws TSGI_ERR_PARSER_STATE', () => {
    const parser = new RequestParser();
    parser.feed(bytes(`POST / HTTP/1.1\r\n${HOST}Content-Length: 5\r\n\r\nab`));
    expect(parser.next()).toBe(HEAD);
    expect(() => parser.startNextRequest()).toThrow(expect.objectContaining({ code: 'TSGI_ERR_PARSER_STATE' }));
  });

  test('chunk is null except right after DATA', () => {
    const parser = new RequestParser();
    parser.feed(bytes(`POST / HTTP/1.1\r\n${HOST}Content-Length: 2\r\n\r\nab`));
    expect(parser.next()).toBe(HEAD);
    expect(parser.chunk).toBeNull();
    expect(parser.next()).toBe(DATA);
    expect(parser.chunk!.toString()).toBe('ab');
    expect(parser.next()).toBe(END);
    expect(parser.chunk).toBeNull();
  });
});

describe('whole, byte-by-byte and split input agree', () => {
  // Seeded mutations of the corpus: whatever the bytes, the way they arrive must not change the
  // outcome. This is what keeps the one-pass fast path and the line-by-line slow path in step.
  const INTERESTING = ['\r', '\n', '\r\n', ' ', '\t', ':', ';', ',', '\x00', '\x7f', '\x80', '\xff', '%', '#', '?', 'a', '0', '"', '\\', '{'];
  test('on 3000 mutated requests', () => {
    const random = prng(2024);
    const sources = [...VALID, ...INVALID].map((c) => c.raw).filter((raw) => raw.length < 2000);
    for (let i = 0; i < 3000; i++) {
      let raw = sources[Math.floor(random() * sources.length)]!;
      for (let edits = 1 + Math.floor(random() * 3); edits > 0; edits--) {
        const at = Math.floor(random() * raw.length);
        const insert = random() < 0.8 ? INTERESTING[Math.floor(random() * INTERESTING.length)]! : '';
        const remove = random() < 0.5 ? 1 : 0;
        raw = raw.slice(0, at) + insert + raw.slice(at + remove);
      }
      const input = bytes(raw);
      const reference = drive([input]);
      expect(drive(byteByByte(input)), JSON.stringify(raw)).toEqual(reference);
      expect(drive(randomSplits(input, i)), JSON.stringify(raw)).toEqual(reference);
    }
  });
});
