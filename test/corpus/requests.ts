/**
 * A conformance corpus of raw HTTP/1.1 requests, shared by the parser's unit tests and the
 * end-to-end tests that send each case to a running server.
 *
 * VALID cases say what the app must see for each request in `raw` (a raw string may hold several
 * pipelined requests). INVALID cases say which status the server must answer; the app must not
 * see the request. Every INVALID case is decidable from its bytes alone: the server can answer
 * without waiting for the client to close. Statuses follow tsgi's parser with its default limits
 * (request-line 4094 bytes, 100 fields, 8190 bytes per field line counted with its CRLF, as
 * Gunicorn counts it).
 *
 * `raw` holds bytes as a latin1 string: one character per byte, CRLFs written out.
 */
/**
 * What the app must see of one request. `trailers` is present exactly for chunked requests: the
 * trailer fields, never merged into `headers`.
 */
export interface CorpusRequest {
  method: string;
  target: string;
  versionMinor: 0 | 1;
  headers: [string, string][];
  body: string;
  trailers?: [string, string][];
}

export interface CorpusCase {
  name: string;
  /** The exact bytes as a latin1 string, CRLFs written explicitly. */
  raw: string;
  /** For valid cases: what the app must see, per request in raw (pipelined raw may hold several). */
  requests?: CorpusRequest[];
  /** For invalid cases: the status the server must answer; the app must not be called. */
  status?: number;
}

const H = 'Host: example.com\r\n';

export const VALID: CorpusCase[] = [
  {
    name: 'simple GET',
    raw: `GET / HTTP/1.1\r\n${H}\r\n`,
    requests: [{ method: 'GET', target: '/', versionMinor: 1, headers: [['Host', 'example.com']], body: '' }],
  },
  {
    name: 'GET with a query and fields kept in order, names as sent',
    raw: 'GET /search?q=tsgi&page=2 HTTP/1.1\r\nHost: example.com:8080\r\nuser-agent: corpus/1.0\r\nACCEPT: */*\r\nX-Request-Id: 42\r\n\r\n',
    requests: [
      {
        method: 'GET',
        target: '/search?q=tsgi&page=2',
        versionMinor: 1,
        headers: [
          ['Host', 'example.com:8080'],
          ['user-agent', 'corpus/1.0'],
          ['ACCEPT', '*/*'],
          ['X-Request-Id', '42'],
        ],
        body: '',
      },
    ],
  },
  {
    name: 'HTTP/1.0 without Host',
    raw: 'GET /old HTTP/1.0\r\n\r\n',
    requests: [{ method: 'GET', target: '/old', versionMinor: 0, headers: [], body: '' }],
  },
  {
    name: 'POST with Content-Length',
    raw: `POST /submit HTTP/1.1\r\n${H}Content-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world`,
    requests: [
      {
        method: 'POST',
        target: '/submit',
        versionMinor: 1,
        headers: [
          ['Host', 'example.com'],
          ['Content-Type', 'text/plain'],
          ['Content-Length', '11'],
        ],
        body: 'hello world',
      },
    ],
  },
  {
    name: 'POST with Content-Length: 0',
    raw: `POST /empty HTTP/1.1\r\n${H}Content-Length: 0\r\n\r\n`,
    requests: [
      {
        method: 'POST',
        target: '/empty',
        versionMinor: 1,
        headers: [
          ['Host', 'example.com'],
          ['Content-Length', '0'],
        ],
        body: '',
      },
    ],
  },
  {
    name: 'chunked body with extensions and a trailer',
    raw:
      `POST /upload HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n` +
      '5;name=value\r\nhello\r\n6;quoted="a \\"b\\" c";flag\r\n world\r\n0\r\nX-Checksum: abc123\r\n\r\n',
    requests: [
      {
        method: 'POST',
        target: '/upload',
        versionMinor: 1,
        headers: [
          ['Host', 'example.com'],
          ['Transfer-Encoding', 'chunked'],
        ],
        body: 'hello world',
        trailers: [['X-Checksum', 'abc123']],
      },
    ],
  },
  {
    name: 'chunked with upper-case hex, leading zeros and a case-insensitive coding name',
    raw: `PUT /data HTTP/1.1\r\n${H}Transfer-Encoding: Chunked\r\n\r\n00A\r\n0123456789\r\n000\r\n\r\n`,
    requests: [
      {
        method: 'PUT',
        target: '/data',
        versionMinor: 1,
        headers: [
          ['Host', 'example.com'],
          ['Transfer-Encoding', 'Chunked'],
        ],
        body: '0123456789',
        trailers: [],
      },
    ],
  },
  {
    name: 'three pipelined GETs',
    raw: `GET /1 HTTP/1.1\r\n${H}\r\nGET /2 HTTP/1.1\r\n${H}\r\nGET /3 HTTP/1.1\r\n${H}\r\n`,
    requests: ['/1', '/2', '/3'].map((target) => ({
      method: 'GET',
      target,
      versionMinor: 1 as const,
      headers: [['Host', 'example.com']] as [string, string][],
      body: '',
    })),
  },
  {
    name: 'pipelined POST, chunked PUT and GET',
    raw:
      `POST /a HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabc` +
      `PUT /b HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n` +
      `GET /c HTTP/1.1\r\n${H}\r\n`,
    requests: [
      {
        method: 'POST',
        target: '/a',
        versionMinor: 1,
        headers: [
          ['Host', 'example.com'],
          ['Content-Length', '3'],
        ],
        body: 'abc',
      },
      {
        method: 'PUT',
        target: '/b',
        versionMinor: 1,
        headers: [
          ['Host', 'example.com'],
          ['Transfer-Encoding', 'chunked'],
        ],
        body: 'de',
        trailers: [],
      },
      { method: 'GET', target: '/c', versionMinor: 1, headers: [['Host', 'example.com']], body: '' },
    ],
  },
  {
    name: 'empty lines before the request-line are ignored',
    raw: `\r\n\r\nGET /after-blank HTTP/1.1\r\n${H}\r\n`,
    requests: [{ method: 'GET', target: '/after-blank', versionMinor: 1, headers: [['Host', 'example.com']], body: '' }],
  },
  {
    name: 'OWS around field values is removed, inner whitespace kept',
    raw: `GET / HTTP/1.1\r\n${H}X-Spaced:   a  b   \r\nX-Tabbed:\t\tc\td\t\r\nX-Empty:\r\nX-Blank:    \r\n\r\n`,
    requests: [
      {
        method: 'GET',
        target: '/',
        versionMinor: 1,
        headers: [
          ['Host', 'example.com'],
          ['X-Spaced', 'a  b'],
          ['X-Tabbed', 'c\td'],
          ['X-Empty', ''],
          ['X-Blank', ''],
        ],
        body: '',
      },
    ],
  },
  {
    name: 'obs-text bytes in a value are kept as latin1',
    raw: `GET / HTTP/1.1\r\n${H}X-Name: Ren\xe9e \xa0\xff\r\n\r\n`,
    requests: [
      {
        method: 'GET',
        target: '/',
        versionMinor: 1,
        headers: [
          ['Host', 'example.com'],
          ['X-Name', 'Ren\xe9e \xa0\xff'],
        ],
        body: '',
      },
    ],
  },
  {
    name: 'repeated fields are kept, each on its own',
    raw: `GET / HTTP/1.1\r\n${H}Accept: text/html\r\nCookie: a=1\r\nAccept: application/json\r\nCookie: b=2\r\n\r\n`,
    requests: [
      {
        method: 'GET',
        target: '/',
        versionMinor: 1,
        headers: [
          ['Host', 'example.com'],
          ['Accept', 'text/html'],
          ['Cookie', 'a=1'],
          ['Accept', 'application/json'],
          ['Cookie', 'b=2'],
        ],
        body: '',
      },
    ],
  },
  {
    name: 'absolute-form target',
    raw: `GET http://example.com/abs?x=1 HTTP/1.1\r\n${H}\r\n`,
    requests: [{ method: 'GET', target: 'http://example.com/abs?x=1', versionMinor: 1, headers: [['Host', 'example.com']], body: '' }],
  },
  {
    name: 'asterisk-form with OPTIONS',
    raw: `OPTIONS * HTTP/1.1\r\n${H}\r\n`,
    requests: [{ method: 'OPTIONS', target: '*', versionMinor: 1, headers: [['Host', 'example.com']], body: '' }],
  },
  {
    name: 'percent-encoded path and every RFC 3986 sub-delim',
    raw: `GET /a%20b/%C3%A9/!$&'()*+,;=:@-._~?q=/?%2F HTTP/1.1\r\n${H}\r\n`,
    requests: [
      {
        method: 'GET',
        target: "/a%20b/%C3%A9/!$&'()*+,;=:@-._~?q=/?%2F",
        versionMinor: 1,
        headers: [['Host', 'example.com']],
        body: '',
      },
    ],
  },
  {
    name: 'Expect: 100-continue with a body sent right away',
    raw: `POST /expect HTTP/1.1\r\n${H}Expect: 100-continue\r\nContent-Length: 4\r\n\r\nbody`,
    requests: [
      {
        method: 'POST',
        target: '/expect',
        versionMinor: 1,
        headers: [
          ['Host', 'example.com'],
          ['Expect', '100-continue'],
          ['Content-Length', '4'],
        ],
        body: 'body',
      },
    ],
  },
  {
    name: 'HTTP/1.0 keep-alive followed by a pipelined request',
    raw: 'GET /one HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /two HTTP/1.0\r\n\r\n',
    requests: [
      { method: 'GET', target: '/one', versionMinor: 0, headers: [['Connection', 'keep-alive']], body: '' },
      { method: 'GET', target: '/two', versionMinor: 0, headers: [], body: '' },
    ],
  },
  {
    name: 'IPv6 literal Host with a port',
    raw: 'GET / HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\n',
    requests: [{ method: 'GET', target: '/', versionMinor: 1, headers: [['Host', '[2001:db8::1]:8080']], body: '' }],
  },
  {
    name: 'Connection: close ends the connection after the request',
    raw: `GET /last HTTP/1.1\r\n${H}Connection: close\r\n\r\n`,
    requests: [
      {
        method: 'GET',
        target: '/last',
        versionMinor: 1,
        headers: [
          ['Host', 'example.com'],
          ['Connection', 'close'],
        ],
        body: '',
      },
    ],
  },

  // Interop: what real clients send that the RFCs do not forbid a server to serve, and Gunicorn,
  // h11 and node:http serve. None of it touches framing.
  {
    name: 'a fragment after the query is accepted, the target kept as received',
    raw: `GET /a?b=1#frag HTTP/1.1\r\n${H}\r\n`,
    requests: [{ method: 'GET', target: '/a?b=1#frag', versionMinor: 1, headers: [['Host', 'example.com']], body: '' }],
  },
  {
    name: 'a fragment without a query, holding "?" and "#"',
    raw: `GET /page#section?x#y HTTP/1.1\r\n${H}\r\n`,
    requests: [{ method: 'GET', target: '/page#section?x#y', versionMinor: 1, headers: [['Host', 'example.com']], body: '' }],
  },
  {
    name: 'visible ASCII outside RFC 3986 in path and query',
    raw: `GET /"q"/{a}|b\\c^d\`e<f>?x="1"&y={2}|\\^\` HTTP/1.1\r\n${H}\r\n`,
    requests: [
      { method: 'GET', target: '/"q"/{a}|b\\c^d`e<f>?x="1"&y={2}|\\^`', versionMinor: 1, headers: [['Host', 'example.com']], body: '' },
    ],
  },
  {
    name: 'bytes 0x80-0xFF in the target (UTF-8 and latin1 sent raw)',
    raw: `GET /caf\xc3\xa9/\xe9\xff?q=\xe2\x82\xac#\xa0 HTTP/1.1\r\n${H}\r\n`,
    requests: [
      { method: 'GET', target: '/caf\xc3\xa9/\xe9\xff?q=\xe2\x82\xac#\xa0', versionMinor: 1, headers: [['Host', 'example.com']], body: '' },
    ],
  },
  {
    name: 'absolute-form with a fragment and raw bytes',
    raw: `GET http://example.com/a|b\xc3\xa9?q#f HTTP/1.1\r\n${H}\r\n`,
    requests: [{ method: 'GET', target: 'http://example.com/a|b\xc3\xa9?q#f', versionMinor: 1, headers: [['Host', 'example.com']], body: '' }],
  },
  {
    name: 'trailer fields not about framing, routing or authentication are kept as trailers',
    raw:
      `POST /trail HTTP/1.1\r\n${H}Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\nTrailer: Content-Type, Vary\r\n\r\n` +
      '3\r\nabc\r\n0\r\nContent-Type: text/plain\r\nVary: Accept\r\nExpires: 0\r\nContent-MD5: kAFQmDzST7DWlj99KOF/cg==\r\nRange: bytes=0-1\r\nIf-Match: "x"\r\nExpect: 100-continue\r\n\r\n',
    requests: [
      {
        method: 'POST',
        target: '/trail',
        versionMinor: 1,
        headers: [
          ['Host', 'example.com'],
          ['Content-Type', 'application/octet-stream'],
          ['Transfer-Encoding', 'chunked'],
          ['Trailer', 'Content-Type, Vary'],
        ],
        body: 'abc',
        trailers: [
          ['Content-Type', 'text/plain'],
          ['Vary', 'Accept'],
          ['Expires', '0'],
          ['Content-MD5', 'kAFQmDzST7DWlj99KOF/cg=='],
          ['Range', 'bytes=0-1'],
          ['If-Match', '"x"'],
          ['Expect', '100-continue'],
        ],
      },
    ],
  },
  {
    name: 'chunk-ext with whitespace around ";" and "=" (BWS)',
    raw: `POST /bws HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5; some; parameters=stuff\r\nhello\r\n1 ;a = b\t; c\r\n!\r\n0\r\n\r\n`,
    requests: [
      {
        method: 'POST',
        target: '/bws',
        versionMinor: 1,
        headers: [
          ['Host', 'example.com'],
          ['Transfer-Encoding', 'chunked'],
        ],
        body: 'hello!',
        trailers: [],
      },
    ],
  },
  {
    name: 'a method token no registry knows',
    raw: `-BLARGH /foo HTTP/1.1\r\n${H}\r\n`,
    requests: [{ method: '-BLARGH', target: '/foo', versionMinor: 1, headers: [['Host', 'example.com']], body: '' }],
  },
  {
    name: 'a field line exactly at the limit: 8190 bytes with its CRLF',
    raw: `GET / HTTP/1.1\r\n${H}X-Big: ${'b'.repeat(8190 - 'X-Big: '.length - 2)}\r\n\r\n`,
    requests: [
      {
        method: 'GET',
        target: '/',
        versionMinor: 1,
        headers: [
          ['Host', 'example.com'],
          ['X-Big', 'b'.repeat(8190 - 'X-Big: '.length - 2)],
        ],
        body: '',
      },
    ],
  },
  {
    name: 'HTTP/1.0 request pipelined after another in one packet: only the first is served',
    raw: 'GET /first HTTP/1.0\r\n\r\nGET /second HTTP/1.1\r\nHost: h\r\n\r\n',
    requests: [{ method: 'GET', target: '/first', versionMinor: 0, headers: [], body: '' }],
  },
  {
    name: 'Connection: close request pipelined before another: only the first is served',
    raw: `GET /first HTTP/1.1\r\n${H}Connection: close\r\n\r\nGET /second HTTP/1.1\r\n${H}\r\n`,
    requests: [
      {
        method: 'GET',
        target: '/first',
        versionMinor: 1,
        headers: [
          ['Host', 'example.com'],
          ['Connection', 'close'],
        ],
        body: '',
      },
    ],
  },
];

const GET = 'GET / HTTP/1.1\r\n';
const CHUNKED_HEAD = `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n`;

export const INVALID: CorpusCase[] = [
  // Framing: the request-smuggling classics (RFC 9112 §6)
  { name: 'Content-Length then Transfer-Encoding', raw: `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, status: 400 },
  { name: 'Transfer-Encoding then Content-Length', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n`, status: 400 },
  { name: 'space before the colon of Transfer-Encoding', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n`, status: 400 },
  { name: 'Transfer-Encoding: xchunked', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`, status: 400 },
  { name: 'chunked in a second Transfer-Encoding line after gzip', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, status: 501 },
  { name: 'Transfer-Encoding: chunked, gzip', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n`, status: 400 },
  { name: 'Transfer-Encoding: chunked, chunked', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n`, status: 400 },
  { name: 'Transfer-Encoding with an empty list element', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked,\r\n\r\n0\r\n\r\n`, status: 400 },
  { name: 'Transfer-Encoding: gzip', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n`, status: 400 },
  { name: 'Transfer-Encoding: identity', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding: identity\r\n\r\n`, status: 400 },
  { name: 'Transfer-Encoding line starting with a space (obs-fold after the request-line)', raw: `POST / HTTP/1.1\r\n Transfer-Encoding: chunked\r\n${H}\r\n0\r\n\r\n`, status: 400 },
  { name: 'Transfer-Encoding value starting with a vertical tab', raw: `POST / HTTP/1.1\r\n${H}Transfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n`, status: 400 },
  { name: 'Transfer-Encoding on HTTP/1.0', raw: 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', status: 400 },
  { name: 'Content-Length: 1,2', raw: `POST / HTTP/1.1\r\n${H}Content-Length: 1,2\r\n\r\nab`, status: 400 },
  { name: 'Content-Length as a list of equal values', raw: `POST / HTTP/1.1\r\n${H}Content-Length: 5, 5\r\n\r\nhello`, status: 400 },
  { name: 'Content-Length twice with the same value', raw: `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello`, status: 400 },
  { name: 'negative Content-Length', raw: `POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`, status: 400 },
  { name: 'Content-Length with a plus sign', raw: `POST / HTTP/1.1\r\n${H}Content-Length: +5\r\n\r\nhello`, status: 400 },
  { name: 'hexadecimal Content-Length', raw: `POST / HTTP/1.1\r\n${H}Content-Length: 0x5\r\n\r\nhello`, status: 400 },
  { name: 'Content-Length with a space inside', raw: `POST / HTTP/1.1\r\n${H}Content-Length: 1 1\r\n\r\nhello world`, status: 400 },
  { name: 'empty Content-Length', raw: `POST / HTTP/1.1\r\n${H}Content-Length:\r\n\r\n`, status: 400 },
  { name: 'Content-Length beyond 2^53', raw: `POST / HTTP/1.1\r\n${H}Content-Length: 99999999999999999999\r\n\r\n`, status: 400 },

  // Field lines (RFC 9112 §5, RFC 9110 §5.5)
  { name: 'obs-fold continuation line', raw: `${GET}${H}X-Folded: a\r\n b\r\n\r\n`, status: 400 },
  { name: 'NUL in a field value', raw: `${GET}${H}X-Bad: a\x00b\r\n\r\n`, status: 400 },
  { name: '\\x01 in a field value', raw: `${GET}${H}X-Bad: a\x01b\r\n\r\n`, status: 400 },
  { name: 'DEL in a field value', raw: `${GET}${H}X-Bad: a\x7fb\r\n\r\n`, status: 400 },
  { name: 'bare CR inside a field value', raw: `${GET}${H}X-Bad: a\rb\r\n\r\n`, status: 400 },
  { name: 'bare LF ending a field line', raw: `${GET}${H}X-Bad: a\nX-Next: b\r\n\r\n`, status: 400 },
  { name: 'bare LF ending the request-line', raw: `GET / HTTP/1.1\n${H}\r\n`, status: 400 },
  { name: 'bare LFs ending the whole head', raw: 'GET / HTTP/1.1\nHost: example.com\n\n', status: 400 },
  { name: 'empty field name', raw: `${GET}${H}: value\r\n\r\n`, status: 400 },
  { name: 'field name with a brace', raw: `${GET}${H}X{Foo: b\r\n\r\n`, status: 400 },
  { name: 'field line without a colon', raw: `${GET}${H}NoColonHere\r\n\r\n`, status: 400 },
  { name: 'tab before the colon', raw: `${GET}${H}X-Tab\t: b\r\n\r\n`, status: 400 },

  // Host (RFC 9112 §3.2)
  { name: 'two Host fields', raw: `${GET}Host: a.example\r\nHost: b.example\r\n\r\n`, status: 400 },
  { name: 'HTTP/1.1 without Host', raw: `${GET}Accept: */*\r\n\r\n`, status: 400 },
  { name: 'Host with a space inside', raw: `${GET}Host: exa mple.com\r\n\r\n`, status: 400 },
  { name: 'Host with userinfo', raw: `${GET}Host: user@example.com\r\n\r\n`, status: 400 },
  { name: 'Host with a path', raw: `${GET}Host: example.com/evil\r\n\r\n`, status: 400 },
  { name: 'two Host fields on HTTP/1.0', raw: 'GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n', status: 400 },

  // Request-line (RFC 9112 §3)
  { name: 'two spaces after the method', raw: `GET  / HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'two spaces after the method, and a field line without the space after its colon', raw: 'GET  / HTTP/1.1\r\nHost:example.com\r\n\r\n', status: 400 },
  { name: 'space after the version', raw: `GET / HTTP/1.1 \r\n${H}\r\n`, status: 400 },
  { name: 'space before the method', raw: ` GET / HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'lower-case http/1.1', raw: `GET / http/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'HTTP/1.2', raw: `GET / HTTP/1.2\r\n${H}\r\n`, status: 505 },
  { name: 'HTTP/2.0', raw: `GET / HTTP/2.0\r\n${H}\r\n`, status: 505 },
  { name: 'HTTP/0.9 request-line without a version', raw: 'GET /\r\n\r\n', status: 400 },
  { name: 'method with a parenthesis', raw: `GE(T / HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'NUL in the request-line', raw: `GET /a\x00b HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'too many empty lines before the request-line', raw: '\r\n'.repeat(40) + `GET / HTTP/1.1\r\n${H}\r\n`, status: 400 },

  // Request-target (RFC 9112 §3.2, RFC 3986)
  { name: 'absolute-form with the ftp scheme', raw: `GET ftp://example.com/file HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'absolute-form with userinfo', raw: `GET http://user:pass@example.com/ HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'absolute-form with an empty host', raw: `GET http:///path HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'asterisk-form with GET', raw: `GET * HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'authority-form with GET', raw: `GET example.com:443 HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'CONNECT with an origin-form target', raw: `CONNECT / HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'relative target', raw: `GET foo/bar HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'bad percent-encoding %zz', raw: `GET /a%zz HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'truncated percent-encoding %4', raw: `GET /a%4 HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'tab in the target', raw: `GET /a\tb HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'DEL in the target', raw: `GET /a\x7fb HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'control character in the fragment', raw: `GET /a#b\x01c HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'bad percent-encoding in the fragment', raw: `GET /a#%zz HTTP/1.1\r\n${H}\r\n`, status: 400 },
  { name: 'bad percent-encoding after raw bytes', raw: `GET /caf\xc3\xa9%e HTTP/1.1\r\n${H}\r\n`, status: 400 },

  // Limits (defaults: request-line 4094, 100 fields, 8190 per field line)
  { name: 'request-line one byte over the limit', raw: `GET /${'a'.repeat(4094 - 'GET / HTTP/1.1'.length + 1)} HTTP/1.1\r\n${H}\r\n`, status: 414 },
  { name: 'field line one byte over the limit (8191 bytes with its CRLF)', raw: `${GET}${H}X-Big: ${'b'.repeat(8190 - 'X-Big: '.length - 1)}\r\n\r\n`, status: 431 },
  { name: 'one field more than the limit', raw: GET + H + Array.from({ length: 100 }, (_, i) => `X-F${i}: v\r\n`).join('') + '\r\n', status: 431 },

  // Expect (RFC 9110 §10.1.1)
  { name: 'Expect other than 100-continue', raw: `${GET}${H}Expect: 200-ok\r\n\r\n`, status: 417 },

  // Chunked bodies (RFC 9112 §7.1): these fail after the head was accepted
  { name: 'chunk size with 0x prefix', raw: `${CHUNKED_HEAD}0x5\r\nhello\r\n0\r\n\r\n`, status: 400 },
  { name: 'negative chunk size', raw: `${CHUNKED_HEAD}-1\r\nx\r\n0\r\n\r\n`, status: 400 },
  { name: 'chunk size with a leading space', raw: `${CHUNKED_HEAD} 5\r\nhello\r\n0\r\n\r\n`, status: 400 },
  { name: 'chunk size with a trailing space', raw: `${CHUNKED_HEAD}5 \r\nhello\r\n0\r\n\r\n`, status: 400 },
  { name: 'chunk size beyond 2^53', raw: `${CHUNKED_HEAD}ffffffffffffffffff\r\nhello\r\n0\r\n\r\n`, status: 400 },
  { name: 'chunk data without its CRLF', raw: `${CHUNKED_HEAD}5\r\nhelloXX0\r\n\r\n`, status: 400 },
  { name: 'chunk data followed by bare LF', raw: `${CHUNKED_HEAD}5\r\nhello\n0\r\n\r\n`, status: 400 },
  { name: 'chunk-size line ended by bare LF', raw: `${CHUNKED_HEAD}5\nhello\r\n0\r\n\r\n`, status: 400 },
  { name: 'chunk-ext without a name', raw: `${CHUNKED_HEAD}5;=x\r\nhello\r\n0\r\n\r\n`, status: 400 },
  { name: 'Content-Length as a trailer', raw: `${CHUNKED_HEAD}5\r\nhello\r\n0\r\nContent-Length: 5\r\n\r\n`, status: 400 },
  { name: 'Host as a trailer', raw: `${CHUNKED_HEAD}5\r\nhello\r\n0\r\nHost: evil.example\r\n\r\n`, status: 400 },
  { name: 'Transfer-Encoding as a trailer', raw: `${CHUNKED_HEAD}5\r\nhello\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n`, status: 400 },
  { name: 'Trailer as a trailer', raw: `${CHUNKED_HEAD}0\r\nTrailer: X-A\r\n\r\n`, status: 400 },
  { name: 'Connection as a trailer', raw: `${CHUNKED_HEAD}0\r\nConnection: close\r\n\r\n`, status: 400 },
  { name: 'Authorization as a trailer after an allowed one', raw: `${CHUNKED_HEAD}0\r\nContent-Type: text/plain\r\nAuthorization: Basic eDp5\r\n\r\n`, status: 400 },
  { name: 'Cookie as a trailer', raw: `${CHUNKED_HEAD}0\r\nCookie: session=stolen\r\n\r\n`, status: 400 },
  { name: 'obs-fold in a trailer', raw: `${CHUNKED_HEAD}0\r\nX-T: a\r\n b\r\n\r\n`, status: 400 },
];

/** INVALID cases whose head is valid, so the parser reports HEAD before it refuses the body. */
export const FAILS_AFTER_HEAD: ReadonlySet<string> = new Set(
  INVALID.filter((c) => c.raw.startsWith(CHUNKED_HEAD)).map((c) => c.name),
);

/**
 * How a case's bytes are sent to a server: in one write, one byte per write, pipelined (a valid
 * case three times over, an invalid one after a valid request with a body), or pipelined and cut
 * after each head, so that every head arrives in a read of its own and each body with the next head.
 */
export type Delivery = 'whole' | 'byte by byte' | 'pipelined' | 'cut after each head';
export const DELIVERIES: readonly Delivery[] = ['whole', 'byte by byte', 'pipelined', 'cut after each head'];

/**
 * Where the node engine (`--http node`) answers a case differently from the tsgi engine, and why:
 * the one list of exceptions. The key is a case name from VALID or INVALID; `deliveries` says
 * which ways of sending it differ (all of them when absent). test/e2e/differential.test.ts and
 * test/e2e/protocol.test.ts check that nothing else differs and that every entry still does (an
 * entry that stops differing fails until it is removed). docs/engines.md explains each one.
 */
export interface EngineDifference {
  reason: string;
  deliveries?: readonly Delivery[];
}

export const NODE_ENGINE_DIFFERENCES: ReadonlyMap<string, EngineDifference> = new Map<string, EngineDifference>([
  [
    'two spaces after the method, and a field line without the space after its colon',
    {
      reason:
        'llhttp reads "GET  /" as "GET /" and says nothing of it; the node engine notices a head that is not in the usual layout only by its length, and here the missing space after "Host:" makes up for the extra one in the request-line, so the request is served as llhttp read it',
      // One byte per write, the head spans reads, which always goes to the sans-IO parser.
      deliveries: ['whole', 'pipelined', 'cut after each head'],
    },
  ],
]);

/** Whether the node engine is listed as answering `name`, sent as `delivery`, unlike the tsgi engine. */
export function nodeEngineDiffers(name: string, delivery: Delivery): boolean {
  const entry = NODE_ENGINE_DIFFERENCES.get(name);
  return entry !== undefined && (entry.deliveries === undefined || entry.deliveries.includes(delivery));
}
