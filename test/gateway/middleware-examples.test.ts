/**
 * The middleware examples of docs/spec.md §11.2 (examples/middleware/) do what the spec says, keep
 * every rule it gives middleware, and appear in the spec exactly as they are in the repository.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { TsgiError } from '../../src/errors.js';
import { validate, ValidationError } from '../../src/gateway/validate.js';
import type { App, Body, Chunk, Environ, Header, InputStream, StartResponse } from '../../src/gateway/types.js';
import { gunzipRequests } from '../../examples/middleware/gunzip.js';
import { requestId } from '../../examples/middleware/request-id.js';
import { deadline } from '../../examples/middleware/deadline.js';

const spec = readFileSync(new URL('../../docs/spec.md', import.meta.url), 'utf8');

/** A TSGI 1.1 environ for a request with `body`, whose input follows spec §4 like a server's. */
function environOf(body: Uint8Array, headers: Header[], failWith?: Error): { environ: Environ; controller: AbortController } {
  const controller = new AbortController();
  let sent = false;
  const input: InputStream = {
    async read() {
      if (failWith !== undefined) throw failWith;
      if (sent) return new Uint8Array(0);
      sent = true;
      return body;
    },
    async *[Symbol.asyncIterator]() {
      for (let chunk = await this.read(); chunk.length > 0; chunk = await this.read()) yield chunk;
    },
  };
  const environ = {
    REQUEST_METHOD: 'POST', SCRIPT_NAME: '', PATH_INFO: '/upload', QUERY_STRING: '', CONTENT_TYPE: 'text/plain',
    CONTENT_LENGTH: String(body.length), SERVER_NAME: 'localhost', SERVER_PORT: '8000', SERVER_PROTOCOL: 'HTTP/1.1',
    SERVER_SOFTWARE: 'test/1', REMOTE_ADDR: '127.0.0.1', REMOTE_PORT: '40000', RAW_URI: '/upload',
    'tsgi.version': [1, 1], 'tsgi.url_scheme': 'http', 'tsgi.input': input, 'tsgi.errors': { write() {}, flush() {} },
    'tsgi.multithread': false, 'tsgi.multiprocess': true, 'tsgi.run_once': false, 'tsgi.input_terminated': true,
    'tsgi.raw_headers': [['Host', 'localhost:8000'], ['Content-Length', String(body.length)], ...headers],
    'tsgi.signal': controller.signal, 'tsgi.early_hints': () => {},
  } as unknown as Environ;
  for (const [name, value] of headers) environ[`HTTP_${name.toUpperCase().replaceAll('-', '_')}`] = value;
  return { environ, controller };
}

interface Served {
  status?: string;
  headers: Header[];
  body: string;
}

async function serve(app: App, environ: Environ): Promise<Served> {
  const served: Served = { headers: [], body: '' };
  const startResponse: StartResponse = (status, headers) => {
    served.status = status;
    served.headers = headers;
    return async (chunk) => void (served.body += String(chunk));
  };
  const body = (await app(environ, startResponse)) as Body;
  try {
    for await (const chunk of body as AsyncIterable<Chunk>) served.body += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
  } finally {
    await body.close?.();
  }
  return served;
}

/** Reads the whole body through the (validated) input and echoes what the app saw. */
const echo: App = async (environ, startResponse) => {
  const parts: Uint8Array[] = [];
  for await (const chunk of environ['tsgi.input']) parts.push(chunk);
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return [`${environ.CONTENT_LENGTH}|${environ.HTTP_CONTENT_ENCODING ?? '-'}|${Buffer.concat(parts).toString()}`];
};

describe('the middleware examples of spec §11.2', () => {
  it.each([['gunzip.ts'], ['request-id.ts'], ['deadline.ts']])('examples/middleware/%s is quoted in the spec as it is', (file) => {
    const code = readFileSync(new URL(`../../examples/middleware/${file}`, import.meta.url), 'utf8');
    expect(spec).toContain(`\`\`\`ts\n${code}\`\`\``);
  });

  it('gunzipRequests: the inner app reads the plain bytes, with no length and no encoding', async () => {
    const text = 'hello, '.repeat(1000);
    const { environ } = environOf(gzipSync(text), [['Content-Encoding', 'gzip']]);
    const served = await serve(gunzipRequests(validate(echo)), environ);
    expect(served.body).toBe(`|-|${text}`);
  });

  it('gunzipRequests: its input keeps spec §4.1 (sizes) and §4.3 (one reader), checked by the validator', async () => {
    const { environ } = environOf(gzipSync('abcdef'), [['Content-Encoding', 'gzip']]);
    const app: App = async (env, startResponse) => {
      const input = env['tsgi.input'];
      const first = await input.read(2);
      const zero = await input.read(0).then(() => 'resolved', (error: unknown) => (error instanceof ValidationError ? `${error.culprit} ${error.rule}` : String(error)));
      const rest = await input.read(null);
      startResponse('200 OK', []);
      return [`${Buffer.from(first)}|${zero}|${Buffer.from(rest)}`];
    };
    expect((await serve(gunzipRequests(validate(app)), environ)).body).toBe('ab|app §4.1|cdef');
  });

  it("gunzipRequests: the server's failure reaches the inner app with its code, and so does corrupt data", async () => {
    const gone = new TsgiError('TSGI_ERR_CLIENT_GONE', 'the client left');
    const { environ } = environOf(new Uint8Array(0), [['Content-Encoding', 'gzip']], gone);
    await expect(serve(gunzipRequests(echo), environ)).rejects.toMatchObject({ code: 'TSGI_ERR_CLIENT_GONE' });
    const corrupt = environOf(Buffer.from('not gzip at all'), [['Content-Encoding', 'gzip']]);
    await expect(serve(gunzipRequests(echo), corrupt.environ)).rejects.toMatchObject({ code: 'Z_DATA_ERROR' });
  });

  it('gunzipRequests: a body without Content-Encoding: gzip is passed through untouched', async () => {
    const { environ } = environOf(Buffer.from('plain'), []);
    expect((await serve(gunzipRequests(validate(echo)), environ)).body).toBe('5|-|plain');
  });

  it('requestId: an extension key for the app, a response header for the client', async () => {
    const seen: string[] = [];
    const app: App = (env, startResponse) => {
      seen.push(String(env['requestid.id']));
      startResponse('204 No Content', []);
      return [];
    };
    const { environ } = environOf(new Uint8Array(0), [['X-Request-Id', 'abc-123']]);
    const served = await serve(validate(requestId(validate(app))), environ);
    expect(seen).toEqual(['abc-123']);
    expect(served.headers).toEqual([['X-Request-Id', 'abc-123']]);
    const fresh = await serve(requestId(app), environOf(new Uint8Array(0), []).environ);
    expect(fresh.headers[0]![1]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("deadline: the inner app's signal aborts with the middleware's own code when time runs out", async () => {
    const app: App = async (env, startResponse) => {
      const signal = env['tsgi.signal'];
      const reason = await new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason), { once: true }));
      startResponse('504 Gateway Timeout', []);
      return [String((reason as { code?: string }).code)];
    };
    const { environ } = environOf(new Uint8Array(0), []);
    expect((await serve(deadline(20, validate(app)), environ)).body).toBe('DEADLINE_EXCEEDED');
  });

  it("deadline: the server's own abort comes through with its reason, and close() stops the timer", async () => {
    let closed = 0;
    const app: App = async (env, startResponse) => {
      const signal = env['tsgi.signal'];
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      startResponse('200 OK', []);
      return Object.assign([String(signal.reason.code)], { close: () => void closed++ });
    };
    const { environ, controller } = environOf(new Uint8Array(0), []);
    const pending = serve(deadline(60_000, validate(app)), environ);
    controller.abort(new TsgiError('TSGI_ERR_CLIENT_GONE', 'gone'));
    expect((await pending).body).toBe('TSGI_ERR_CLIENT_GONE');
    expect(closed).toBe(1);
  });
});
