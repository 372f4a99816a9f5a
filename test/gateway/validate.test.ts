import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { TsgiError } from '../../src/errors.js';
import { Buffer } from 'node:buffer';
import type { App, Body, Chunk, Environ, ErrorStream, Header, InputStream, StartResponse, Write } from '../../src/gateway/types.js';
import { validate, ValidationError, type Culprit } from '../../src/gateway/validate.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const text = (chunk: Chunk): string => (typeof chunk === 'string' ? chunk : decoder.decode(chunk));

// --- A hand-built request: a valid environ whose input and errors follow spec §4 -------------------

interface RequestOptions {
  method?: string;
  body?: string[];
  chunked?: boolean;
  trailers?: Header[];
  /** The minor version the server declares: 1 (TSGI 1.1, the default) or 0. */
  minor?: 0 | 1;
}

interface BuiltRequest {
  environ: Environ;
  logged: string[];
  /** Aborts tsgi.signal as the server does when it abandons the request (spec §3.9). */
  abandon(code: 'TSGI_ERR_CLIENT_GONE' | 'TSGI_ERR_REQUEST_TIMEOUT' | 'TSGI_ERR_BODY_TIMEOUT'): void;
  controller: AbortController;
  /** The fields of every 103 the server sent (spec §5.7). */
  hints: Header[][];
}

/** What the hand-built server knows about a request while the recording server serves it. */
interface ServerSide {
  /** The response is over: reads and writes reject (spec §4.8, §5.5). */
  ended: boolean;
  /** The head of the final response went out (spec §5.7). */
  headSent: () => boolean;
}
const serverSide = new WeakMap<Environ, ServerSide>();

/**
 * tsgi.input over fixed parts, as spec §4.1 says a 1.1 server behaves: read(size) slices, an empty
 * array means the end, bad sizes and overlapping reads reject, reads after the response reject.
 */
function inputOf(parts: Uint8Array[], onEnd: () => void, side?: ServerSide, signal?: AbortSignal): InputStream {
  const queue = parts.filter((part) => part.length > 0);
  let busy = false;
  const take = (size?: number | null): Uint8Array => {
    const head = queue[0];
    if (head === undefined) {
      onEnd();
      return new Uint8Array(0);
    }
    if (size === undefined || size === null || size < 0 || head.length <= size) {
      queue.shift();
      return head;
    }
    queue[0] = head.subarray(size);
    return head.subarray(0, size);
  };
  const read = async (size?: number | null): Promise<Uint8Array> => {
    if (side !== undefined) {
      if (size !== undefined && size !== null && typeof size !== 'number') throw new TypeError('read(size): size is a number');
      if (size === 0 || Number.isNaN(size) || (typeof size === 'number' && size > 0 && size !== Infinity && !Number.isInteger(size))) {
        throw new RangeError(`read(${size}): pass a positive integer`);
      }
      if (signal?.aborted) throw signal.reason;
      if (side.ended) throw new TsgiError('TSGI_ERR_RESPONSE_ENDED', 'the response has ended');
      if (busy) throw new Error('a read is pending');
    }
    busy = true;
    await Promise.resolve();
    busy = false;
    return take(size);
  };
  return {
    read,
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const chunk = await read();
        if (chunk.length === 0) return;
        yield chunk;
      }
    },
  };
}

function request(options: RequestOptions = {}, overrides: Record<string, unknown> = {}): BuiltRequest {
  const minor = options.minor ?? 1;
  const parts = (options.body ?? []).map((part) => encoder.encode(part));
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  const logged: string[] = [];
  const hints: Header[][] = [];
  const controller = new AbortController();
  const side: ServerSide = { ended: false, headSent: () => false };
  const errors: ErrorStream = { write: (message) => void logged.push(message), flush: () => {} };
  const rawHeaders: Header[] = [['Host', 'localhost:8000']];
  if (options.chunked) rawHeaders.push(['Transfer-Encoding', 'chunked']);
  else if (parts.length > 0) rawHeaders.push(['Content-Length', String(length)]);
  const environ = {
    REQUEST_METHOD: options.method ?? 'GET',
    SCRIPT_NAME: '',
    PATH_INFO: '/hello',
    QUERY_STRING: 'a=1',
    CONTENT_TYPE: '',
    CONTENT_LENGTH: options.chunked || parts.length === 0 ? '' : String(length),
    SERVER_NAME: 'localhost',
    SERVER_PORT: '8000',
    SERVER_PROTOCOL: 'HTTP/1.1',
    SERVER_SOFTWARE: 'tsgi/0.1.0',
    REMOTE_ADDR: '127.0.0.1',
    REMOTE_PORT: '52100',
    RAW_URI: '/hello?a=1',
    HTTP_HOST: 'localhost:8000',
    'tsgi.version': [1, minor],
    'tsgi.url_scheme': 'http',
    'tsgi.input': inputOf(
      parts,
      () => {
        if (options.chunked) environ['tsgi.trailers'] = options.trailers ?? [];
      },
      minor === 1 ? side : undefined,
      controller.signal,
    ),
    'tsgi.errors': errors,
    'tsgi.multithread': false,
    'tsgi.multiprocess': false,
    'tsgi.run_once': false,
    'tsgi.input_terminated': true,
    'tsgi.raw_headers': rawHeaders,
  } as unknown as Environ;
  if (minor === 1) {
    environ['tsgi.signal'] = controller.signal;
    environ['tsgi.early_hints'] = (headers: Header[]) => {
      if (side.headSent()) throw new TsgiError('TSGI_ERR_HEADERS_SENT', 'the final head was sent');
      hints.push(headers);
    };
  }
  serverSide.set(environ, side);
  if (options.chunked) environ.HTTP_TRANSFER_ENCODING = 'chunked';
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete environ[key];
    else environ[key] = value;
  }
  const abandon: BuiltRequest['abandon'] = (code) => controller.abort(new TsgiError(code, 'abandoned'));
  return { environ, logged, abandon, controller, hints };
}

// --- A small server that follows spec §5 and §6, recording what it would send -----------------------

interface Recording {
  status?: string;
  headers?: Header[];
  /** Every startResponse call, in order. */
  starts: string[];
  sent: string[];
  headersSent: boolean;
  closeCalls: number;
}

function recordingStartResponse(recording: Recording, side?: ServerSide): StartResponse {
  if (side !== undefined) side.headSent = () => recording.headersSent;
  return (status, headers, excInfo) => {
    if (excInfo !== undefined && recording.headersSent) throw excInfo;
    if (recording.status !== undefined && excInfo === undefined) throw new Error('startResponse called twice');
    recording.status = status;
    recording.headers = headers;
    recording.starts.push(status);
    return async (chunk) => {
      if (side?.ended) throw new TsgiError('TSGI_ERR_RESPONSE_ENDED', 'the response has ended');
      recording.headersSent = true;
      recording.sent.push(text(chunk));
    };
  };
}

function newRecording(): Recording {
  return { starts: [], sent: [], headersSent: false, closeCalls: 0 };
}

/** Runs one request the way spec §6.5 says a server does: iterate once, then close() once. */
async function serve(app: App, environ: Environ): Promise<Recording> {
  const recording = newRecording();
  const side = serverSide.get(environ);
  const body = await app(environ, recordingStartResponse(recording, side));
  const take = (chunk: Chunk) => {
    if (chunk.length > 0) recording.headersSent = true;
    recording.sent.push(text(chunk));
  };
  try {
    if (Symbol.asyncIterator in body) for await (const chunk of body) take(chunk);
    else for (const chunk of body) take(chunk);
    recording.headersSent = true;
  } finally {
    if (side !== undefined) side.ended = true;
    recording.closeCalls++;
    await body.close?.();
  }
  return recording;
}

async function expectBreach(action: () => unknown, culprit: Culprit, rule: string): Promise<ValidationError> {
  let caught: unknown;
  try {
    await action();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ValidationError);
  expect(caught).toBeInstanceOf(TsgiError);
  const breach = caught as ValidationError;
  expect(breach.code).toBe('TSGI_ERR_VALIDATION');
  expect({ culprit: breach.culprit, rule: breach.rule }).toEqual({ culprit, rule });
  expect(breach.message).toContain(`TSGI ${rule} broken by the ${culprit}`);
  return breach;
}

const hello: App = (_environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return ['Hello, World!'];
};

/** An app whose start and body are given by the test. */
function appWith(status: string, headers: Header[], body: Body | (() => Body)): App {
  return (_environ, startResponse) => {
    startResponse(status, headers);
    return typeof body === 'function' ? body() : body;
  };
}

function waitFor(condition: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (condition()) resolve();
      else if (Date.now() > deadline) reject(new Error(`condition not met within ${ms} ms`));
      else setTimeout(poll, 5);
    };
    poll();
  });
}

// --- A correct pair passes through unchanged ----------------------------------------------------------

describe('a correct app and server pass through unchanged', () => {
  it('sync app returning an Array: same response, still a synchronous Array', async () => {
    const plain = await serve(hello, request().environ);
    const { environ } = request();
    const recording = newRecording();
    const body = validate(hello)(environ, recordingStartResponse(recording));
    expect(Array.isArray(body)).toBe(true);
    expect(body).toEqual(['Hello, World!']);
    const checked = await serve(validate(hello), request().environ);
    expect(checked).toEqual(plain);
    expect(checked.sent).toEqual(['Hello, World!']);
  });

  it('async app returning a Promise of a body', async () => {
    const app: App = async (environ, startResponse) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      startResponse('201 Created', [['Location', `${environ.PATH_INFO}/1`]]);
      return [encoder.encode('made')];
    };
    const plain = await serve(app, request().environ);
    const checked = await serve(validate(app), request().environ);
    expect(checked).toEqual(plain);
    expect(checked.starts).toEqual(['201 Created']);
  });

  it('async-iterable body: chunks, original close() once, generator finally runs', async () => {
    let appClosed = 0;
    let finished = false;
    const app: App = (_environ, startResponse) => {
      async function* stream() {
        try {
          startResponse('200 OK', [['Content-Type', 'text/plain']]);
          yield 'a';
          yield encoder.encode('b');
          yield '';
          yield 'c';
        } finally {
          finished = true;
        }
      }
      return Object.assign(stream(), { close: () => void appClosed++ });
    };
    const checked = await serve(validate(app), request().environ);
    expect(checked.sent).toEqual(['a', 'b', '', 'c']);
    expect(appClosed).toBe(1);
    expect(finished).toBe(true);
  });

  it('sync generator body stays synchronously iterable', async () => {
    const app: App = (_environ, startResponse) => {
      startResponse('200 OK', []);
      return (function* () {
        yield 'x';
        yield 'y';
      })();
    };
    const body = (await validate(app)(request().environ, recordingStartResponse(newRecording()))) as Body;
    expect(Symbol.asyncIterator in body).toBe(false);
    expect([...(body as Iterable<Chunk>)]).toEqual(['x', 'y']);
    await body.close?.();
  });

  it('write() path: chunks written before the returned body, promises from the server', async () => {
    const app: App = async (_environ, startResponse) => {
      const write = startResponse('200 OK', [['Content-Length', '11']]);
      await write('hello ');
      await write(encoder.encode('world'));
      return [];
    };
    const plain = await serve(app, request().environ);
    const checked = await serve(validate(app), request().environ);
    expect(checked).toEqual(plain);
    expect(checked.sent.join('')).toBe('hello world');
  });

  it('excInfo replaces the headers while they are held back', async () => {
    const app: App = (_environ, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'text/html']]);
      try {
        throw new Error('template failed');
      } catch (error) {
        startResponse('500 Internal Server Error', [['Content-Type', 'text/plain']], error);
        return ['sorry'];
      }
    };
    const checked = await serve(validate(app), request().environ);
    expect(checked.starts).toEqual(['200 OK', '500 Internal Server Error']);
    expect(checked.headers).toEqual([['Content-Type', 'text/plain']]);
  });

  it('excInfo after the headers were sent: the server re-throws it and it reaches the app', async () => {
    const failure = new Error('late failure');
    let seen: unknown;
    const app: App = (_environ, startResponse) => {
      startResponse('200 OK', []);
      return (function* () {
        yield 'partial';
        try {
          startResponse('500 Internal Server Error', [], failure);
        } catch (error) {
          seen = error;
        }
      })();
    };
    await serve(validate(app), request().environ);
    expect(seen).toBe(failure);
  });

  it('HEAD with the Content-Length of the GET representation and no body', async () => {
    const checked = await serve(validate(appWith('200 OK', [['Content-Length', '42']], [])), request({ method: 'HEAD' }).environ);
    expect(checked.headers).toEqual([['Content-Length', '42']]);
  });

  it('tsgi.input: read(size) and for-await see the whole body; trailers after a chunked end', async () => {
    let seen = '';
    let trailers: unknown;
    const app: App = async (environ, startResponse) => {
      const input = environ['tsgi.input'];
      const first = await input.read(3);
      seen += text(first);
      for await (const chunk of input) seen += text(chunk);
      expect((await input.read()).length).toBe(0);
      trailers = environ['tsgi.trailers'];
      startResponse('200 OK', []);
      return [];
    };
    await serve(validate(app), request({ method: 'POST', body: ['hello ', 'world'], chunked: true, trailers: [['Digest', 'x']] }).environ);
    expect(seen).toBe('hello world');
    expect(trailers).toEqual([['Digest', 'x']]);
  });

  it('tsgi.errors forwards strings to the server log', async () => {
    const built = request();
    const app: App = (environ, startResponse) => {
      environ['tsgi.errors'].write('cache miss\n');
      environ['tsgi.errors'].flush();
      startResponse('200 OK', []);
      return [];
    };
    await serve(validate(app), built.environ);
    expect(built.logged).toEqual(['cache miss\n']);
  });

  it('app.close() is forwarded for graceful shutdown', async () => {
    let closed = 0;
    const app: App = Object.assign(appWith('200 OK', [], []), { close: async () => void closed++ });
    await validate(app).close?.();
    expect(closed).toBe(1);
  });
});

// --- Breaches by the server ---------------------------------------------------------------------------

describe('server breaches', () => {
  const callWith = (overrides: Record<string, unknown>) => () =>
    validate(hello)(request({}, overrides).environ, recordingStartResponse(newRecording()));

  it.each([
    ['a missing CGI key', { RAW_URI: undefined }, '§3.1'],
    ['a CGI key that is not a string', { SERVER_PORT: 8000 }, '§3.1'],
    ['a method that is not a token', { REQUEST_METHOD: 'GE T' }, '§3.2'],
    ['SCRIPT_NAME ending in /', { SCRIPT_NAME: '/app/' }, '§3.2'],
    ['PATH_INFO without a leading /', { PATH_INFO: 'hello' }, '§3.2'],
    ['SCRIPT_NAME and PATH_INFO both empty', { PATH_INFO: '' }, '§3.2'],
    ['an empty RAW_URI', { RAW_URI: '' }, '§3.2'],
    ['a decoded QUERY_STRING', { QUERY_STRING: 'q=a b' }, '§3.2'],
    ['a CONNECT request reaching the app', { REQUEST_METHOD: 'CONNECT' }, '§3.3'],
    ["PATH_INFO '*' for GET", { PATH_INFO: '*' }, '§3.3'],
    ['a non-numeric CONTENT_LENGTH', { CONTENT_LENGTH: '12abc' }, '§3.4'],
    ['HTTP_CONTENT_TYPE duplicating CONTENT_TYPE', { HTTP_CONTENT_TYPE: 'text/plain' }, '§3.4'],
    ['an HTTP_ key keeping the -', { 'HTTP_X-TRACE': '1' }, '§3.4'],
    ['an HTTP_ value holding CR LF', { HTTP_X_TRACE: 'a\r\nSet-Cookie: x' }, '§3.4'],
    ['SERVER_PROTOCOL HTTP/2', { SERVER_PROTOCOL: 'HTTP/2' }, '§3.5'],
    ['an empty SERVER_PORT', { SERVER_PORT: '' }, '§3.5'],
    ['tsgi.version [1, 2]', { 'tsgi.version': [1, 2] }, '§3.6'],
    ['tsgi.version [2, 0]', { 'tsgi.version': [2, 0] }, '§3.6'],
    ["tsgi.url_scheme 'ftp'", { 'tsgi.url_scheme': 'ftp' }, '§3.6'],
    ['tsgi.input without read()', { 'tsgi.input': { [Symbol.asyncIterator]: () => ({}) } }, '§3.6'],
    ['tsgi.errors without flush()', { 'tsgi.errors': { write: () => {} } }, '§3.6'],
    ['tsgi.multiprocess not a boolean', { 'tsgi.multiprocess': 1 }, '§3.6'],
    ['tsgi.input_terminated false', { 'tsgi.input_terminated': false }, '§3.6'],
    ['tsgi.raw_headers of flat strings', { 'tsgi.raw_headers': ['Host', 'x'] }, '§3.6'],
    ['tsgi.raw_headers with a bad name', { 'tsgi.raw_headers': [['Bad Name', 'x']] }, '§3.6'],
    ['an unknown tsgi. key', { 'tsgi.websocket': () => {} }, '§3.7'],
  ])('environ with %s', async (_name, overrides, rule) => {
    await expectBreach(callWith(overrides), 'server', rule);
  });

  it('calls the app with a startResponse that is not a function', async () => {
    await expectBreach(() => validate(hello)(request().environ, 'nope' as unknown as StartResponse), 'server', '§2.1');
  });

  it('startResponse returning something other than write', async () => {
    const startResponse = (() => undefined) as unknown as StartResponse;
    await expectBreach(() => validate(hello)(request().environ, startResponse), 'server', '§5.1');
  });

  it('write() returning something other than a Promise', async () => {
    const startResponse = (() => () => undefined) as unknown as StartResponse;
    const app: App = (_environ, start) => {
      start('200 OK', [])('x');
      return [];
    };
    await expectBreach(() => validate(app)(request().environ, startResponse), 'server', '§5.5');
  });

  it('startResponse with excInfo that does not re-throw after the headers were sent', async () => {
    const lax: StartResponse = () => async () => {};
    const app: App = async (_environ, start) => {
      await start('200 OK', [])('sent');
      start('500 Internal Server Error', [], new Error('boom'));
      return [];
    };
    await expectBreach(() => validate(app)(request().environ, lax), 'server', '§5.6');
  });

  it('startResponse with excInfo that throws something else after the headers were sent', async () => {
    const recording = newRecording();
    const recorded = recordingStartResponse(recording);
    const wrapping: StartResponse = (status, headers, excInfo) => {
      try {
        return recorded(status, headers, excInfo);
      } catch (error) {
        throw new Error('wrapped', { cause: error });
      }
    };
    const app: App = async (_environ, start) => {
      await start('200 OK', [])('sent');
      start('500 Internal Server Error', [], new Error('boom'));
      return [];
    };
    await expectBreach(() => validate(app)(request().environ, wrapping), 'server', '§5.6');
  });

  /** Runs `app` with a tsgi.input replaced by `input`, through the validator. */
  const withInput = (input: InputStream, app: App, options: RequestOptions = { method: 'POST', body: ['hello'] }) => {
    const { environ } = request(options);
    environ['tsgi.input'] = input;
    return () => serve(validate(app), environ);
  };
  const reads =
    (...sizes: (number | undefined)[]): App =>
    async (environ, startResponse) => {
      for (const size of sizes) await environ['tsgi.input'].read(size);
      startResponse('200 OK', []);
      return [];
    };
  const fakeInput = (read: (size?: number) => Promise<unknown>, iterate?: () => AsyncIterator<unknown>): InputStream =>
    ({ read, [Symbol.asyncIterator]: iterate ?? (() => ({ next: async () => ({ done: true, value: undefined }) })) }) as InputStream;

  it('read() resolving with a string', async () => {
    await expectBreach(withInput(fakeInput(async () => 'hello'), reads(undefined)), 'server', '§4.1');
  });

  it('read(size) resolving with more than size bytes', async () => {
    await expectBreach(withInput(fakeInput(async () => encoder.encode('hello')), reads(2)), 'server', '§4.1');
  });

  it('read() returning data after it signalled the end', async () => {
    const answers = [new Uint8Array(0), encoder.encode('late')];
    const input = fakeInput(async () => answers.shift() ?? new Uint8Array(0));
    await expectBreach(withInput(input, reads(undefined, undefined), {}), 'server', '§4.1');
  });

  it('input iteration yielding an empty chunk', async () => {
    const input = fakeInput(
      async () => new Uint8Array(0),
      () => ({ next: async () => ({ done: false, value: new Uint8Array(0) }) }),
    );
    const app: App = async (environ, startResponse) => {
      for await (const _chunk of environ['tsgi.input']) break;
      startResponse('200 OK', []);
      return [];
    };
    await expectBreach(withInput(input, app), 'server', '§4.2');
  });

  it('read() going past CONTENT_LENGTH', async () => {
    const input = fakeInput(async () => encoder.encode('hello, and the next request'));
    await expectBreach(withInput(input, reads(undefined)), 'server', '§4.4');
  });

  it('read() passing a truncated body off as complete', async () => {
    const answers = [encoder.encode('he'), new Uint8Array(0)];
    const input = fakeInput(async () => answers.shift() ?? new Uint8Array(0));
    await expectBreach(withInput(input, reads(undefined, undefined)), 'server', '§4.4');
  });

  it('a chunked body ending without tsgi.trailers', async () => {
    const { environ } = request({ method: 'POST', body: ['x'], chunked: true });
    environ['tsgi.input'] = inputOf([encoder.encode('x')], () => {});
    const app: App = async (env, startResponse) => {
      for await (const _chunk of env['tsgi.input']);
      startResponse('200 OK', []);
      return [];
    };
    await expectBreach(() => serve(validate(app), environ), 'server', '§4.4');
  });

  it('close() called twice', async () => {
    const body = validate(hello)(request().environ, recordingStartResponse(newRecording())) as Body;
    for (const _chunk of body as Iterable<Chunk>);
    body.close?.();
    await expectBreach(() => body.close?.(), 'server', '§6.4');
  });

  it('asking for a chunk after close()', async () => {
    const app = appWith('200 OK', [], () => (function* () { yield 'a'; yield 'b'; })());
    const body = validate(app)(request().environ, recordingStartResponse(newRecording())) as Iterable<Chunk> & Body;
    const iterator = body[Symbol.iterator]();
    iterator.next();
    iterator.return?.();
    body.close?.();
    await expectBreach(() => iterator.next(), 'server', '§6.4');
  });

  it('a second iterator from a generator body', async () => {
    const app = appWith('200 OK', [], () => (function* () { yield 'a'; })());
    const body = validate(app)(request().environ, recordingStartResponse(newRecording())) as Iterable<Chunk> & Body;
    [...body];
    await expectBreach(() => body[Symbol.iterator](), 'server', '§6.5');
  });

  it('next() on an async body while the previous next() is pending', async () => {
    const app = appWith('200 OK', [], () =>
      (async function* () {
        await new Promise((resolve) => setTimeout(resolve, 5));
        yield 'a';
        yield 'b';
      })(),
    );
    const body = validate(app)(request().environ, recordingStartResponse(newRecording())) as AsyncIterable<Chunk> & Body;
    const iterator = body[Symbol.asyncIterator]();
    const first = iterator.next();
    await expectBreach(() => iterator.next(), 'server', '§6.5');
    expect(await first).toEqual({ done: false, value: 'a' });
  });

  it('iteration finished but close() never called: reported through options.report', async () => {
    const reports: ValidationError[] = [];
    const app = validate(hello, { closeDeadlineMs: 10, report: (error) => void reports.push(error) });
    const body = app(request().environ, recordingStartResponse(newRecording())) as Iterable<Chunk>;
    for (const _chunk of body);
    await waitFor(() => reports.length > 0);
    expect(reports[0]).toMatchObject({ culprit: 'server', rule: '§6.4', code: 'TSGI_ERR_VALIDATION' });
    expect(reports[0]?.message).toContain('GET /hello?a=1');
  });

  it('close() never called: by default reported to the request tsgi.errors', async () => {
    const built = request();
    const body = validate(hello, { closeDeadlineMs: 10 })(built.environ, recordingStartResponse(newRecording())) as Iterable<Chunk>;
    for (const _chunk of body);
    await waitFor(() => built.logged.length > 0);
    expect(built.logged[0]).toContain('TSGI §6.4 broken by the server');
  });

  it('a body dropped without iteration or close(): reported once it is collected', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const reports: ValidationError[] = [];
    const app = validate(hello, { report: (error) => void reports.push(error) });
    (() => void app(request().environ, recordingStartResponse(newRecording())))();
    await waitFor(() => {
      gc();
      return reports.length > 0;
    });
    expect(reports[0]).toMatchObject({ culprit: 'server', rule: '§6.4' });
    expect(reports[0]?.message).toContain('dropped a body');
  });

  it('app.close() called twice', async () => {
    const app = validate(Object.assign(appWith('200 OK', [], []), { close: () => {} }));
    app.close?.();
    await expectBreach(() => app.close?.(), 'server', '§7.4');
  });
});

// --- Breaches by the app ----------------------------------------------------------------------------------

describe('app breaches', () => {
  const run = (app: App, options: RequestOptions = {}) => () => serve(validate(app), request(options).environ);

  it('validate() given something other than a function', async () => {
    await expectBreach(() => validate({} as App), 'app', '§2.1');
  });

  it.each([
    ['not a string', 200],
    ['with the reason first', 'OK 200'],
    ['with two-digit code', '20 OK'],
    ['with a line break in the reason', '200 OK\r\nX-Injected: 1'],
  ])('status %s', async (_name, status) => {
    await expectBreach(run(appWith(status as string, [], [])), 'app', '§5.2');
  });

  it.each([['103 Early Hints'], ['600 Custom']])('status %s is not a final status', async (status) => {
    await expectBreach(run(appWith(status, [], [])), 'app', '§5.2');
  });

  it.each([
    ['not an array', 'Content-Type: text/plain'],
    ['a header that is not a pair', [['Content-Type']]],
    ['a header value that is not a string', [['Content-Length', 5]]],
    ['a name that is not a token', [['Content Type', 'text/plain']]],
    ['a value with CR LF', [['Location', '/a\r\nSet-Cookie: admin=1']]],
    ['a value with NUL', [['X-Id', 'a\0b']]],
    ['a value above U+00FF', [['X-Name', 'Zoë €']]],
    ['a non-numeric Content-Length', [['Content-Length', '10 bytes']]],
    ['two different Content-Lengths', [['Content-Length', '1'], ['Content-Length', '2']]],
  ])('headers with %s', async (_name, headers) => {
    await expectBreach(run(appWith('200 OK', headers as Header[], [])), 'app', '§5.3');
  });

  it('Content-Length on a 204', async () => {
    await expectBreach(run(appWith('204 No Content', [['Content-Length', '0']], [])), 'app', '§5.3');
  });

  it.each([['Connection'], ['Keep-Alive'], ['Proxy-Connection'], ['transfer-encoding'], ['Upgrade'], ['TE'], ['Trailer']])(
    'hop-by-hop header %s',
    async (name) => {
      await expectBreach(run(appWith('200 OK', [[name, 'x']], [])), 'app', '§5.4');
    },
  );

  it('startResponse called twice without excInfo', async () => {
    const app: App = (_environ, startResponse) => {
      startResponse('200 OK', []);
      startResponse('404 Not Found', []);
      return [];
    };
    await expectBreach(run(app), 'app', '§5.1');
  });

  it('a chunk produced before startResponse', async () => {
    const app: App = () => ['early'];
    await expectBreach(run(app), 'app', '§5.1');
  });

  it('an empty body that ends without startResponse', async () => {
    const app: App = () => (function* () {})();
    await expectBreach(run(app), 'app', '§5.1');
  });

  it('startResponse after the body was closed', async () => {
    let start: StartResponse | undefined;
    const app: App = (_environ, startResponse) => {
      start = startResponse;
      startResponse('200 OK', []);
      return [];
    };
    await serve(validate(app), request().environ);
    await expectBreach(() => start?.('500 Internal Server Error', [], new Error('late')), 'app', '§5.1');
  });

  it.each([
    ['a string', 'Hello, World!'],
    ['a Uint8Array', encoder.encode('Hello')],
    ['undefined', undefined],
    ['a plain object', { body: 'x' }],
  ])('returning %s as the body', async (_name, body) => {
    await expectBreach(run(appWith('200 OK', [], body as Body)), 'app', '§6.1');
  });

  it('an async app resolving with a string', async () => {
    const app: App = async (_environ, startResponse) => {
      startResponse('200 OK', []);
      return 'oops' as unknown as Body;
    };
    await expectBreach(run(app), 'app', '§6.1');
  });

  it('a body whose close is not a function', async () => {
    await expectBreach(run(appWith('200 OK', [], Object.assign(['x'], { close: true }) as unknown as Body)), 'app', '§6.4');
  });

  it('an Array body holding a number', async () => {
    await expectBreach(run(appWith('200 OK', [], [1, 2] as unknown as Body)), 'app', '§6.2');
  });

  it('a generator yielding a Promise, and the generator still finishes', async () => {
    let finished = false;
    const app = appWith('200 OK', [], () =>
      (function* () {
        try {
          yield Promise.resolve('x') as unknown as Chunk;
        } finally {
          finished = true;
        }
      })(),
    );
    await expectBreach(run(app), 'app', '§6.2');
    expect(finished).toBe(true);
  });

  it('write() with something other than a chunk', async () => {
    const app: App = (_environ, startResponse) => {
      startResponse('200 OK', [])({ data: 'x' } as unknown as Chunk);
      return [];
    };
    await expectBreach(run(app), 'app', '§5.5');
  });

  it('write() after the body was closed', async () => {
    let write: ((chunk: Chunk) => Promise<void>) | undefined;
    const app: App = (_environ, startResponse) => {
      write = startResponse('200 OK', []);
      return [];
    };
    await serve(validate(app), request().environ);
    await expectBreach(() => write?.('late'), 'app', '§5.5');
  });

  it('a body longer than its Content-Length', async () => {
    await expectBreach(run(appWith('200 OK', [['Content-Length', '3']], ['abc', 'd'])), 'app', '§6.3');
  });

  it('a body shorter than its Content-Length (UTF-8 bytes count, not characters)', async () => {
    await expectBreach(run(appWith('200 OK', [['Content-Length', '4']], ['é'])), 'app', '§6.3');
  });

  it('a 304 response with content', async () => {
    await expectBreach(run(appWith('304 Not Modified', [], ['stale'])), 'app', '§6.3');
  });

  it.each([[0], [1.5], [Number.NaN]])('tsgi.input.read(%s)', async (size) => {
    await expectBreach(
      run(
        async (environ, startResponse) => {
          await environ['tsgi.input'].read(size);
          startResponse('200 OK', []);
          return [];
        },
        { method: 'POST', body: ['hello'] },
      ),
      'app',
      '§4.1',
    );
  });

  it('two reads of tsgi.input at once', async () => {
    const app: App = async (environ, startResponse) => {
      const input = environ['tsgi.input'];
      await Promise.all([input.read(1), input.read(1)]);
      startResponse('200 OK', []);
      return [];
    };
    await expectBreach(run(app, { method: 'POST', body: ['hello'] }), 'app', '§4.3');
  });

  it('tsgi.errors.write() with something other than a string', async () => {
    const app: App = (environ, startResponse) => {
      environ['tsgi.errors'].write(new Error('oops') as unknown as string);
      startResponse('200 OK', []);
      return [];
    };
    await expectBreach(run(app), 'app', '§4.7');
  });

  it('app.close that is not a function', async () => {
    await expectBreach(() => validate(Object.assign(appWith('200 OK', [], []), { close: 'later' }) as unknown as App), 'app', '§7.4');
  });
});

// --- Array bodies, whichever way the server reads them (spec §6.5) ------------------------------------

/** A server that reads an Array twice, as spec §6.5 allows: once to size it, once to send it. */
async function serveSizingTwice(app: App, environ: Environ): Promise<Recording & { length: number }> {
  const recording = newRecording();
  const body = (await app(environ, recordingStartResponse(recording))) as Chunk[] & Body;
  expect(Array.isArray(body)).toBe(true);
  let length = 0;
  for (const chunk of body) length += Buffer.byteLength(chunk);
  for (const chunk of body) recording.sent.push(text(chunk));
  recording.headersSent = true;
  await body.close?.();
  return { ...recording, length };
}

/** A server that never iterates an Array: it reads `length` and each element by index. */
async function serveByIndex(app: App, environ: Environ): Promise<Recording> {
  const recording = newRecording();
  const body = (await app(environ, recordingStartResponse(recording))) as Chunk[] & Body;
  for (let i = 0; i < body.length; i++) recording.sent.push(text(body[i]!));
  recording.headersSent = true;
  await body.close?.();
  return recording;
}

describe('Array bodies are checked once, whichever way the server reads them', () => {
  const sized = appWith('200 OK', [['Content-Length', '11']], ['hello ', encoder.encode('world')]);

  it('a server that iterates an Array twice does not make a correct app fail on Content-Length', async () => {
    const checked = await serveSizingTwice(validate(sized), request().environ);
    expect(checked.length).toBe(11);
    expect(checked.sent.join('')).toBe('hello world');
  });

  it('a server that iterates twice still sees a wrong Content-Length reported', async () => {
    await expectBreach(() => serveSizingTwice(validate(appWith('200 OK', [['Content-Length', '5']], ['hello world'])), request().environ), 'app', '§6.3');
  });

  it('a server that reads by index: a correct app passes, with the same bytes', async () => {
    const checked = await serveByIndex(validate(sized), request().environ);
    expect(checked.sent.join('')).toBe('hello world');
  });

  it.each([
    ['longer', '3', ['abc', 'd']],
    ['shorter', '4', ['é']],
  ])('a server that reads by index: a body %s than its Content-Length is reported', async (_name, length, body) => {
    await expectBreach(() => serveByIndex(validate(appWith('200 OK', [['Content-Length', length]], body)), request().environ), 'app', '§6.3');
  });

  it('a server that reads by index: write() data counts towards the Content-Length', async () => {
    const app: App = async (_environ, startResponse) => {
      await startResponse('200 OK', [['Content-Length', '5']])('hel');
      return ['lo'];
    };
    expect((await serveByIndex(validate(app), request().environ)).sent).toEqual(['hel', 'lo']);
    const over: App = async (_environ, startResponse) => {
      await startResponse('200 OK', [['Content-Length', '4']])('hel');
      return ['lo'];
    };
    await expectBreach(() => serveByIndex(validate(over), request().environ), 'app', '§6.3');
  });

  it('a server that reads by index: an Array returned before startResponse is reported', async () => {
    await expectBreach(() => serveByIndex(validate(() => [] as Body), request().environ), 'app', '§5.1');
  });

  it('a server that reads by index: content in a 304 is reported', async () => {
    await expectBreach(() => serveByIndex(validate(appWith('304 Not Modified', [], ['x'])), request().environ), 'app', '§6.3');
  });

  it('HEAD with the GET length and the GET body is fine however it is read', async () => {
    const head = appWith('200 OK', [['Content-Length', '5']], ['hello']);
    await serveByIndex(validate(head), request({ method: 'HEAD' }).environ);
    await serveSizingTwice(validate(head), request({ method: 'HEAD' }).environ);
  });

  it('write() after returning an Array is reported: the Array is the whole body', async () => {
    let write: ((chunk: Chunk) => Promise<void>) | undefined;
    const app: App = (_environ, startResponse) => {
      write = startResponse('200 OK', []);
      return ['done'];
    };
    const body = validate(app)(request().environ, recordingStartResponse(newRecording())) as Body;
    await expectBreach(() => write?.('late'), 'app', '§6.5');
    await body.close?.();
  });
});

// --- The response grammar is the server's (spec §5.2, §5.3) --------------------------------------------

describe('status and header grammar, shared with the server', () => {
  const run = (app: App, options: RequestOptions = {}) => () => serve(validate(app), request(options).environ);

  it("a code without a reason ('200') is a valid TSGI 1.1 status", async () => {
    expect((await run(appWith('200', [], ['ok']))()).starts).toEqual(['200']);
  });

  it("'200' is refused for a TSGI 1.0 server, which needs the space", async () => {
    await expectBreach(run(appWith('200', [], []), { minor: 0 }), 'app', '§5.2');
  });

  it('a 1xx status points at tsgi.early_hints', async () => {
    const breach = await expectBreach(run(appWith('103 Early Hints', [], [])), 'app', '§5.2');
    expect(breach.message).toContain('tsgi.early_hints');
  });

  it.each([['600 Custom'], ['999'], ['099 Low']])('status %s is refused', async (status) => {
    await expectBreach(run(appWith(status, [], [])), 'app', '§5.2');
  });

  it('Content-Length with SP and HTAB around the digits, and a repeat of the same number', async () => {
    const app = appWith('200 OK', [['Content-Length', ' 05\t'], ['content-length', '5']], ['hello']);
    expect((await run(app)()).sent).toEqual(['hello']);
  });

  it.each([
    ['U+00A0 around the digits (OWS is SP and HTAB only)', '\u00a05'],
    ['a sign', '+5'],
    ['more than 2^53 - 1', '9007199254740992'],
    ['seventeen digits', '00000000000000005'],
  ])('Content-Length with %s is refused', async (_name, value) => {
    await expectBreach(run(appWith('200 OK', [['Content-Length', value]], [])), 'app', '§5.3');
  });

  it('DEL in a value is refused, obs-text (U+0080-U+00FF) is allowed', async () => {
    await expectBreach(run(appWith('200 OK', [['X-A', 'a\x7fb']], [])), 'app', '§5.3');
    expect((await run(appWith('200 OK', [['X-A', 'caf\u00e9 \u0080\u00ff']], []))()).headers).toEqual([['X-A', 'caf\u00e9 \u0080\u00ff']]);
  });
});

// --- 103 Early Hints (spec §5.7) --------------------------------------------------------------------------

describe('tsgi.early_hints', () => {
  const link: Header = ['Link', '</style.css>; rel=preload; as=style'];

  it('forwards hints sent before the final response', async () => {
    const built = request();
    const app: App = (environ, startResponse) => {
      environ['tsgi.early_hints']([link]);
      startResponse('200 OK', []);
      environ['tsgi.early_hints']([['Link', '</app.js>; rel=preload; as=script']]);
      return ['page'];
    };
    await serve(validate(app), built.environ);
    expect(built.hints).toEqual([[link], [['Link', '</app.js>; rel=preload; as=script']]]);
  });

  it.each([
    ['a name that is not a token', [['Bad Name', 'x']]],
    ['a value with CR LF', [['Link', '</a>\r\nSet-Cookie: x=1']]],
    ['Content-Length', [['Content-Length', '0']]],
    ['a hop-by-hop field', [['Connection', 'close']]],
    ['something that is not an array', 'Link: </a>'],
  ])('hints with %s are the app breaking §5.7', async (_name, hints) => {
    const app: App = (environ, startResponse) => {
      environ['tsgi.early_hints'](hints as Header[]);
      startResponse('200 OK', []);
      return [];
    };
    await expectBreach(() => serve(validate(app), request().environ), 'app', '§5.7');
  });

  /** What an app that sends hints after its first chunk catches, on a server given `overrides`. */
  const hintAfterHead = async (overrides: Record<string, unknown> = {}): Promise<unknown> => {
    let seen: unknown;
    const app: App = (environ, startResponse) => {
      startResponse('200 OK', []);
      return (function* () {
        yield 'first';
        try {
          environ['tsgi.early_hints']([link]);
        } catch (error) {
          seen = error;
        }
      })();
    };
    await serve(validate(app), request({}, overrides).environ);
    return seen;
  };

  it('after the head was sent a correct server throws TSGI_ERR_HEADERS_SENT, which reaches the app', async () => {
    const seen = await hintAfterHead();
    expect(seen).toBeInstanceOf(TsgiError);
    expect((seen as TsgiError).code).toBe('TSGI_ERR_HEADERS_SENT');
  });

  it.each([
    ['returns', () => {}],
    ['throws something else', () => { throw new Error('nope'); }],
  ])('a server whose early_hints %s after the head was sent breaks §5.7', async (_name, hints) => {
    const seen = await hintAfterHead({ 'tsgi.early_hints': hints });
    expect(seen).toBeInstanceOf(ValidationError);
    expect(seen).toMatchObject({ culprit: 'server', rule: '§5.7' });
  });
});

// --- The TSGI 1.1 environ (spec §3) ------------------------------------------------------------------------

describe('the TSGI 1.1 environ', () => {
  const callWith = (overrides: Record<string, unknown>, options: RequestOptions = {}) => () =>
    validate(hello)(request(options, overrides).environ, recordingStartResponse(newRecording()));

  it.each([
    ['no tsgi.signal', { 'tsgi.signal': undefined }, '§3.9'],
    ['a tsgi.signal that is not an AbortSignal', { 'tsgi.signal': { aborted: false } }, '§3.9'],
    ['no tsgi.early_hints', { 'tsgi.early_hints': undefined }, '§5.7'],
    ['tsgi.upgrade that is not a function', { 'tsgi.upgrade': true, 'tsgi.raw_headers': [['Upgrade', 'websocket']] }, '§3.10'],
    ['tsgi.upgrade on a request without Upgrade', { 'tsgi.upgrade': () => {} }, '§3.10'],
    ["SERVER_NAME '0.0.0.0', the address bound to", { SERVER_NAME: '0.0.0.0' }, '§3.5'],
    ["SERVER_NAME '::', the address bound to", { SERVER_NAME: '::' }, '§3.5'],
    ['an empty SERVER_NAME', { SERVER_NAME: '' }, '§3.5'],
    ['an IPv6 SERVER_NAME without brackets', { SERVER_NAME: '::1' }, '§3.5'],
    ['an IPv4-mapped REMOTE_ADDR', { REMOTE_ADDR: '::ffff:203.0.113.7' }, '§3.5'],
    ['a bracketed REMOTE_ADDR', { REMOTE_ADDR: '[::1]' }, '§3.5'],
    ['a RAW_URI with a "%" that starts no escape', { RAW_URI: '/a%zz' }, '§3.3'],
    ['a tsgi.peer_certificate that is not a certificate', { 'tsgi.url_scheme': 'https', 'tsgi.peer_certificate': 'CN=alice' }, '§3.7'],
  ])('environ with %s', async (_name, overrides, rule) => {
    await expectBreach(callWith(overrides), 'server', rule);
  });

  it('a TSGI 1.0 server is held to 1.0: a bound SERVER_NAME and a raw byte in RAW_URI are fine there', () => {
    expect(() => callWith({ SERVER_NAME: '0.0.0.0', RAW_URI: '/caf\u00e9', REMOTE_ADDR: '::ffff:10.0.0.1' }, { minor: 0 })()).not.toThrow();
  });

  it('a TSGI 1.0 server may not add the 1.1 keys', async () => {
    await expectBreach(callWith({ 'tsgi.signal': new AbortController().signal }, { minor: 0 }), 'server', '§3.7');
  });

  it('a verified client certificate in tsgi.peer_certificate passes', () => {
    const cert = { subject: 'CN=alice', issuer: 'CN=ca', subjectAltName: null, serialNumber: '01', fingerprint256: 'AB:CD', validFrom: new Date(), validTo: new Date(), pem: '-----BEGIN CERTIFICATE-----' };
    expect(() => callWith({ 'tsgi.url_scheme': 'https', 'tsgi.peer_certificate': cert })()).not.toThrow();
  });

  it('tsgi.upgrade on a request that carries Upgrade, and bracketed IPv6 names, pass', () => {
    const overrides = { 'tsgi.upgrade': () => {}, 'tsgi.raw_headers': [['Host', '[::1]:8000'], ['upgrade', 'websocket']], SERVER_NAME: '[::1]', REMOTE_ADDR: '::1' };
    expect(() => callWith(overrides)()).not.toThrow();
  });

  it('a lazily created tsgi.signal (an accessor with a setter) passes, and the app can replace it', async () => {
    const built = request();
    const controller = new AbortController();
    let created = 0;
    let current: AbortSignal | undefined;
    Object.defineProperty(built.environ, 'tsgi.signal', {
      get: () => (current ??= (created++, controller.signal)),
      set: (value: AbortSignal) => void (current = value),
      enumerable: true,
      configurable: true,
    });
    const replacement = new AbortController().signal;
    const app: App = (environ, startResponse) => {
      environ['tsgi.signal'] = replacement;
      startResponse('200 OK', []);
      return [];
    };
    await serve(validate(app), built.environ);
    expect(created).toBe(1);
    expect(built.environ['tsgi.signal']).toBe(replacement);
  });

  it.each([
    ['a getter without a setter', { get: () => new AbortController().signal, enumerable: true, configurable: true }, '§3.1'],
    ['a read-only value', { value: new AbortController().signal, writable: false, enumerable: true, configurable: true }, '§3.1'],
    ['a key that cannot be deleted', { value: new AbortController().signal, writable: true, enumerable: true, configurable: false }, '§3.1'],
    ['a non-enumerable key', { value: new AbortController().signal, writable: true, enumerable: false, configurable: true }, '§3.9'],
  ])('tsgi.signal as %s', async (_name, descriptor, rule) => {
    const built = request();
    Object.defineProperty(built.environ, 'tsgi.signal', descriptor);
    await expectBreach(() => validate(hello)(built.environ, recordingStartResponse(newRecording())), 'server', rule);
  });
});

// --- tsgi.input in TSGI 1.1 (spec §4.1, §4.3, §4.8) ---------------------------------------------------------

describe('tsgi.input sizes, overlapping reads and reads after the response', () => {
  const post = { method: 'POST', body: ['hello'] };
  const readWith = (size: unknown): App => async (environ, startResponse) => {
    const chunk = await environ['tsgi.input'].read(size as number);
    startResponse('200 OK', []);
    return [chunk];
  };

  it.each([[null], [Infinity], [-1], [undefined], [3]])('read(%s) is allowed', async (size) => {
    const sent = (await serve(validate(readWith(size)), request(post).environ)).sent.join('');
    expect(sent).toBe(size === 3 ? 'hel' : 'hello');
  });

  it.each([[0], [Number.NaN], [1.5], ['4']])('read(%s) is the app breaking §4.1, and the server rejected it', async (size) => {
    await expectBreach(() => serve(validate(readWith(size)), request(post).environ), 'app', '§4.1');
  });

  it('a server that answers read(0) instead of rejecting it breaks §4.1', async () => {
    const built = request(post);
    built.environ['tsgi.input'] = inputOf([encoder.encode('hello')], () => {});
    await expectBreach(() => serve(validate(readWith(0)), built.environ), 'server', '§4.1');
  });

  it('a server that lets a second read overlap the first breaks §4.3', async () => {
    const built = request(post);
    built.environ['tsgi.input'] = inputOf([encoder.encode('hello')], () => {});
    const app: App = async (environ, startResponse) => {
      const input = environ['tsgi.input'];
      await Promise.all([input.read(1), input.read(1)]);
      startResponse('200 OK', []);
      return [];
    };
    await expectBreach(() => serve(validate(app), built.environ), 'server', '§4.3');
  });

  it('a read after the response ended gets TSGI_ERR_RESPONSE_ENDED from a correct server', async () => {
    let input: InputStream | undefined;
    const app: App = (environ, startResponse) => {
      input = environ['tsgi.input'];
      startResponse('200 OK', []);
      return [];
    };
    await serve(validate(app), request(post).environ);
    await expect(input!.read()).rejects.toMatchObject({ code: 'TSGI_ERR_RESPONSE_ENDED' });
  });

  it('a server that still answers reads after the response ended breaks §4.8', async () => {
    const built = request(post);
    built.environ['tsgi.input'] = inputOf([encoder.encode('hello')], () => {});
    let input: InputStream | undefined;
    const app: App = (environ, startResponse) => {
      input = environ['tsgi.input'];
      startResponse('200 OK', []);
      return [];
    };
    await serve(validate(app), built.environ);
    await expectBreach(() => input!.read(), 'server', '§4.8');
  });
});

// --- tsgi.signal and abandoning a body (spec §3.9, §6.4) ------------------------------------------------------

/** An SSE-style app: its body waits for events that never come, until tsgi.signal aborts. */
function waitingApp(log: string[]): App {
  return (environ, startResponse) => {
    startResponse('200 OK', [['Content-Type', 'text/event-stream']]);
    const signal = environ['tsgi.signal'];
    const body = (async function* () {
      try {
        yield 'data: hello\n\n';
        await new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        });
      } finally {
        log.push('finally');
      }
    })();
    return Object.assign(body, { close: () => void log.push('close') });
  };
}

describe('tsgi.signal and abandoning a body', () => {
  const reportsOf = () => {
    const reports: ValidationError[] = [];
    return { reports, options: { closeDeadlineMs: 30, report: (error: ValidationError) => void reports.push(error) } };
  };

  it('a correct server: abort, return() at once while next() is pending, close() once return() settled', async () => {
    const log: string[] = [];
    const { reports, options } = reportsOf();
    const built = request();
    const body = (await validate(waitingApp(log), options)(built.environ, recordingStartResponse(newRecording()))) as AsyncIterable<Chunk> & Body;
    const iterator = body[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toBe('data: hello\n\n');
    const pending = iterator.next();
    built.abandon('TSGI_ERR_CLIENT_GONE');
    await iterator.return?.();
    log.push('returned');
    await body.close?.();
    await pending.catch(() => {}); // its result is discarded
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(log).toEqual(['finally', 'returned', 'close']);
    expect(reports).toEqual([]);
  });

  it('close() before return() settled is the server breaking §6.4', async () => {
    const built = request();
    const body = (await validate(waitingApp([]))(built.environ, recordingStartResponse(newRecording()))) as AsyncIterable<Chunk> & Body;
    const iterator = body[Symbol.asyncIterator]();
    await iterator.next();
    const pending = iterator.next();
    const returning = iterator.return?.();
    await expectBreach(() => body.close?.(), 'server', '§6.4');
    built.abandon('TSGI_ERR_CLIENT_GONE');
    await Promise.allSettled([pending, returning]);
  });

  it('close() in the middle of an iteration without return() is the server breaking §6.4', async () => {
    const built = request();
    const body = (await validate(waitingApp([]))(built.environ, recordingStartResponse(newRecording()))) as AsyncIterable<Chunk> & Body;
    const iterator = body[Symbol.asyncIterator]();
    await iterator.next();
    await expectBreach(() => body.close?.(), 'server', '§6.4');
  });

  it('a server that abandons the request but never calls return() is reported', async () => {
    const { reports, options } = reportsOf();
    const built = request();
    const body = (await validate(waitingApp([]), options)(built.environ, recordingStartResponse(newRecording()))) as AsyncIterable<Chunk> & Body;
    const iterator = body[Symbol.asyncIterator]();
    await iterator.next();
    iterator.next().catch(() => {});
    built.abandon('TSGI_ERR_REQUEST_TIMEOUT');
    await waitFor(() => reports.length > 0);
    expect(reports[0]).toMatchObject({ culprit: 'server', rule: '§6.4' });
    expect(reports[0]?.message).toContain('return()');
  });

  it('next() after return() is the server breaking §6.4', async () => {
    const body = (await validate(waitingApp([]))(request().environ, recordingStartResponse(newRecording()))) as AsyncIterable<Chunk> & Body;
    const iterator = body[Symbol.asyncIterator]();
    await iterator.next();
    await iterator.return?.();
    await expectBreach(() => iterator.next(), 'server', '§6.4');
  });

  it('the late result of a next() pending when the server gave up is not checked', async () => {
    let release: (() => void) | undefined;
    const app = appWith('200 OK', [['Content-Length', '1']], () =>
      (async function* () {
        yield 'a';
        await new Promise<void>((resolve) => (release = resolve));
        yield 'more than declared';
      })(),
    );
    const body = (await validate(app)(request().environ, recordingStartResponse(newRecording()))) as AsyncIterable<Chunk> & Body;
    const iterator = body[Symbol.asyncIterator]();
    await iterator.next();
    const pending = iterator.next();
    const returning = iterator.return?.();
    release?.();
    expect(await pending).toEqual({ done: false, value: 'more than declared' });
    await returning;
    await body.close?.();
  });

  it.each([
    ['no reason code', () => new Error('gone')],
    ['a TSGI code that is not an abandonment', () => new TsgiError('TSGI_ERR_CONFIG', 'x')],
    ['the default AbortError', () => undefined],
  ])('a signal aborted with %s is reported', async (_name, reason) => {
    const { reports, options } = reportsOf();
    const built = request();
    validate(hello, options)(built.environ, recordingStartResponse(newRecording()));
    built.controller.abort(reason());
    expect(reports[0]).toMatchObject({ culprit: 'server', rule: '§3.9' });
  });

  it('a signal aborted after the response was complete is reported', async () => {
    const { reports, options } = reportsOf();
    const built = request();
    await serve(validate(hello, options), built.environ);
    built.abandon('TSGI_ERR_CLIENT_GONE');
    expect(reports.map((r) => r.rule)).toEqual(['§3.9']);
    expect(reports[0]?.message).toContain('after the response was complete');
  });

  it('a read that rejects with CLIENT_GONE while the signal is not aborted is the server breaking §3.9', async () => {
    const built = request({ method: 'POST', body: ['hello'] });
    built.environ['tsgi.input'] = {
      read: () => Promise.reject(new TsgiError('TSGI_ERR_CLIENT_GONE', 'gone')),
      [Symbol.asyncIterator]: () => ({ next: async () => ({ done: true, value: undefined }) }),
    } as InputStream;
    await expectBreach(() => serve(validate(readsOnce), built.environ), 'server', '§3.9');
  });

  it('a read after the signal was aborted rejects with its reason; a server that answers it breaks §3.9', async () => {
    const correct = request({ method: 'POST', body: ['hello'] });
    correct.abandon('TSGI_ERR_BODY_TIMEOUT');
    await expect(serve(validate(readsOnce), correct.environ)).rejects.toMatchObject({ code: 'TSGI_ERR_BODY_TIMEOUT' });

    const lax = request({ method: 'POST', body: ['hello'] });
    lax.environ['tsgi.input'] = inputOf([encoder.encode('hello')], () => {});
    lax.abandon('TSGI_ERR_BODY_TIMEOUT');
    await expectBreach(() => serve(validate(readsOnce), lax.environ), 'server', '§3.9');
  });

  it('write() after the client left must reject with TSGI_ERR_CLIENT_GONE', async () => {
    const { reports, options } = reportsOf();
    const built = request();
    let write: ((chunk: Chunk) => Promise<void>) | undefined;
    const app: App = (_environ, startResponse) => {
      write = startResponse('200 OK', []);
      return (function* () {})();
    };
    validate(app, options)(built.environ, recordingStartResponse(newRecording()));
    built.abandon('TSGI_ERR_CLIENT_GONE');
    await write?.('x'); // the recording server resolves it: a breach
    await waitFor(() => reports.length > 0);
    expect(reports[0]).toMatchObject({ culprit: 'server', rule: '§5.5' });
  });

  it('write() after close(): the app breach is thrown, and a server that resolves it is reported too', async () => {
    const run = async (serverWrite: Write) => {
      const { reports, options } = reportsOf();
      let write: ((chunk: Chunk) => Promise<void>) | undefined;
      const app: App = (_environ, startResponse) => {
        write = startResponse('200 OK', []);
        return [];
      };
      const body = validate(app, options)(request().environ, () => serverWrite) as Body;
      for (const _chunk of body as Iterable<Chunk>);
      await body.close?.();
      await expectBreach(() => write?.('late'), 'app', '§5.5');
      await new Promise((resolve) => setTimeout(resolve, 5));
      return reports;
    };
    expect(await run(() => Promise.reject(new TsgiError('TSGI_ERR_RESPONSE_ENDED', 'ended')))).toEqual([]);
    expect((await run(async () => {})).map((r) => r.rule)).toEqual(['§5.5']);
  });
});

const readsOnce: App = async (environ, startResponse) => {
  await environ['tsgi.input'].read();
  startResponse('200 OK', []);
  return [];
};

// --- Edges found by mutation testing: each part of a rule on its own -------------------------------

describe('environ rules, each part on its own', () => {
  const callWith = (overrides: Record<string, unknown>, options: RequestOptions = {}) => () =>
    validate(hello)(request(options, overrides).environ, recordingStartResponse(newRecording()));
  const cert = { subject: 'CN=alice', issuer: 'CN=ca', subjectAltName: null, serialNumber: '01', fingerprint256: 'AB:CD', validFrom: new Date(), validTo: new Date(), pem: '-----BEGIN CERTIFICATE-----' };
  const { subject: _s, ...noSubject } = cert;
  const { pem: _p, ...noPem } = cert;
  const { fingerprint256: _f, ...noFingerprint } = cert;
  const input = request().environ['tsgi.input'];

  it.each([
    ['tsgi.raw_headers that is a string', { 'tsgi.raw_headers': 'Host: localhost' }, '§3.6'],
    ['a raw header that is an array-like object, not an array', { 'tsgi.raw_headers': [{ 0: 'Host', 1: 'localhost', length: 2 }] }, '§3.6'],
    ['a raw header of three strings', { 'tsgi.raw_headers': [['Host', 'localhost', 'x']] }, '§3.6'],
    ['a raw header whose name is a number', { 'tsgi.raw_headers': [[1, 'localhost']] }, '§3.6'],
    ['a raw header whose value is a number', { 'tsgi.raw_headers': [['Host', 8000]] }, '§3.6'],
    ['tsgi.trailers that is not an array', { 'tsgi.trailers': 'Expires: 0' }, '§3.6'],
    ['a trailer with a bad name', { 'tsgi.trailers': [['Bad Name', 'x']] }, '§3.6'],
    ['HTTP_CONTENT_LENGTH duplicating CONTENT_LENGTH', { HTTP_CONTENT_LENGTH: '5' }, '§3.4'],
    ['an HTTP_ value that is a number', { HTTP_X_TRACE: 1 }, '§3.4'],
    ['tsgi.input null', { 'tsgi.input': null }, '§3.6'],
    ['no tsgi.input', { 'tsgi.input': undefined }, '§3.6'],
    ['tsgi.input without [Symbol.asyncIterator]', { 'tsgi.input': { read: input.read } }, '§3.6'],
    ['tsgi.errors null', { 'tsgi.errors': null }, '§3.6'],
    ['no tsgi.errors', { 'tsgi.errors': undefined }, '§3.6'],
    ['tsgi.errors without write()', { 'tsgi.errors': { flush: () => {} } }, '§3.6'],
    ["SCRIPT_NAME without a leading '/'", { SCRIPT_NAME: 'app', PATH_INFO: '/hello' }, '§3.2'],
    ["PATH_INFO '*' for OPTIONS on a mounted app", { REQUEST_METHOD: 'OPTIONS', SCRIPT_NAME: '/app', PATH_INFO: '*', RAW_URI: '*', QUERY_STRING: '' }, '§3.3'],
    ['a REMOTE_PORT that is not digits', { REMOTE_PORT: 'abc' }, '§3.5'],
    ['an empty SERVER_SOFTWARE', { SERVER_SOFTWARE: '' }, '§3.5'],
    ["a SERVER_NAME with '[' but no ']'", { SERVER_NAME: '[::1' }, '§3.5'],
    ["a SERVER_NAME with ']' but no '['", { SERVER_NAME: '::1]' }, '§3.5'],
    ['a tsgi.peer_certificate that is null', { 'tsgi.url_scheme': 'https', 'tsgi.peer_certificate': null }, '§3.7'],
    ['a tsgi.peer_certificate without subject', { 'tsgi.url_scheme': 'https', 'tsgi.peer_certificate': noSubject }, '§3.7'],
    ['a tsgi.peer_certificate without pem', { 'tsgi.url_scheme': 'https', 'tsgi.peer_certificate': noPem }, '§3.7'],
    ['a tsgi.peer_certificate without fingerprint256', { 'tsgi.url_scheme': 'https', 'tsgi.peer_certificate': noFingerprint }, '§3.7'],
  ])('environ with %s', async (_name, overrides, rule) => {
    await expectBreach(callWith(overrides), 'server', rule);
  });

  it.each([
    ["a mounted app with PATH_INFO ''", { SCRIPT_NAME: '/app', PATH_INFO: '', RAW_URI: '/app', QUERY_STRING: '' }],
    ['OPTIONS * on an unmounted app', { REQUEST_METHOD: 'OPTIONS', PATH_INFO: '*', RAW_URI: '*', QUERY_STRING: '' }],
    ['SERVER_PROTOCOL HTTP/1.0', { SERVER_PROTOCOL: 'HTTP/1.0' }],
    ["REMOTE_PORT '' (a unix socket)", { REMOTE_ADDR: '', REMOTE_PORT: '' }],
    ['trailers of [name, value] pairs', { 'tsgi.trailers': [['Expires', '0']] }],
  ])('environ with %s passes', (_name, overrides) => {
    expect(callWith(overrides)).not.toThrow();
  });

  it('a tsgi.peer_certificate key that is present but undefined', async () => {
    const built = request({}, { 'tsgi.url_scheme': 'https' });
    built.environ['tsgi.peer_certificate'] = undefined;
    await expectBreach(() => validate(hello)(built.environ, recordingStartResponse(newRecording())), 'server', '§3.7');
  });

  it('a TSGI 1.0 server is not held to the 1.1 request-target forms', () => {
    expect(callWith({ RAW_URI: '/a%zz', PATH_INFO: '/a%zz', QUERY_STRING: '' }, { minor: 0 })).not.toThrow();
  });

  it('the app of a TSGI 1.0 server sees no tsgi.early_hints: the validator adds no 1.1 key', () => {
    let seen: unknown = 'not called';
    const app: App = (environ, startResponse) => {
      seen = environ['tsgi.early_hints'];
      startResponse('200 OK', []);
      return [];
    };
    validate(app)(request({ minor: 0 }).environ, recordingStartResponse(newRecording()));
    expect(seen).toBeUndefined();
  });

  it('a server that calls the app with a third argument breaks §2.1', async () => {
    const call = validate(hello) as unknown as (...args: unknown[]) => unknown;
    await expectBreach(() => call(request().environ, recordingStartResponse(newRecording()), {}), 'server', '§2.1');
  });

  it('an app without close() stays without close(): the server has nothing to call at shutdown', () => {
    expect(validate(hello).close).toBeUndefined();
  });
});

describe('response header pairs, each part on its own', () => {
  const run = (app: App) => () => serve(validate(app), request().environ);
  it.each([
    ['an array-like object, not an array', [{ 0: 'X-Id', 1: '1', length: 2 }]],
    ['three strings', [['X-Id', '1', '2']]],
    ['a name that is a number', [[1, 'x']]],
    ['a value that is a number', [['X-Id', 1]]],
  ])('a header that is %s', async (_name, headers) => {
    await expectBreach(run(appWith('200 OK', headers as unknown as Header[], [])), 'app', '§5.3');
  });
});

/** The app's view of the request's tsgi.input, the response begun and not yet ended. */
function inputOfApp(built: BuiltRequest): InputStream {
  let input: InputStream | undefined;
  const app: App = (environ, startResponse) => {
    input = environ['tsgi.input'];
    startResponse('200 OK', []);
    return [];
  };
  validate(app)(built.environ, recordingStartResponse(newRecording()));
  return input!;
}

/** Reads tsgi.input to its end, as text. */
async function readAll(input: InputStream): Promise<string> {
  let all = '';
  for (;;) {
    const chunk = await input.read();
    if (chunk.length === 0) return all;
    all += decoder.decode(chunk);
  }
}

describe('tsgi.input checks, each part on its own', () => {
  const post = { method: 'POST', body: ['hello'] };
  const rejecting = (read: () => Promise<Uint8Array>): InputStream => ({ read, [Symbol.asyncIterator]: () => ({ next: async () => ({ done: true, value: undefined }) }) }) as unknown as InputStream;

  it('a body framed by Content-Length needs no tsgi.trailers', async () => {
    expect(await readAll(inputOfApp(request(post)))).toBe('hello');
  });

  it('a chunked body is known by its raw Transfer-Encoding too, in any case: its end needs tsgi.trailers', async () => {
    for (const name of ['Transfer-Encoding', 'transfer-encoding']) {
      const built = request({ method: 'POST', body: ['hello'], chunked: true }, { HTTP_TRANSFER_ENCODING: undefined, 'tsgi.raw_headers': [['Host', 'localhost:8000'], [name, 'chunked']] });
      built.environ['tsgi.input'] = inputOf([encoder.encode('hello')], () => {}, undefined, built.controller.signal);
      await expectBreach(() => readAll(inputOfApp(built)), 'server', '§4.4');
    }
  });

  it('bad trailers at the end of a chunked body break §4.4', async () => {
    const built = request({ method: 'POST', body: ['hello'], chunked: true, trailers: [['Bad Name', 'x']] });
    await expectBreach(() => readAll(inputOfApp(built)), 'server', '§4.4');
  });

  it('a request with neither Content-Length nor Transfer-Encoding has no content (RFC 9112 §6.3)', async () => {
    const built = request();
    built.environ['tsgi.input'] = inputOf([encoder.encode('x')], () => {}, undefined, built.controller.signal);
    await expectBreach(() => readAll(inputOfApp(built)), 'server', '§4.4');
  });

  it("a Content-Length on the wire with CONTENT_LENGTH '' (a body a middleware transforms, §11.2) may have any length", async () => {
    const built = request(post, { CONTENT_LENGTH: '' });
    expect(await readAll(inputOfApp(built))).toBe('hello');
  });

  it('a TSGI 1.0 server: read(0) and an overlapping read are the app breaking §4.1 and §4.3, at the call', async () => {
    const input = inputOfApp(request({ ...post, minor: 0 }));
    await expectBreach(() => input.read(0), 'app', '§4.1');
    const first = input.read(1);
    await expectBreach(() => input.read(1), 'app', '§4.3');
    await first;
  });

  it('iterating while a read is pending, or reading while a next() is pending, is the app breaking §4.3', async () => {
    const input = inputOfApp(request(post));
    const reading = input.read(1);
    await expectBreach(() => input[Symbol.asyncIterator]().next(), 'app', '§4.3');
    await reading;
    const iterating = input[Symbol.asyncIterator]().next();
    await expectBreach(() => input.read(1), 'app', '§4.3');
    await iterating;
  });

  it('leaving a for-await over tsgi.input early ends the source iteration', async () => {
    let finished = false;
    const built = request(post);
    built.environ['tsgi.input'] = {
      read: async () => new Uint8Array(0),
      async *[Symbol.asyncIterator]() {
        try {
          yield encoder.encode('hel');
          yield encoder.encode('lo');
        } finally {
          finished = true;
        }
      },
    };
    for await (const _chunk of inputOfApp(built)) break;
    expect(finished).toBe(true);
  });

  it('after a read rejected, the next read is no overlap: it gets the abandoned request reason', async () => {
    const built = request(post);
    const gone = new TsgiError('TSGI_ERR_CLIENT_GONE', 'gone');
    built.environ['tsgi.input'] = rejecting(() => {
      built.controller.abort(gone);
      return Promise.reject(gone);
    });
    const input = inputOfApp(built);
    await expect(input.read()).rejects.toBe(gone);
    await expect(input.read()).rejects.toBe(gone);
  });

  it('a read that fails for another reason, the signal not aborted, passes its error through', async () => {
    const failure = new Error('disk');
    const built = request(post);
    built.environ['tsgi.input'] = rejecting(() => Promise.reject(failure));
    await expect(inputOfApp(built).read()).rejects.toBe(failure);
  });

  it('a TSGI 1.0 server rejecting a read with an abandonment code passes it through (it has no signal)', async () => {
    const gone = new TsgiError('TSGI_ERR_CLIENT_GONE', 'gone');
    const built = request({ ...post, minor: 0 });
    built.environ['tsgi.input'] = rejecting(() => Promise.reject(gone));
    await expect(inputOfApp(built).read()).rejects.toBe(gone);
  });

  it('a server read() that returns a chunk instead of a Promise breaks §4.1', async () => {
    const built = request(post);
    built.environ['tsgi.input'] = { read: () => encoder.encode('hello'), [Symbol.asyncIterator]: built.environ['tsgi.input'][Symbol.asyncIterator] } as unknown as InputStream;
    await expectBreach(() => inputOfApp(built).read(), 'server', '§4.1');
  });

  it('a server that rejects read(0) with something other than a RangeError breaks §4.1', async () => {
    const built = request(post);
    built.environ['tsgi.input'] = rejecting(() => Promise.reject(new Error('no')));
    await expectBreach(() => inputOfApp(built).read(0), 'server', '§4.1');
  });

  it('after the response ended: a rejection other than TSGI_ERR_RESPONSE_ENDED breaks §4.8; the abandonment reason is allowed', async () => {
    const run = async (built: BuiltRequest) => {
      let input: InputStream | undefined;
      const app: App = (environ, startResponse) => {
        input = environ['tsgi.input'];
        startResponse('200 OK', []);
        return [];
      };
      await serve(validate(app), built.environ);
      return input!;
    };
    const lax = request(post);
    lax.environ['tsgi.input'] = rejecting(() => Promise.reject(new Error('no')));
    await expectBreach(async () => (await run(lax)).read(), 'server', '§4.8');

    const gone = new TsgiError('TSGI_ERR_CLIENT_GONE', 'gone');
    const abandoned = request(post);
    abandoned.environ['tsgi.input'] = rejecting(() => Promise.reject(gone));
    const input = await run(abandoned);
    abandoned.controller.abort(gone);
    await expect(input.read()).rejects.toBe(gone);
  });

  it('after abandoning the request, a read rejected with another reason than the signal one breaks §3.9', async () => {
    const built = request(post);
    built.environ['tsgi.input'] = rejecting(() => Promise.reject(new TsgiError('TSGI_ERR_RESPONSE_ENDED', 'ended')));
    const input = inputOfApp(built);
    built.abandon('TSGI_ERR_BODY_TIMEOUT');
    await expectBreach(() => input.read(), 'server', '§3.9');
  });

  it('tsgi.errors.flush() reaches the server', () => {
    let flushed = 0;
    const built = request({}, { 'tsgi.errors': { write: () => {}, flush: () => void flushed++ } });
    const app: App = (environ, startResponse) => {
      environ['tsgi.errors'].flush();
      startResponse('200 OK', []);
      return [];
    };
    validate(app)(built.environ, recordingStartResponse(newRecording()));
    expect(flushed).toBe(1);
  });
});

describe('response body rules for iterated (not Array) bodies', () => {
  const run = (app: App, options: RequestOptions = {}) => () => serve(validate(app), request(options).environ);
  const generator = (...chunks: Chunk[]) => () => (function* () { yield* chunks; })();

  it('content from a generator in a 204 or a 304 breaks §6.3', async () => {
    await expectBreach(run(appWith('204 No Content', [], generator('x'))), 'app', '§6.3');
    await expectBreach(run(appWith('304 Not Modified', [], generator('x'))), 'app', '§6.3');
  });

  it('an empty chunk is no content, even in a 204', async () => {
    await expect(run(appWith('204 No Content', [], generator('', new Uint8Array(0))))()).resolves.toBeDefined();
  });

  it('a 304 may carry the Content-Length of the representation it stands for (RFC 9110 §8.6)', async () => {
    await expect(run(appWith('304 Not Modified', [['Content-Length', '10']], generator()))()).resolves.toBeDefined();
  });

  it('a generator body longer or shorter than its Content-Length breaks §6.3', async () => {
    await expectBreach(run(appWith('200 OK', [['Content-Length', '3']], generator('abc', 'd'))), 'app', '§6.3');
    await expectBreach(run(appWith('200 OK', [['Content-Length', '4']], generator('ab'))), 'app', '§6.3');
    const sent = await run(appWith('200 OK', [['Content-Length', '4']], generator('ab', 'cd')))();
    expect(sent.sent.join('')).toBe('abcd');
  });

  it('a generator that yields before startResponse breaks §5.1, at that chunk, even if it calls startResponse next', async () => {
    const app: App = (_environ, startResponse) =>
      (function* () {
        yield 'early';
        startResponse('200 OK', []);
      })();
    await expectBreach(run(app), 'app', '§5.1');
  });

  it('a TSGI 1.0 server that asks a generator body for a chunk after close() breaks §6.4', async () => {
    const app = appWith('200 OK', [], generator('a', 'b'));
    const body = validate(app)(request({ minor: 0 }).environ, recordingStartResponse(newRecording())) as Iterable<Chunk> & Body;
    const iterator = body[Symbol.iterator]();
    iterator.next();
    body.close?.();
    await expectBreach(() => iterator.next(), 'server', '§6.4');
  });
});

describe('abandonment reasons and odd rejections', () => {
  const reportsOf = () => {
    const reports: ValidationError[] = [];
    return { reports, options: { closeDeadlineMs: 30, report: (error: ValidationError) => void reports.push(error) } };
  };

  it("a signal aborted with a parse error's own code (a malformed request body) is a valid abandonment (§3.9)", async () => {
    const { reports, options } = reportsOf();
    const built = request({ method: 'POST', body: ['hello'] });
    let input: InputStream | undefined;
    const app: App = (environ, startResponse) => {
      input = environ['tsgi.input'];
      startResponse('200 OK', []);
      return [];
    };
    validate(app, options)(built.environ, recordingStartResponse(newRecording()));
    const malformed = new TsgiError('TSGI_ERR_HTTP_INCOMPLETE', 'the client closed the connection mid-body');
    built.controller.abort(malformed);
    await expect(input!.read()).rejects.toBe(malformed);
    expect(reports).toEqual([]);
  });

  it.each([[undefined], [null], ['a string']])('a read rejected with %s passes it through unchanged', async (reason) => {
    const built = request({ method: 'POST', body: ['hello'] });
    built.environ['tsgi.input'] = { read: () => Promise.reject(reason), [Symbol.asyncIterator]: built.environ['tsgi.input'][Symbol.asyncIterator] } as unknown as InputStream;
    let input: InputStream | undefined;
    const app: App = (environ, startResponse) => {
      input = environ['tsgi.input'];
      startResponse('200 OK', []);
      return [];
    };
    validate(app)(built.environ, recordingStartResponse(newRecording()));
    await expect(input!.read()).rejects.toBe(reason);
  });

  it('write() returning null is the server breaking §5.5', async () => {
    const startResponse = (() => () => null) as unknown as StartResponse;
    const app: App = (_environ, start) => {
      start('200 OK', [])('x');
      return [];
    };
    await expectBreach(() => validate(app)(request().environ, startResponse), 'server', '§5.5');
  });
});

describe("the body's iterators keep the iterator protocol", () => {
  const start = () => recordingStartResponse(newRecording());
  /** An iterable whose iterator has next() only, as a hand-written one may. */
  const nextOnly = (chunks: string[], isAsync: boolean) => {
    const make = () => {
      let i = 0;
      const next = () => (i < chunks.length ? { done: false, value: chunks[i++]! } : { done: true, value: undefined });
      return isAsync ? { next: async () => next() } : { next };
    };
    return isAsync ? { [Symbol.asyncIterator]: make } : { [Symbol.iterator]: make };
  };

  it('leaving a for...of over a generator body early runs its finally; its iterator is iterable', async () => {
    let finished = false;
    const app = appWith('200 OK', [], () =>
      (function* () {
        try {
          yield 'a';
          yield 'b';
        } finally {
          finished = true;
        }
      })(),
    );
    const body = validate(app)(request().environ, start()) as Iterable<Chunk> & Body;
    const iterator = body[Symbol.iterator]();
    expect(iterator[Symbol.iterator]()).toBe(iterator);
    for (const _chunk of iterator) break;
    expect(finished).toBe(true);
    await body.close?.();
  });

  it('leaving a for await over an async generator body early runs its finally; its iterator is iterable', async () => {
    let finished = false;
    const app = appWith('200 OK', [], () =>
      (async function* () {
        try {
          yield 'a';
          yield 'b';
        } finally {
          finished = true;
        }
      })(),
    );
    const body = validate(app)(request().environ, start()) as AsyncIterable<Chunk> & Body;
    const iterator = body[Symbol.asyncIterator]();
    expect(iterator[Symbol.asyncIterator]()).toBe(iterator);
    for await (const _chunk of iterator) break;
    expect(finished).toBe(true);
    await body.close?.();
  });

  it.each([[false], [true]])('a body whose iterator has no return() can be left early (async: %s)', async (isAsync) => {
    const app = appWith('200 OK', [], () => nextOnly(['a', 'b'], isAsync) as unknown as Body);
    const body = validate(app)(request().environ, start()) as Body;
    const leave = async (): Promise<string[]> => {
      const seen: string[] = [];
      if (isAsync) {
        for await (const chunk of body as AsyncIterable<Chunk>) {
          seen.push(text(chunk));
          break;
        }
      } else {
        for (const chunk of body as Iterable<Chunk>) {
          seen.push(text(chunk));
          break;
        }
      }
      await body.close?.();
      return seen;
    };
    await expect(leave()).resolves.toEqual(['a']);
    // The iterator protocol's answer for an iterator without return(): done.
    const again = validate(app)(request().environ, start()) as Body;
    const iterator = isAsync ? (again as AsyncIterable<Chunk>)[Symbol.asyncIterator]() : (again as Iterable<Chunk>)[Symbol.iterator]();
    await expect(Promise.resolve(iterator.return!())).resolves.toEqual({ done: true, value: undefined });
  });
});

describe('Content-Length 0 and Array elements read by index', () => {
  it('Content-Length: 0 with an empty body is a valid response', async () => {
    const recording = await serve(validate(appWith('200 OK', [['Content-Length', '0']], [])), request().environ);
    expect(recording.sent.join('')).toBe('');
  });

  it('an Array holding a number is the app breaking §6.2 when it is returned, before any server reads it', () => {
    const app = appWith('200 OK', [], [5] as unknown as Body);
    let caught: unknown;
    try {
      validate(app)(request().environ, recordingStartResponse(newRecording()));
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ culprit: 'app', rule: '§6.2' });
  });
});

describe('write() after the response ended, and the close() deadline', () => {
  const reportsOf = (closeDeadlineMs = 30) => {
    const reports: ValidationError[] = [];
    return { reports, options: { closeDeadlineMs, report: (error: ValidationError) => void reports.push(error) } };
  };
  /** Runs an app that writes once after its Array body was closed, against `serverWrite`. */
  const lateWrite = async (serverWrite: Write, built = request()) => {
    const { reports, options } = reportsOf();
    let write: ((chunk: Chunk) => Promise<void>) | undefined;
    const app: App = (_environ, startResponse) => {
      write = startResponse('200 OK', []);
      return [];
    };
    const body = validate(app, options)(built.environ, () => serverWrite) as Body;
    for (const _chunk of body as Iterable<Chunk>);
    await body.close?.();
    return { reports, write: () => write!('late'), built };
  };

  it('a server that rejects it with another error than TSGI_ERR_RESPONSE_ENDED is reported (§5.5)', async () => {
    const { reports, write } = await lateWrite(() => Promise.reject(new Error('socket closed')));
    await expectBreach(write, 'app', '§5.5');
    await waitFor(() => reports.length > 0);
    expect(reports.map((r) => [r.culprit, r.rule])).toEqual([['server', '§5.5']]);
  });

  it("a server that rejects it with the abandoned request's reason is right too", async () => {
    const gone = new TsgiError('TSGI_ERR_CLIENT_GONE', 'gone');
    const { reports, write, built } = await lateWrite(() => Promise.reject(gone));
    built.controller.abort(gone);
    await expectBreach(write, 'app', '§5.5');
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(reports.filter((r) => r.rule === '§5.5')).toEqual([]);
  });

  it('closeDeadlineMs sets how long the server has to call close()', async () => {
    const { reports, options } = reportsOf(10);
    const body = validate(hello, options)(request().environ, recordingStartResponse(newRecording())) as Iterable<Chunk>;
    for (const _chunk of body);
    // The default is 1000 ms; 10 ms is over well within half a second.
    await waitFor(() => reports.length > 0, 500);
    expect(reports[0]).toMatchObject({ culprit: 'server', rule: '§6.4' });
  });
});

describe('more parts on their own: environ, framing, input iteration, write() after the client left', () => {
  const callWith = (overrides: Record<string, unknown>) => () =>
    validate(hello)(request({}, overrides).environ, recordingStartResponse(newRecording()));

  it.each([
    ['a raw header value holding CR LF', { 'tsgi.raw_headers': [['X-Id', 'a\r\nb']] }, '§3.6'],
    ['a CONTENT_TYPE holding CR LF', { CONTENT_TYPE: 'text/plain\r\nX: 1' }, '§3.4'],
    ['a tsgi.version that is an array-like object', { 'tsgi.version': { 0: 1, 1: 1, length: 2 } }, '§3.6'],
    ['a tsgi.version of three numbers', { 'tsgi.version': [1, 1, 0] }, '§3.6'],
    ['tsgi.upgrade on a request whose only 7-letter field is Referer', { 'tsgi.upgrade': () => {}, 'tsgi.raw_headers': [['Referer', 'http://a.example/']] }, '§3.10'],
  ])('environ with %s', async (_name, overrides, rule) => {
    await expectBreach(callWith(overrides), 'server', rule);
  });

  it.each([[null], [[]], ['REQUEST_METHOD=GET']])('an environ that is %j is the server breaking §3.1', async (environ) => {
    await expectBreach(() => (validate(hello) as unknown as (...args: unknown[]) => unknown)(environ, recordingStartResponse(newRecording())), 'server', '§3.1');
  });

  it('a chunked body known only by its raw Transfer-Encoding (any case) ends with its trailers, at any length', async () => {
    for (const name of ['Transfer-Encoding', 'TRANSFER-ENCODING']) {
      const built = request({ method: 'POST', body: ['hello'], chunked: true }, { HTTP_TRANSFER_ENCODING: undefined, 'tsgi.raw_headers': [['Host', 'localhost:8000'], [name, 'chunked']] });
      expect(await readAll(inputOfApp(built)), name).toBe('hello');
    }
  });

  it('other fields of the same lengths as Transfer-Encoding and Content-Length frame nothing', async () => {
    const sized = request({ method: 'POST', body: ['hello'] }, { 'tsgi.raw_headers': [['Host', 'localhost:8000'], ['If-Modified-Since', 'x'], ['Content-Length', '5']] });
    expect(await readAll(inputOfApp(sized))).toBe('hello');
    const none = request({}, { 'tsgi.raw_headers': [['Host', 'localhost:8000'], ['Accept-Charset', 'utf-8']] });
    none.environ['tsgi.input'] = inputOf([encoder.encode('x')], () => {}, undefined, none.controller.signal);
    await expectBreach(() => readAll(inputOfApp(none)), 'server', '§4.4');
  });

  it('errors thrown or rejected by the server input pass through, and the next read is no overlap', async () => {
    const failure = new Error('disk');
    let mode: 'throw' | 'reject' | 'ok' = 'throw';
    const built = request({ method: 'POST', body: ['hello'] });
    built.environ['tsgi.input'] = {
      read: () => {
        if (mode === 'throw') throw failure;
        return Promise.resolve(encoder.encode('hello'));
      },
      [Symbol.asyncIterator]: () => ({
        next: () => {
          if (mode === 'throw') throw failure;
          if (mode === 'reject') return Promise.reject(failure);
          return Promise.resolve({ done: false, value: encoder.encode('hello') });
        },
      }),
    } as unknown as InputStream;
    const input = inputOfApp(built);
    expect(() => input.read()).toThrow(failure);
    expect(() => input[Symbol.asyncIterator]().next()).toThrow(failure);
    mode = 'reject';
    await expect(input[Symbol.asyncIterator]().next()).rejects.toBe(failure);
    mode = 'ok';
    expect(decoder.decode(await input.read())).toBe('hello');
  });

  it('a read(0) the server refuses by throwing a RangeError at once is the app breaking §4.1', async () => {
    const built = request({ method: 'POST', body: ['hello'] });
    built.environ['tsgi.input'] = {
      read: (size?: number) => {
        if (size === 0) throw new RangeError('read(0)');
        return Promise.resolve(new Uint8Array(0));
      },
      [Symbol.asyncIterator]: built.environ['tsgi.input'][Symbol.asyncIterator],
    } as unknown as InputStream;
    await expectBreach(() => inputOfApp(built).read(0), 'app', '§4.1');
  });

  it('a server read() that returns no Promise, twice: each is the server breaking §4.1, neither an overlap', async () => {
    const built = request({ method: 'POST', body: ['hello'] });
    built.environ['tsgi.input'] = { read: () => encoder.encode('hello'), [Symbol.asyncIterator]: built.environ['tsgi.input'][Symbol.asyncIterator] } as unknown as InputStream;
    const input = inputOfApp(built);
    await expectBreach(() => input.read(), 'server', '§4.1');
    await expectBreach(() => input.read(), 'server', '§4.1');
  });

  it("tsgi.input's iterator is itself async-iterable, and its return() settles as done", async () => {
    const built = request({ method: 'POST', body: ['hello'] });
    built.environ['tsgi.input'] = { read: async () => new Uint8Array(0), [Symbol.asyncIterator]: () => ({ next: async () => ({ done: true, value: undefined }) }) } as unknown as InputStream;
    const iterator = inputOfApp(built)[Symbol.asyncIterator]();
    expect(iterator[Symbol.asyncIterator]()).toBe(iterator);
    await expect(iterator.return!()).resolves.toEqual({ done: true, value: undefined });
  });

  it('after the response ended and the signal was aborted, a read rejected with neither code breaks §4.8', async () => {
    const built = request({ method: 'POST', body: ['hello'] });
    built.environ['tsgi.input'] = { read: () => Promise.reject(new Error('no')), [Symbol.asyncIterator]: built.environ['tsgi.input'][Symbol.asyncIterator] } as unknown as InputStream;
    let input: InputStream | undefined;
    const app: App = (environ, startResponse) => {
      input = environ['tsgi.input'];
      startResponse('200 OK', []);
      return [];
    };
    await serve(validate(app, { report: () => {} }), built.environ);
    built.abandon('TSGI_ERR_CLIENT_GONE');
    await expectBreach(() => input!.read(), 'server', '§4.8');
  });

  it('write() while the client is still there is not watched; after it left, only TSGI_ERR_CLIENT_GONE is right', async () => {
    const run = async (leave: boolean, serverWrite: Write) => {
      const reports: ValidationError[] = [];
      const built = request();
      let write: ((chunk: Chunk) => Promise<void>) | undefined;
      const app: App = (_environ, startResponse) => {
        write = startResponse('200 OK', []);
        return (function* () {})();
      };
      validate(app, { report: (error) => void reports.push(error) })(built.environ, () => serverWrite);
      if (leave) built.abandon('TSGI_ERR_CLIENT_GONE');
      await write!('x').catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 5));
      return reports.map((r) => r.rule);
    };
    expect(await run(false, async () => {})).toEqual([]);
    expect(await run(true, () => Promise.reject(new TsgiError('TSGI_ERR_CLIENT_GONE', 'gone')))).toEqual([]);
    expect(await run(true, () => Promise.reject(new Error('EPIPE')))).toEqual(['§5.5']);
  });

  it('an app may return a thenable that is a function (Promises/A+ §1.2)', async () => {
    const app = ((_environ: Environ, startResponse: StartResponse) => {
      startResponse('200 OK', []);
      return Object.assign(() => {}, { then: (resolve: (body: Body) => void) => resolve(['hi']) });
    }) as unknown as App;
    expect((await serve(validate(app), request().environ)).sent.join('')).toBe('hi');
  });

  it('write() after close() where the server write() returns no Promise: the app breach is still thrown', async () => {
    let write: ((chunk: Chunk) => Promise<void>) | undefined;
    const app: App = (_environ, startResponse) => {
      write = startResponse('200 OK', []);
      return [];
    };
    const body = validate(app, { report: () => {} })(request().environ, () => (() => undefined) as unknown as Write) as Body;
    for (const _chunk of body as Iterable<Chunk>);
    await body.close?.();
    await expectBreach(() => write!('late'), 'app', '§5.5');
  });
});

describe('more body rules, each part on its own', () => {
  const reportsOf = (closeDeadlineMs = 10) => {
    const reports: ValidationError[] = [];
    return { reports, options: { closeDeadlineMs, report: (error: ValidationError) => void reports.push(error) } };
  };

  it('content in an Array body of a 204 breaks §6.3', async () => {
    await expectBreach(() => serve(validate(appWith('204 No Content', [], ['x'])), request().environ), 'app', '§6.3');
  });

  it('iterating a body after close() breaks §6.4, for an Array and for a generator', async () => {
    const array = validate(hello)(request().environ, recordingStartResponse(newRecording())) as Iterable<Chunk> & Body;
    await array.close?.();
    await expectBreach(() => array[Symbol.iterator](), 'server', '§6.4');
    const generator = validate(appWith('200 OK', [], () => (function* () { yield 'a'; })()))(request().environ, recordingStartResponse(newRecording())) as Iterable<Chunk> & Body;
    await generator.close?.();
    await expectBreach(() => generator[Symbol.iterator](), 'server', '§6.4');
  });

  it("next() after the iterator's return() on a sync body breaks §6.4", async () => {
    const app = appWith('200 OK', [], () => (function* () { yield 'a'; yield 'b'; })());
    const body = validate(app)(request().environ, recordingStartResponse(newRecording())) as Iterable<Chunk> & Body;
    const iterator = body[Symbol.iterator]();
    iterator.next();
    iterator.return?.();
    await expectBreach(() => iterator.next(), 'server', '§6.4');
  });

  it('an async body that throws: the error reaches the server, whose close() then is no breach', async () => {
    const failure = new Error('upstream failed');
    const app = appWith('200 OK', [], () =>
      (async function* () {
        yield 'a';
        throw failure;
      })(),
    );
    const body = validate(app)(request().environ, recordingStartResponse(newRecording())) as AsyncIterable<Chunk> & Body;
    const iterator = body[Symbol.asyncIterator]();
    await iterator.next();
    await expect(iterator.next()).rejects.toBe(failure);
    expect(() => body.close?.()).not.toThrow();
  });

  it('the Array body a middleware receives lets it wrap close() and the iterator', () => {
    const body = validate(hello)(request().environ, recordingStartResponse(newRecording())) as Chunk[] & Body;
    const close = body.close!;
    const iterate = body[Symbol.iterator];
    expect(() => {
      body.close = () => close.call(body);
      body[Symbol.iterator] = function () {
        return iterate.call(this);
      };
      Object.defineProperty(body, Symbol.iterator, { get: () => iterate, configurable: true });
      Object.defineProperty(body, 'close', { get: () => close, configurable: true });
    }).not.toThrow();
    expect([...body]).toEqual(['Hello, World!']);
    body.close();
  });

  it('a TSGI 1.0 server is not held to rejecting a write() after the response ended', async () => {
    const { reports, options } = reportsOf();
    let write: ((chunk: Chunk) => Promise<void>) | undefined;
    const app: App = (_environ, startResponse) => {
      write = startResponse('200 OK', []);
      return [];
    };
    const body = validate(app, options)(request({ minor: 0 }).environ, () => async () => {}) as Body;
    for (const _chunk of body as Iterable<Chunk>);
    await body.close?.();
    await expectBreach(() => write!('late'), 'app', '§5.5');
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(reports.filter((r) => r.rule === '§5.5')).toEqual([]);
  });

  it('a body returned after the request was abandoned must be closed within the deadline', async () => {
    const { reports, options } = reportsOf(10);
    const built = request();
    let resolve: ((body: Body) => void) | undefined;
    const app: App = (_environ, startResponse) => {
      startResponse('200 OK', []);
      return new Promise<Body>((r) => (resolve = r));
    };
    const pending = validate(app, options)(built.environ, recordingStartResponse(newRecording())) as Promise<Body>;
    built.abandon('TSGI_ERR_CLIENT_GONE');
    resolve!(['late']);
    await pending; // the server never iterates nor closes it
    await waitFor(() => reports.length > 0, 500);
    expect(reports[0]).toMatchObject({ culprit: 'server', rule: '§6.4' });
  });

  it('an empty chunk sends no head: startResponse with excInfo may still replace the headers', async () => {
    const app: App = (_environ, startResponse) => {
      startResponse('200 OK', []);
      return (function* () {
        yield '';
        startResponse('500 Internal Server Error', [], new Error('failed after an empty chunk'));
        yield 'failed';
      })();
    };
    const recording = await serve(validate(app), request().environ);
    expect(recording.starts).toEqual(['200 OK', '500 Internal Server Error']);
    expect(recording.sent.join('')).toBe('failed');
  });
});

describe('the default report', () => {
  it('when the request tsgi.errors cannot be written, the breach becomes a process warning', async () => {
    const warnings: unknown[] = [];
    const listener = (warning: unknown) => void warnings.push(warning);
    process.on('warning', listener);
    try {
      const errors: ErrorStream = {
        write: () => {
          throw new Error('log closed');
        },
        flush: () => {},
      };
      const body = validate(hello, { closeDeadlineMs: 10 })(request({}, { 'tsgi.errors': errors }).environ, recordingStartResponse(newRecording())) as Iterable<Chunk>;
      for (const _chunk of body);
      await waitFor(() => warnings.length > 0, 1000);
      expect(warnings[0]).toMatchObject({ culprit: 'server', rule: '§6.4' });
    } finally {
      process.off('warning', listener);
    }
  });
});
