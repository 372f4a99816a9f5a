/**
 * The MUSTs TSGI 1.1 adds (docs/spec.md §1.6), checked on a real tsgi server on both engines with
 * raw sockets: the bytes on the wire, the connection's fate, and what the app observed (the app
 * test/fixtures/apps/spec11.js reports it through tsgi.errors as "SPEC11 <id> <what>").
 */
import { afterAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { BIN, ROOT, startTsgi, stopAll, type RunningServer } from '../helpers/server.js';
import { parseResponses, rawRequest, type ParsedResponse } from '../helpers/raw.js';
import { until } from '../helpers/wait.js';

type Engine = 'tsgi' | 'node';
const ENGINES: Engine[] = ['tsgi', 'node'];
const APP = 'test/fixtures/apps/spec11:app';

afterAll(stopAll);

// --- Servers, started once per engine and configuration ---------------------------------------------

interface Ctx {
  engine: Engine;
  /** The server with the default settings and one worker. */
  main(): Promise<RunningServer>;
  /** A server started with extra arguments (memoized by them). */
  with(...args: string[]): Promise<RunningServer>;
  /** A server bound to [::]:0, reached as 127.0.0.1 (an IPv4 client on an IPv6 socket). */
  dualStack(): Promise<{ port: number; output(): string }>;
}

function context(engine: Engine): Ctx & { stop(): Promise<void> } {
  const servers = new Map<string, Promise<RunningServer>>();
  const extra: ChildProcess[] = [];
  let dual: Promise<{ port: number; output(): string }> | undefined;
  const withArgs = (...args: string[]): Promise<RunningServer> => {
    const key = args.join(' ');
    let server = servers.get(key);
    if (server === undefined) {
      server = startTsgi({ args: ['--http', engine, '--workers', '1', ...args, APP] });
      servers.set(key, server);
    }
    return server;
  };
  return {
    engine,
    main: () => withArgs(),
    with: withArgs,
    dualStack() {
      dual ??= new Promise((resolve, reject) => {
        const proc = spawn(process.execPath, [BIN, '--http', engine, '--workers', '1', '--bind', '[::]:0', APP], {
          cwd: ROOT,
          env: { ...process.env, TSGI_LOG_FORMAT: 'json' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        extra.push(proc);
        let out = '';
        const timer = setTimeout(() => reject(new Error(`the [::] server did not start:\n${out}`)), 15_000);
        const onData = (d: Buffer): void => {
          out += d.toString();
          const port = /Listening at: http:\/\/\[::\]:(\d+)/.exec(out);
          if (port !== null && /Worker ready/.test(out)) {
            clearTimeout(timer);
            resolve({ port: Number(port[1]), output: () => out });
          }
        };
        proc.stdout!.on('data', onData);
        proc.stderr!.on('data', onData);
      });
      return dual;
    },
    async stop() {
      await Promise.all([...servers.values()].map(async (s) => (await s.catch(() => null))?.stop()));
      for (const proc of extra) {
        if (proc.exitCode === null && proc.signalCode === null) {
          proc.kill('SIGKILL');
          await new Promise((resolve) => proc.once('exit', resolve));
        }
      }
    },
  };
}

// --- Raw HTTP helpers ------------------------------------------------------------------------------------

function get(path: string, extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: spec.test\r\n${extra}\r\n`;
}

/**
 * Sends one request and returns its answer. With `untilClose`, waits for the server to close the
 * connection (at most 5 s) so that `closed` says whether it did; otherwise stops at the response.
 */
async function one(port: number, payload: string | Buffer | (string | Buffer)[], untilClose = false): Promise<{ response: ParsedResponse; raw: string; closed: boolean }> {
  const result = await rawRequest(port, payload, untilClose ? { timeoutMs: 5000 } : { responses: 1, timeoutMs: 5000 });
  expect(result.responses.length, result.data.toString('latin1')).toBeGreaterThan(0);
  return { response: result.responses[0]!, raw: result.data.toString('latin1'), closed: result.closed };
}

async function json(port: number, payload: string): Promise<Record<string, unknown>> {
  const { response } = await one(port, payload);
  expect(response.status, response.body.toString()).toBe(200);
  return JSON.parse(response.body.toString()) as Record<string, unknown>;
}

/** A connection driven step by step: send, wait for bytes, see whether the server closed it. */
function session(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  let data = Buffer.alloc(0);
  let closed = false;
  socket.on('data', (d) => (data = Buffer.concat([data, d])));
  socket.on('error', () => {});
  socket.on('close', () => (closed = true));
  return {
    send: (bytes: string) => socket.write(Buffer.from(bytes, 'latin1')),
    text: () => data.toString('latin1'),
    closed: () => closed,
    async until(pattern: RegExp, what: string) {
      await until(() => pattern.test(data.toString('latin1')) || closed, what, { timeoutMs: 5000 });
      expect(data.toString('latin1')).toMatch(pattern);
    },
    async closing() {
      await until(() => closed, 'the server to close the connection', { timeoutMs: 5000 });
    },
    destroy: () => socket.destroy(),
  };
}

let nextId = 0;
const id = (): string => `r${++nextId}`;

/** The marks "SPEC11 <id> <what>" the app wrote for request `rid`, in order. */
function marks(output: string, rid: string): string[] {
  const found: string[] = [];
  const re = new RegExp(`SPEC11 ${rid} ([^"\\\\\\n]*)`, 'g');
  for (let m = re.exec(output); m !== null; m = re.exec(output)) found.push(m[1]!.trim());
  return found;
}

async function marksAfter(server: { output(): string }, rid: string, count: number): Promise<string[]> {
  await until(() => marks(server.output(), rid).length >= count, `${count} marks from request ${rid}`, { timeoutMs: 5000 }).catch(() => {});
  return marks(server.output(), rid);
}

/** spec §8.6: what every server-generated answer looks like. */
function expectServerAnswer(result: { response: ParsedResponse; raw: string; closed: boolean }, status: number, closes = true): void {
  const { response } = result;
  expect(response.status, result.raw).toBe(status);
  expect(response.header('content-type'), result.raw).toBe('text/plain; charset=utf-8');
  const body = response.body.toString('utf8');
  expect(body, result.raw).toMatch(/^[^\r\n]+\n?$/);
  if (closes) {
    expect(response.header('connection')?.toLowerCase(), result.raw).toBe('close');
    expect(result.closed, result.raw).toBe(true);
  }
}

// --- The MUSTs, one entry per rule -------------------------------------------------------------------------

type Check = (ctx: Ctx) => Promise<void>;
/** A rule: a short id (what NEEDS_DRIVER lists), what it checks, and the check. */
type Must = [id: string, name: string, check: Check];

const REFUSALS: [string, string, string, number][] = [
  ['refuse-request-line', 'a request-line that is not three parts', 'GET /a b HTTP/1.1\r\nHost: t\r\n\r\n', 400],
  ['refuse-asterisk', 'the asterisk-form with GET', 'GET * HTTP/1.1\r\nHost: t\r\n\r\n', 400],
  ['refuse-expect', 'an expectation other than 100-continue', 'GET / HTTP/1.1\r\nHost: t\r\nExpect: teapot\r\n\r\n', 417],
  ['refuse-final-coding', 'a Transfer-Encoding whose last coding is not chunked', 'POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n', 400],
  ['refuse-coding', 'a transfer coding other than chunked', 'POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n', 501],
  ['refuse-connect', 'CONNECT', 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', 501],
  ['refuse-framing', 'Content-Length with Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
  ['refuse-line-limit', 'a request-line longer than --limit-request-line', `GET /${'a'.repeat(5000)} HTTP/1.1\r\nHost: t\r\n\r\n`, 414],
  ['refuse-field-limit', 'more fields than --limit-request-fields', `GET / HTTP/1.1\r\nHost: t\r\n${'X-A: 1\r\n'.repeat(101)}\r\n`, 431],
  ['refuse-major-version', 'a major version other than 1', 'GET / HTTP/2.0\r\nHost: t\r\n\r\n', 505],
  ['refuse-minor-version', 'HTTP/1.2, a minor version this server does not know', 'GET / HTTP/1.2\r\nHost: t\r\n\r\n', 505],
  ['app-error-500', 'an app error before the headers', get('/throw'), 500],
];

const MUSTS: Must[] = [
  // §3.6, §3.9, §5.7
  [
    'environ-1.1',
    'the environ is TSGI 1.1: tsgi.version [1, 1], an own enumerable AbortSignal in tsgi.signal, tsgi.early_hints',
    async ({ main }) => {
      const env = await json((await main()).port, get('/env'));
      expect(env.version).toEqual([1, 1]);
      expect(env.signal).toEqual({ isAbortSignal: true, aborted: false, enumerable: true });
      expect(env.signalKey).toEqual({ assigned: true, deleted: true });
      expect(env.earlyHints).toBe('function');
      expect(env.upgrade).toBe('undefined');
    },
  ],
  [
    'no-abort-after-complete',
    'tsgi.signal is never aborted once the response is complete, also when the client then leaves',
    async ({ main }) => {
      const server = await main();
      const rid = id();
      const { response } = await one(server.port, get(`/late-abort?id=${rid}`, 'Connection: close\r\n'));
      expect(response.body.toString()).toBe('signal');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(marks(server.output(), rid)).toEqual([]);
    },
  ],
  [
    'multiprocess',
    'tsgi.multiprocess is true on the pre-fork server, also with one worker',
    async ({ main }) => {
      expect((await json((await main()).port, get('/env'))).multiprocess).toBe(true);
    },
  ],
  // §3.5
  [
    'server-name-from-host',
    "SERVER_NAME and SERVER_PORT come from Host; without a port in Host, the scheme's port",
    async ({ main }) => {
      const port = (await main()).port;
      const named = await json(port, 'GET /env HTTP/1.1\r\nHost: Example.COM:8081\r\n\r\n');
      expect([named.SERVER_NAME, named.SERVER_PORT]).toEqual(['Example.COM', '8081']);
      const bare = await json(port, 'GET /env HTTP/1.1\r\nHost: example.com\r\n\r\n');
      expect([bare.SERVER_NAME, bare.SERVER_PORT]).toEqual(['example.com', '80']);
      const v6 = await json(port, 'GET /env HTTP/1.1\r\nHost: [::1]:9\r\n\r\n');
      expect([v6.SERVER_NAME, v6.SERVER_PORT]).toEqual(['[::1]', '9']);
      const absolute = await json(port, 'GET http://other.example:7/env HTTP/1.1\r\nHost: example.com\r\n\r\n');
      expect([absolute.SERVER_NAME, absolute.SERVER_PORT]).toEqual(['other.example', '7']);
    },
  ],
  [
    'ipv4-mapped',
    'on an IPv6 socket an IPv4 client is REMOTE_ADDR 127.0.0.1, and without Host SERVER_NAME is the local address, not ::',
    async ({ dualStack }) => {
      const server = await dualStack();
      const env = await json(server.port, 'GET /env HTTP/1.0\r\n\r\n');
      expect(env.REMOTE_ADDR).toBe('127.0.0.1');
      expect(env.SERVER_NAME).toBe('127.0.0.1');
      expect(env.SERVER_PORT).toBe(String(server.port));
    },
  ],
  // §3.4: the request grammar
  [
    'field-value-grammar',
    'a field value holding DEL is refused with 400; obs-text is kept as latin1; OWS trimming is SP and HTAB only',
    async ({ main }) => {
      const port = (await main()).port;
      expectServerAnswer(await one(port, 'GET /env HTTP/1.1\r\nHost: t\r\nX-A: a\x7fb\r\n\r\n', true), 400);
      const env = await json(port, 'GET /env HTTP/1.1\r\nHost: t\r\nX-A: \t \xa0caf\xe9\xa0 \t\r\n\r\n');
      expect((env.http as Record<string, string>).HTTP_X_A).toBe('\u00a0caf\u00e9\u00a0');
    },
  ],
  [
    'duplicate-fields',
    'field names are compared case-insensitively: X-A and x-a join with ", ", Cookie with "; ", a repeated Content-Type joins as well',
    async ({ main }) => {
      const env = await json(
        (await main()).port,
        'GET /env HTTP/1.1\r\nHost: t\r\nX-A: 1\r\nx-a: 2\r\nCOOKIE: a=1\r\ncookie: b=2\r\nContent-Type: \r\ncontent-type: text/plain\r\n\r\n',
      );
      const http = env.http as Record<string, string>;
      expect(http.HTTP_X_A).toBe('1, 2');
      expect(http.HTTP_COOKIE).toBe('a=1; b=2');
      expect(env.CONTENT_TYPE).toBe(', text/plain');
    },
  ],
  [
    'repeated-framing-fields',
    'a repeated Content-Length is refused even when the values agree, and so is a repeated Host in another case',
    async ({ main }) => {
      const port = (await main()).port;
      expectServerAnswer(await one(port, 'POST /env HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\nx', true), 400);
      expectServerAnswer(await one(port, 'GET /env HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n', true), 400);
    },
  ],
  // §3.2
  [
    'unknown-method',
    'a method the server does not know reaches the app, or, where the parser knows a fixed list, gets 501',
    async ({ main }) => {
      const result = await one((await main()).port, 'FOO /env HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n', true);
      expect([200, 501], result.raw).toContain(result.response.status);
      if (result.response.status === 501) expectServerAnswer(result, 501);
    },
  ],
  // §3.3
  [
    'target-grammar',
    'a request-target with characters outside RFC 3986 reaches the app; a control, DEL or a stray "%" is refused with 400',
    async ({ main, engine }) => {
      const port = (await main()).port;
      const braces = await json(port, get('/env?a{b}'));
      expect(braces.QUERY_STRING).toBe('a{b}');
      // llhttp refuses raw bytes above 0x7F itself (docs/engines.md); the tsgi engine serves them.
      if (engine === 'tsgi') {
        const raw = await one(port, 'GET /caf\xc3\xa9 HTTP/1.1\r\nHost: t\r\n\r\n');
        expect(raw.response.body.toString()).toBe('no route /café');
      }
      expectServerAnswer(await one(port, 'GET /a\x7fb HTTP/1.1\r\nHost: t\r\n\r\n', true), 400);
      expectServerAnswer(await one(port, 'GET /a%zz HTTP/1.1\r\nHost: t\r\n\r\n', true), 400);
    },
  ],
  // §8.6: the table of server-generated answers
  ...REFUSALS.map(([rule, name, payload, status]): Must => [
    rule,
    `server-generated answer: ${name} gets ${status}, text/plain; charset=utf-8, one line, and the connection closes`,
    async ({ main }) => expectServerAnswer(await one((await main()).port, payload, true), status),
  ]),
  [
    'root-path-404',
    'a path outside --root-path is answered 404 without calling the app, and the connection stays open',
    async ({ with: withArgs }) => {
      const server = await withArgs('--root-path', '/mnt');
      const { responses, closed } = await rawRequest(server.port, get('/other?id=outside') + get('/mnt/env'), { responses: 2 });
      expect(responses[0]!.status).toBe(404);
      expect(responses[0]!.header('content-type')).toBe('text/plain; charset=utf-8');
      expect(closed).toBe(false);
      const env = JSON.parse(responses[1]!.body.toString()) as Record<string, unknown>;
      expect([env.SCRIPT_NAME, env.PATH_INFO]).toEqual(['/mnt', '/env']);
    },
  ],
  // §5.2
  [
    'reason-phrase',
    "startResponse('200') sends the standard reason phrase; an unknown code without one gets an empty reason",
    async ({ main }) => {
      const port = (await main()).port;
      expect((await one(port, get('/status?s=200'))).raw).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect((await one(port, get('/status?s=404'))).raw).toMatch(/^HTTP\/1\.1 404 Not Found\r\n/);
      expect((await one(port, get('/status?s=599'))).raw).toMatch(/^HTTP\/1\.1 599 \r\n/);
      expect((await one(port, get('/status?s=299%20'))).raw).toMatch(/^HTTP\/1\.1 299 \r\n/);
      expect((await one(port, get('/status?s=200%20Fine'))).raw).toMatch(/^HTTP\/1\.1 200 Fine\r\n/);
    },
  ],
  [
    'status-range',
    'a 1xx status or a code 600-999 from startResponse is answered 500',
    async ({ main }) => {
      const port = (await main()).port;
      for (const s of ['103%20Early%20Hints', '100%20Continue', '600%20Beyond', '999']) {
        const { response, raw } = await one(port, get(`/status?s=${s}`));
        expect(response.status, raw).toBe(500);
        expect(response.body.toString(), raw).not.toContain('status');
      }
    },
  ],
  [
    'status-line-version',
    'the status-line is HTTP/1.1, also to an HTTP/1.0 client',
    async ({ main }) => {
      expect((await one((await main()).port, 'GET /status?s=200%20OK HTTP/1.0\r\n\r\n')).raw).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    },
  ],
  // §5.3
  [
    'one-content-length',
    'a Content-Length the app repeats (05 and 5) is sent once, as 5',
    async ({ main }) => {
      const { raw, response } = await one((await main()).port, get('/double-length'));
      expect(raw.match(/\r\ncontent-length:/gi)).toHaveLength(1);
      expect(raw).toMatch(/\r\nContent-Length: 5\r\n/i);
      expect(response.body.toString()).toBe('hello');
    },
  ],
  // §5.4
  [
    'app-date',
    'an app-set Date is sent as given and is the only Date',
    async ({ main }) => {
      const { raw } = await one((await main()).port, get('/date'));
      expect(raw.match(/\r\ndate:/gi)).toHaveLength(1);
      expect(raw).toContain('\r\nDate: Tue, 01 Jan 2030 00:00:00 GMT\r\n');
    },
  ],
  // §6.3
  [
    'no-computed-length',
    'HEAD and 304 with an empty body get no Content-Length',
    async ({ main }) => {
      const port = (await main()).port;
      // Without a length a HEAD response's end is the connection's: the client asks it to close.
      const head = await one(port, 'HEAD /empty HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n', true);
      expect(head.response.header('content-length'), head.raw).toBeUndefined();
      const notModified = await one(port, get('/empty?s=304%20Not%20Modified'));
      expect(notModified.response.header('content-length'), notModified.raw).toBeUndefined();
    },
  ],
  // §5.7
  [
    'early-hints',
    '103 Early Hints go out before the final response on HTTP/1.1, and not at all on HTTP/1.0',
    async ({ main }) => {
      const port = (await main()).port;
      const { raw } = await one(port, get('/hints'));
      expect(raw).toMatch(/^HTTP\/1\.1 103 Early Hints\r\nLink: <\/style\.css>; rel=preload; as=style\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
      const old = await one(port, 'GET /hints HTTP/1.0\r\n\r\n');
      expect(old.raw).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    },
  ],
  [
    'early-hints-refused',
    'a hint value with CR LF makes tsgi.early_hints throw, and nothing of it is sent',
    async ({ main }) => {
      const { response, raw } = await one((await main()).port, get('/hints-bad'));
      expect(response.body.toString()).toMatch(/^threw /);
      expect(raw).not.toContain('X-Injected');
      expect(raw).not.toContain('103');
    },
  ],
  [
    'early-hints-late',
    'tsgi.early_hints after the head was sent throws TSGI_ERR_HEADERS_SENT',
    async ({ main }) => {
      const { response } = await one((await main()).port, get('/hints-late'));
      expect(response.body.toString()).toBe('first;code:TSGI_ERR_HEADERS_SENT');
    },
  ],
  // §6.3: Content-Length overflow and underflow
  [
    'overflow',
    'a body longer than its Content-Length: exactly the declared bytes, the body is not asked again, the connection closes',
    async ({ main }) => {
      const server = await main();
      const rid = id();
      const { data, closed } = await rawRequest(server.port, get(`/overflow?id=${rid}`) + get('/pid'));
      expect(closed).toBe(true);
      const responses = parseResponses(data, false);
      expect(responses).toHaveLength(1);
      expect(responses[0]!.body.toString()).toBe('hello');
      expect(data.toString('latin1').endsWith('\r\n\r\nhello')).toBe(true);
      expect(await marksAfter(server, rid, 1)).toEqual(['finally']);
    },
  ],
  [
    'overflow-write',
    'a write() past Content-Length rejects with TSGI_ERR_RESPONSE_ENDED after sending the bytes that fit',
    async ({ main }) => {
      const server = await main();
      const rid = id();
      const { data, closed } = await rawRequest(server.port, get(`/overflow-write?id=${rid}`));
      expect(closed).toBe(true);
      expect(parseResponses(data, false)[0]!.body.toString()).toBe('hello');
      expect(await marksAfter(server, rid, 1)).toEqual(['write-rejected TSGI_ERR_RESPONSE_ENDED']);
    },
  ],
  [
    'underflow',
    'a body shorter than its Content-Length: the connection closes after it and a pipelined request is not answered',
    async ({ main }) => {
      const { data, closed } = await rawRequest((await main()).port, get('/underflow') + get('/pid'));
      expect(closed).toBe(true);
      const text = data.toString('latin1');
      expect(text.endsWith('\r\n\r\nabc')).toBe(true);
      expect(text.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    },
  ],
  [
    'error-after-last-byte',
    'an error after every declared byte was sent: the response stands and the connection closes',
    async ({ main }) => {
      const { data, closed } = await rawRequest((await main()).port, get('/late-error') + get('/pid'));
      expect(closed).toBe(true);
      const responses = parseResponses(data, false);
      expect(responses.map((r) => [r.status, r.body.toString()])).toEqual([[200, 'hello']]);
    },
  ],
  // §4.1, §4.3
  [
    'read-sizes',
    'read(size): null, Infinity and negatives read any amount; 0, NaN and fractions reject with a RangeError',
    async ({ main }) => {
      const port = (await main()).port;
      const post = (size: string) => `POST /read-size?size=${size} HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello`;
      const answers: Record<string, string> = {};
      for (const size of ['3', 'undefined', 'null', 'Infinity', '-1', '0', 'NaN', '1.5', 'string:4']) {
        answers[size] = (await one(port, post(size))).response.body.toString();
      }
      expect(answers).toEqual({
        '3': 'ok:3',
        undefined: 'ok:5',
        null: 'ok:5',
        Infinity: 'ok:5',
        '-1': 'ok:5',
        '0': 'err:RangeError',
        NaN: 'err:RangeError',
        '1.5': 'err:RangeError',
        'string:4': 'err:TypeError',
      });
    },
  ],
  [
    'read-overlap',
    'a second read while one is pending rejects, and the first is unaffected',
    async ({ main }) => {
      const port = (await main()).port;
      const { response } = await one(port, ['POST /read-overlap HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n', 'hello']);
      expect(response.body.toString()).toMatch(/^first:[1-5] second:rejected:/);
    },
  ],
  // §4.5
  [
    'read-after-head',
    'a read after the head was sent sends no 100 Continue, and the connection closes after the response',
    async ({ main }) => {
      const conversation = session((await main()).port);
      conversation.send('POST /read-after-head HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n');
      await conversation.until(/head sent;/, 'the response head');
      conversation.send('abcd');
      await conversation.closing();
      expect(conversation.text()).not.toContain('100 Continue');
      const responses = parseResponses(Buffer.from(conversation.text(), 'latin1'), true);
      expect(responses.map((r) => r.body.toString())).toEqual(['head sent;read 4']);
    },
  ],
  // §4.8, §5.5
  [
    'read-after-end',
    'a read after the response ended rejects with TSGI_ERR_RESPONSE_ENDED',
    async ({ main }) => {
      const server = await main();
      const rid = id();
      await one(server.port, `POST /read-after-end?id=${rid} HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi`);
      expect(await marksAfter(server, rid, 1)).toEqual(['read-rejected TSGI_ERR_RESPONSE_ENDED']);
    },
  ],
  [
    'write-after-end',
    'write() after the response ended rejects with TSGI_ERR_RESPONSE_ENDED, and one nobody awaits does not take the worker down',
    async ({ main }) => {
      const server = await main();
      const rid = id();
      const before = (await one(server.port, get('/pid'))).response.body.toString();
      await one(server.port, get(`/write-after-end?id=${rid}`, 'Connection: close\r\n'));
      expect(await marksAfter(server, rid, 1)).toEqual(['write-rejected TSGI_ERR_RESPONSE_ENDED']);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect((await one(server.port, get('/pid'))).response.body.toString()).toBe(before);
    },
  ],
  // §3.9, §6.4
  [
    'client-gone',
    "the client leaves: tsgi.signal aborts with TSGI_ERR_CLIENT_GONE, the body's return() runs its finally, then close()",
    async ({ main }) => {
      const server = await main();
      const rid = id();
      const conversation = session(server.port);
      conversation.send(get(`/sse?id=${rid}`));
      await conversation.until(/data: hello/, 'the first event');
      conversation.destroy();
      expect(await marksAfter(server, rid, 3)).toEqual(['aborted TSGI_ERR_CLIENT_GONE', 'finally aborted=true', 'close']);
    },
  ],
  [
    'write-client-gone',
    'write() after the client left rejects with TSGI_ERR_CLIENT_GONE, the reason of tsgi.signal',
    async ({ main }) => {
      const server = await main();
      const rid = id();
      const conversation = session(server.port);
      conversation.send(get(`/write-loop?id=${rid}`));
      await conversation.until(/tick 1/, 'two ticks');
      conversation.destroy();
      expect(await marksAfter(server, rid, 1)).toEqual(['write-rejected TSGI_ERR_CLIENT_GONE signal=TSGI_ERR_CLIENT_GONE']);
    },
  ],
  [
    'request-timeout',
    '--request-timeout: 504, and tsgi.signal aborts with TSGI_ERR_REQUEST_TIMEOUT',
    async ({ with: withArgs }) => {
      const server = await withArgs('--request-timeout', '1');
      const rid = id();
      expectServerAnswer(await one(server.port, get(`/wait?id=${rid}`), true), 504);
      expect(await marksAfter(server, rid, 1)).toEqual(['aborted TSGI_ERR_REQUEST_TIMEOUT']);
    },
  ],
  [
    'malformed-body',
    'a malformed chunked body: 400, the read rejects with TSGI_ERR_HTTP_CHUNK, and tsgi.signal has that very error as its reason',
    async ({ main }) => {
      const server = await main();
      const rid = id();
      const result = await one(server.port, `POST /read-all?id=${rid} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n`, true);
      expectServerAnswer(result, 400);
      expect(await marksAfter(server, rid, 1)).toEqual(['read-rejected TSGI_ERR_HTTP_CHUNK signal=TSGI_ERR_HTTP_CHUNK same=true']);
    },
  ],
  // §7.4
  [
    'graceful-waits-for-requests',
    'a graceful stop waits for the close() of a request whose client left, then calls app.close()',
    async ({ engine }) => {
      const server = await startTsgi({ args: ['--http', engine, '--workers', '1', APP] });
      const rid = id();
      const conversation = session(server.port);
      conversation.send(get(`/slow-close?id=${rid}`));
      await conversation.until(/partial/, 'the first chunk');
      conversation.destroy();
      await new Promise((resolve) => setTimeout(resolve, 100));
      await server.stop('SIGTERM');
      const out = server.output();
      expect(marks(out, rid)).toEqual(['body-closed']);
      expect(out.indexOf(`SPEC11 ${rid} body-closed`)).toBeLessThan(out.indexOf('SPEC11 - app-closed'));
    },
  ],
];

describe.each(ENGINES)('TSGI 1.1 on the %s engine', (engine) => {
  const ctx = context(engine);
  afterAll(() => ctx.stop());
  for (const [rule, name, check] of MUSTS) it(`${rule}: ${name}`, () => check(ctx), 30_000);
});
