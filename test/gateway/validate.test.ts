import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { TsgiError } from '../../src/errors.js';
import type { App, Body, Chunk, Environ, ErrorStream, Header, InputStream, StartResponse } from '../../src/gateway/types.js';
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
}

interface BuiltRequest {
  environ: Environ;
  logged: string[];
}

/** tsgi.input over fixed parts: read(size) slices, an empty array means the end (spec §4.1). */
function inputOf(parts: Uint8Array[], onEnd: () => void): InputStream {
  const queue = parts.filter((part) => part.length > 0);
  const read = async (size?: number): Promise<Uint8Array> => {
    const head = queue[0];
    if (head === undefined) {
      onEnd();
      return new Uint8Array(0);
    }
    if (size === undefined || size < 0 || head.length <= size) {
      queue.shift();
      return head;
    }
    queue[0] = head.subarray(size);
    return head.subarray(0, size);
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
  const parts = (options.body ?? []).map((part) => encoder.encode(part));
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  const logged: string[] = [];
  const errors: ErrorStream = { write: (message) => void logged.push(message), flush: () => {} };
  const rawHeaders: Header[] = [['Host', 'localhost:8000']];
  if (options.chunked) rawHeaders.push(['Transfer-Encoding', 'chunked']);
  else if (parts.length > 0) rawHeaders.push(['Content-Length', String(length)]);
  const environ: Environ = {
    REQUEST_METHOD: options.method ?? 'GET',
    SCRIPT_NAME: '',
    PATH_INFO: '/hello',
    QUERY_STRING: 'a=1',
    CONTENT_TYPE: '',
    CONTENT_LENGTH: options.chunked || parts.length === 0 ? '' : String(length),
    SERVER_NAME: '127.0.0.1',
    SERVER_PORT: '8000',
    SERVER_PROTOCOL: 'HTTP/1.1',
    SERVER_SOFTWARE: 'tsgi/0.1.0',
    REMOTE_ADDR: '127.0.0.1',
    REMOTE_PORT: '52100',
    RAW_URI: '/hello?a=1',
    HTTP_HOST: 'localhost:8000',
    'tsgi.version': [1, 1],
    'tsgi.url_scheme': 'http',
    'tsgi.input': inputOf(parts, () => {
      if (options.chunked) environ['tsgi.trailers'] = options.trailers ?? [];
    }),
    'tsgi.errors': errors,
    'tsgi.multithread': false,
    'tsgi.multiprocess': false,
    'tsgi.run_once': false,
    'tsgi.input_terminated': true,
    'tsgi.raw_headers': rawHeaders,
  };
  if (options.chunked) environ.HTTP_TRANSFER_ENCODING = 'chunked';
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete environ[key];
    else environ[key] = value;
  }
  return { environ, logged };
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

function recordingStartResponse(recording: Recording): StartResponse {
  return (status, headers, excInfo) => {
    if (excInfo !== undefined && recording.headersSent) throw excInfo;
    if (recording.status !== undefined && excInfo === undefined) throw new Error('startResponse called twice');
    recording.status = status;
    recording.headers = headers;
    recording.starts.push(status);
    return async (chunk) => {
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
  const body = await app(environ, recordingStartResponse(recording));
  const take = (chunk: Chunk) => {
    if (chunk.length > 0) recording.headersSent = true;
    recording.sent.push(text(chunk));
  };
  try {
    if (Symbol.asyncIterator in body) for await (const chunk of body) take(chunk);
    else for (const chunk of body) take(chunk);
  } finally {
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
    ['tsgi.version [1, 0]', { 'tsgi.version': [1, 0] }, '§3.6'],
    ["tsgi.url_scheme 'ftp'", { 'tsgi.url_scheme': 'ftp' }, '§3.6'],
    ['tsgi.input without read()', { 'tsgi.input': { [Symbol.asyncIterator]: () => ({}) } }, '§3.6'],
    ['tsgi.errors without flush()', { 'tsgi.errors': { write: () => {} } }, '§3.6'],
    ['tsgi.multiprocess not a boolean', { 'tsgi.multiprocess': 1 }, '§3.6'],
    ['tsgi.input_terminated false', { 'tsgi.input_terminated': false }, '§3.6'],
    ['tsgi.raw_headers of flat strings', { 'tsgi.raw_headers': ['Host', 'x'] }, '§3.6'],
    ['tsgi.raw_headers with a bad name', { 'tsgi.raw_headers': [['Bad Name', 'x']] }, '§3.6'],
    ['an unknown tsgi. key', { 'tsgi.late_hints': () => {} }, '§3.7'],
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
    ['without a reason separator', '200'],
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
