/**
 * The same bytes sent to both engines: every case of the protocol corpus, valid and invalid, in one
 * write, one byte per write, and pipelined, must get the same answer from `--http node` as from
 * `--http tsgi`: the same statuses, the same heads and framing byte for byte (Date aside), the same
 * environ echoed by the app, the same close. The only exceptions are the corpus's
 * NODE_ENGINE_DIFFERENCES, each of which must still differ.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTsgi, stopAll, type RunningServer } from '../helpers/server.js';
import { openRaw } from '../helpers/raw.js';
import { gapFor, piecesFor, transcript, type Transcript } from '../helpers/transcript.js';
import { DELIVERIES, INVALID, NODE_ENGINE_DIFFERENCES, VALID, nodeEngineDiffers, type CorpusCase, type Delivery } from '../corpus/requests.js';

afterAll(stopAll);

/** Requests beyond the corpus that exercise the environ: decoding, absolute form, duplicates. */
const EXTRA: CorpusCase[] = [
  'GET /echo/%E2%82%AC/a%2Fb?q=%E2%82%AC&x HTTP/1.1\r\nHost: h\r\n\r\n',
  'GET /echo/%FF%FE HTTP/1.1\r\nHost: h\r\n\r\n',
  'GET http://example.com:8080/echo/abs?y=1 HTTP/1.1\r\nHost: ignored\r\n\r\n',
  'POST /echo HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\na=1&b=2',
  'GET /echo HTTP/1.1\r\nHost: h\r\nX-Obs: caf\xe9\r\nX-Empty:\r\nX-Spaces:   padded   \r\n\r\n',
  'GET /echo HTTP/1.1\r\nHost: h\r\nAccept: a\r\nACCEPT: b\r\naccept: c\r\n\r\n',
  'GET /echo HTTP/1.1\r\nHost:h\r\nX-No-Space:v\r\n\r\n',
  'POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc\r\nGET /after-crlf HTTP/1.1\r\nHost: h\r\n\r\n',
  // An Upgrade the app does not take: answered as an ordinary request (node:http hands the
  // connection over as 'upgrade' after its head).
  'GET /echo/up HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n',
  'GET /echo/first HTTP/1.1\r\nHost: h\r\n\r\nGET /echo/up HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n',
  'POST /echo/up HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade: websocket\r\nContent-Length: 3\r\n\r\nabc',
  'GET /echo/up HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\nUpgrade:  websocket\r\n\r\n',
  // The head bytes llhttp cannot account for (no space after 27 colons) make up exactly for a
  // refused request after it: the refusal must not depend on the arithmetic.
  `GET /echo HTTP/1.1\r\nHost:h\r\n${Array.from({ length: 26 }, (_, i) => `X${String.fromCharCode(97 + i)}:v\r\n`).join('')}\r\nGET * HTTP/1.1\r\nHost: h\r\n\r\n`,
].map((raw, i) => ({ name: `extra ${i}: ${JSON.stringify(raw.slice(0, 40))}`, raw, requests: [] }));

const BEFORE = 'POST /echo/before HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\na b c';

/** A valid case is pipelined with itself; an invalid one comes after a valid request. */
function pipeline(c: CorpusCase): (raw: string) => string {
  return c.status === undefined ? (raw) => raw.repeat(3) : (raw) => BEFORE + raw;
}

const PIPELINED: readonly Delivery[] = ['pipelined', 'cut after each head'];

async function both(servers: RunningServer[], c: CorpusCase, delivery: Delivery): Promise<Transcript[]> {
  const pieces = piecesFor(c.raw, delivery, pipeline(c));
  // A valid case: as many responses as it holds requests; an invalid one: until the server closes.
  const want = c.status !== undefined ? undefined : (c.raw.match(/ HTTP\/1\.[01]\r\n/g) ?? ['']).length * (PIPELINED.includes(delivery) ? 3 : 1);
  return Promise.all(servers.map((s) => transcript(s.port, pieces, { responses: want, gapMs: gapFor(delivery) })));
}

/** Sends every case both ways and checks that the engines differ exactly where the corpus says. */
async function compare(servers: RunningServer[], cases: CorpusCase[], delivery: Delivery, listed: (c: CorpusCase) => boolean): Promise<number> {
  let same = 0;
  for (const c of cases) {
    const [tsgi, node] = await both(servers, c, delivery);
    const differs = tsgi!.text !== node!.text || tsgi!.closed !== node!.closed;
    if (listed(c)) {
      expect.soft(differs, `${c.name} (${delivery}) is listed in NODE_ENGINE_DIFFERENCES but both engines answer alike now: remove the entry`).toBe(true);
    } else {
      expect.soft({ text: node!.text, closed: node!.closed }, `${c.name} (${delivery}): node engine vs tsgi engine`).toEqual({ text: tsgi!.text, closed: tsgi!.closed });
      if (!differs) same++;
    }
    // Every case is answered at all (a transcript of nothing would compare equal and prove nothing).
    expect.soft(tsgi!.responses, `${c.name} (${delivery}): the tsgi engine answers`).toBeGreaterThan(0);
  }
  return same;
}

describe('the node engine answers what the tsgi engine answers', () => {
  let servers: RunningServer[];

  beforeAll(async () => {
    servers = await Promise.all(['tsgi', 'node'].map((engine) => startTsgi({ args: ['--http', engine, '--workers', '1', 'test/fixtures/apps/echo:app'] })));
    // Masking the port keeps lengths only when both ports have as many digits.
    expect(String(servers[0]!.port).length).toBe(String(servers[1]!.port).length);
  });

  it('lists only cases that exist', () => {
    const names = new Set([...VALID, ...INVALID].map((c) => c.name));
    for (const name of NODE_ENGINE_DIFFERENCES.keys()) expect(names.has(name), name).toBe(true);
  });

  describe.each(DELIVERIES)('sent %s', (delivery) => {
    it('valid requests: the same responses and environ', async () => {
      const same = await compare(servers, [...VALID, ...EXTRA], delivery, (c) => nodeEngineDiffers(c.name, delivery));
      expect(same).toBeGreaterThanOrEqual(VALID.length - NODE_ENGINE_DIFFERENCES.size);
    }, 60_000);

    it('invalid requests: the same refusals', async () => {
      const same = await compare(servers, INVALID, delivery, (c) => nodeEngineDiffers(c.name, delivery));
      expect(same).toBeGreaterThanOrEqual(INVALID.length - NODE_ENGINE_DIFFERENCES.size);
    }, 60_000);
  });
});

/** The limits settings, set low, on both engines: the same requests pass and fail at the same byte. */
describe('the node engine follows the limit settings with the tsgi engine statuses', () => {
  const LINE = 64;
  const FIELDS = 4;
  const FIELD_SIZE = 40;
  let servers: RunningServer[];

  const line = (extra: number): string => `GET /${'a'.repeat(LINE - 'GET / HTTP/1.1'.length + extra)} HTTP/1.1\r\nHost: h\r\n\r\n`;
  const fields = (n: number): string => `GET / HTTP/1.1\r\nHost: h\r\n${Array.from({ length: n - 1 }, (_, i) => `X-F${i}: v\r\n`).join('')}\r\n`;
  // A field line of `size` bytes counted with its CRLF; `ows` of them are spaces around the value.
  const field = (size: number, ows = 1): string => `GET / HTTP/1.1\r\nHost: h\r\nX-L:${' '.repeat(ows)}${'v'.repeat(size - 'X-L:'.length - ows - 2)}\r\n\r\n`;
  const trailer = (size: number): string =>
    `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-T: ${'t'.repeat(size - 'X-T: '.length - 2)}\r\n\r\n`;
  const CASES: [string, string][] = [
    ['request-line at the limit', line(0)],
    ['request-line one byte over', line(1)],
    ['as many fields as the limit', fields(FIELDS)],
    ['one field over the limit', fields(FIELDS + 1)],
    ['a field line at the limit', field(FIELD_SIZE)],
    ['a field line one byte over', field(FIELD_SIZE + 1)],
    ['a field line without the space after the colon, at the limit', field(FIELD_SIZE, 0)],
    ['a field line over the limit only by the whitespace around its value', field(FIELD_SIZE + 1, 6)],
    ['a trailer field at the limit', trailer(FIELD_SIZE)],
    ['a trailer field one byte over', trailer(FIELD_SIZE + 1)],
  ];

  beforeAll(async () => {
    const limits = ['--limit-request-line', String(LINE), '--limit-request-fields', String(FIELDS), '--limit-request-field-size', String(FIELD_SIZE)];
    servers = await Promise.all(['tsgi', 'node'].map((engine) => startTsgi({ args: ['--http', engine, '--workers', '1', ...limits, 'test/fixtures/apps/echo:app'] })));
  });

  it.each(DELIVERIES)('sent %s', async (delivery) => {
    const cases = CASES.map(([name, raw]) => ({ name, raw, requests: [{}] }) as CorpusCase);
    expect(await compare(servers, cases, delivery, () => false)).toBe(CASES.length);
  });
});

/**
 * The node engine hands a connection to the sans-IO parser only for what llhttp cannot be trusted
 * with; everything else stays on llhttp (node:http's fast path). Without this, an engine that
 * handed every connection over would pass every comparison above. The debug log names each hand-over.
 */
describe('the node engine keeps llhttp for what llhttp reads as tsgi does', () => {
  /** The valid cases, sent whole, that llhttp may read otherwise (chunked bodies, whitespace, what llhttp refuses). */
  const HANDED_OVER = new Set([
    'chunked body with extensions and a trailer',
    'chunked with upper-case hex, leading zeros and a case-insensitive coding name',
    'pipelined POST, chunked PUT and GET',
    'empty lines before the request-line are ignored',
    'OWS around field values is removed, inner whitespace kept',
    'bytes 0x80-0xFF in the target (UTF-8 and latin1 sent raw)',
    'absolute-form with a fragment and raw bytes',
    'trailer fields not about framing, routing or authentication are kept as trailers',
    'chunk-ext with whitespace around ";" and "=" (BWS)',
    'a method token no registry knows',
    'HTTP/1.0 request pipelined after another in one packet: only the first is served',
    'Connection: close request pipelined before another: only the first is served',
  ]);
  let server: RunningServer;
  const handovers = (): number => (server.output().match(/goes to the sans-IO parser/g) ?? []).length;

  /** Hand-overs while sending `pieces` (the log line may trail the response a little). */
  async function handoversFor(pieces: Buffer[], responses: number, gapMs?: number): Promise<number> {
    const before = handovers();
    await transcript(server.port, pieces, { responses, gapMs });
    await new Promise((r) => setTimeout(r, 60));
    return handovers() - before;
  }

  beforeAll(async () => {
    server = await startTsgi({ args: ['--http', 'node', '--workers', '1', '--log-level', 'debug', 'test/fixtures/apps/echo:app'] });
  });

  it('every valid case sent whole: llhttp, or the sans-IO parser only where it must', async () => {
    for (const name of HANDED_OVER) expect(VALID.some((c) => c.name === name), name).toBe(true);
    for (const c of VALID) {
      const n = await handoversFor([Buffer.from(c.raw, 'latin1')], c.requests!.length);
      expect.soft(n, `${c.name}: ${HANDED_OVER.has(c.name) ? 'handed over once' : 'read by llhttp'}`).toBe(HANDED_OVER.has(c.name) ? 1 : 0);
    }
  });

  it('a Content-Length body in reads of its own, with pipelined requests after it, stays on llhttp', async () => {
    const post = 'POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n';
    const pieces = [post, 'hello', ' world', post + 'hello world', `GET /echo HTTP/1.1\r\nHost: h\r\n\r\n`].map((p) => Buffer.from(p, 'latin1'));
    expect(await handoversFor(pieces, 3, 20)).toBe(0);
  });

  it('a head split across reads goes to the sans-IO parser, after the requests before it', async () => {
    const get = 'GET /echo HTTP/1.1\r\nHost: h\r\n\r\n';
    const pieces = [get + get, 'GET /echo HT', 'TP/1.1\r\nHost: h\r\n\r\n'].map((p) => Buffer.from(p, 'latin1'));
    expect(await handoversFor(pieces, 3, 20)).toBe(1);
  });

  it('a connection handed over lets go of its llhttp parser for good, though node:http gives it to the next connection', async () => {
    // node:http pools its parsers (the last freed is the next used): B gets the parser A let go of.
    const a = await openRaw(server.port);
    a.write('GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n');
    await a.until((d) => d.includes('"body":""}'));
    const b = await openRaw(server.port);
    b.write('POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n');
    await new Promise((r) => setTimeout(r, 50));
    // A closing must not undo B's hooks on what was A's parser.
    a.destroy();
    await new Promise((r) => setTimeout(r, 50));
    b.write('abcde');
    await new Promise((r) => setTimeout(r, 50));
    b.write('fghijGET /echo/next HTTP/1.1\r\nHost: h\r\n\r\n');
    const got = await b.until((d) => d.includes('/echo/next'), 3000);
    b.destroy();
    expect(got).toContain('"body":"abcdefghij"');
  });
});
