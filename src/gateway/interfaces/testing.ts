/**
 * tsgi/testing: call an app in process, with no socket, and get a WHATWG Response back, as
 * Werkzeug's Client, Starlette's TestClient and fastify.inject() do.
 *
 *   import { testClient } from 'tsgi/testing';
 *   const client = testClient(app);                     // a TSGI, fetch or node app
 *   const res = await client.get('/users/1', { headers: { accept: 'application/json' } });
 *   expect(res.status).toBe(200);
 *   expect(await res.json()).toEqual({ id: 1 });
 *
 * The app sees the environ a real request gives: the server's own buildEnviron() makes it, the body
 * arrives through `tsgi.input` on demand, and a TSGI app runs under `tsgi/validate` unless told
 * otherwise, so a breach of the spec fails the test. Fetch and node apps go through the same
 * adapters the server uses (tsgi/fetch, tsgi/node). Cookies the app sets are kept and sent back.
 */
import { buildEnviron } from '../environ.js';
import { EMPTY_INPUT } from '../input.js';
import type { App, Environ, ErrorStream, Header, InputStream } from '../types.js';
import { validate } from '../validate.js';
import { SERVER_SOFTWARE } from '../../version.js';
import { callApp, contentStream, type AppResponse } from './app-call.js';
import { adaptApp, type InterfaceChoice, type InterfaceName } from './detect.js';
import { AdapterHandle } from './request-handle.js';
import { BackgroundTasks } from './wait-until.js';
import { inputFromSource, type ByteSource } from './input-stream.js';
import { CookieJar } from './cookie-jar.js';

export interface TestClientOptions {
  /** Which interface the app speaks; `auto` (the default) recognises it as the server does. */
  interface?: InterfaceChoice;
  /** Run a TSGI app under tsgi/validate (spec §9). Default true. */
  validate?: boolean;
  /** Scheme, host and port of the requests: `http://localhost` by default. */
  baseUrl?: string;
  /** SCRIPT_NAME, as --root-path sets it. Default ''. */
  rootPath?: string;
  /** REMOTE_ADDR. Default `127.0.0.1`. */
  remoteAddr?: string;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /** Keep the cookies responses set, and send them back. Default true. */
  cookies?: boolean;
  /**
   * An error the app raises before its response head is thrown from the request call (default
   * true), as Starlette's `raise_server_exceptions`; false answers 500 like the server.
   */
  raiseAppErrors?: boolean;
  /** `tsgi.errors`. Default: lines are kept in `client.errors` and written to stderr. */
  errors?: ErrorStream;
}

/** A request body: text, bytes, form fields, a multipart FormData, a Blob, or a stream (sent chunked). */
export type TestBody = string | Uint8Array | ArrayBuffer | URLSearchParams | FormData | Blob | ByteSource | null | undefined;

export interface RequestOptions {
  headers?: Record<string, string> | [string, string][];
  /** Sent as JSON, with `Content-Type: application/json`. */
  json?: unknown;
  body?: TestBody;
  /** Added to the path's query string. */
  query?: Record<string, string | number | boolean> | URLSearchParams;
  /** Aborting it abandons the request, as a client going away does (`tsgi.signal` on TSGI 1.1). */
  signal?: AbortSignal;
  /** `HTTP/1.1` (default) or `HTTP/1.0`. */
  protocol?: 'HTTP/1.1' | 'HTTP/1.0';
}

/** The app's response: a WHATWG Response with what a test may also want to look at. */
export class TestResponse extends Response {
  /** The environ the app was called with (after the adapters, for fetch and node apps); null when the app was not called. */
  readonly environ: Environ | null;
  /** The header fields as the app sent them: order, case and repeats kept. */
  readonly rawHeaders: Header[];
  /** The reason phrase as the app sent it. */
  readonly reason: string;

  constructor(body: ReadableStream<Uint8Array> | null, response: AppResponse, environ: Environ | null) {
    super(body, { status: response.status, statusText: response.reason, headers: response.headers });
    this.environ = environ;
    this.rawHeaders = response.headers;
    this.reason = response.reason;
  }
}

const NULL_BODY = new Set([204, 205, 304]);

/** What the server itself would answer (a 404 outside the root path, a 500): one line of text. */
function plainResponse(status: number, reason: string, environ: Environ | null): TestResponse {
  const text = `${reason}\n`;
  const response: AppResponse = {
    status,
    reason,
    headers: [['Content-Type', 'text/plain; charset=utf-8'], ['Content-Length', String(text.length)]],
    contentLength: text.length,
    bodyless: false,
    next: () => Promise.resolve(null),
    close: () => Promise.resolve(),
  };
  return new TestResponse(new Response(text).body, response, environ);
}

/** What a body option becomes: bytes with a length, or a stream sent chunked. */
async function encodeBody(options: RequestOptions, method: string): Promise<{ bytes?: Uint8Array; stream?: ByteSource; type?: string } | null> {
  if (options.json !== undefined) return { bytes: Buffer.from(JSON.stringify(options.json)), type: 'application/json' };
  const body = options.body;
  if (body === undefined || body === null) return null;
  if (typeof body === 'string') return { bytes: Buffer.from(body), type: 'text/plain;charset=UTF-8' };
  if (body instanceof Uint8Array) return { bytes: body };
  if (body instanceof ArrayBuffer) return { bytes: new Uint8Array(body) };
  if (body instanceof URLSearchParams || body instanceof FormData || body instanceof Blob) {
    // The Fetch standard's own body encoding: form-urlencoded, multipart with a boundary, a Blob's type.
    const encoded = new Request('http://localhost/', { method: method === 'GET' || method === 'HEAD' ? 'POST' : method, body });
    const type = encoded.headers.get('content-type') ?? undefined;
    return { bytes: new Uint8Array(await encoded.arrayBuffer()), ...(type !== undefined ? { type } : {}) };
  }
  return { stream: body };
}

function lines(headers: RequestOptions['headers']): [string, string][] {
  if (headers === undefined) return [];
  return Array.isArray(headers) ? headers.map(([name, value]) => [name, value]) : Object.entries(headers);
}

export class TestClient {
  /** What the app wrote to `tsgi.errors` (when no `errors` option was given). */
  readonly errors: string[] = [];
  /** Cookies kept from responses. */
  readonly cookies = new CookieJar();
  /** The fields of every 103 Early Hints the app sent (`tsgi.early_hints`), in order. */
  readonly earlyHints: Header[][] = [];
  /** `ctx.waitUntil()` tasks of fetch apps. */
  readonly tasks = new BackgroundTasks();
  private adapted: Promise<{ app: App; interface: InterfaceName }> | null = null;
  private readonly base: URL;
  private readonly errorStream: ErrorStream;

  constructor(
    private readonly target: unknown,
    private readonly settings: TestClientOptions = {},
  ) {
    this.base = new URL(settings.baseUrl ?? 'http://localhost');
    this.errorStream = settings.errors ?? {
      write: (message: string) => {
        this.errors.push(message);
        process.stderr.write(message.endsWith('\n') ? message : `${message}\n`);
      },
      flush: () => {},
    };
  }

  /** The app as TSGI, recognised once (a Fastify instance is awaited ready here). */
  private app(): Promise<{ app: App; interface: InterfaceName }> {
    this.adapted ??= (async () => {
      // A fetch app's waitUntil() tasks go to this client, so a test can await them.
      const adapted = await adaptApp(this.target, this.settings.interface ?? 'auto', 'testClient(app): the app', 'is', this.tasks);
      const app = adapted.interface === 'tsgi' && this.settings.validate !== false ? validate(adapted.app) : adapted.app;
      return { app, interface: adapted.interface };
    })();
    return this.adapted;
  }

  get(path: string, options?: RequestOptions): Promise<TestResponse> {
    return this.request('GET', path, options);
  }
  head(path: string, options?: RequestOptions): Promise<TestResponse> {
    return this.request('HEAD', path, options);
  }
  delete(path: string, options?: RequestOptions): Promise<TestResponse> {
    return this.request('DELETE', path, options);
  }
  options(path: string, options?: RequestOptions): Promise<TestResponse> {
    return this.request('OPTIONS', path, options);
  }
  post(path: string, body?: TestBody, options?: RequestOptions): Promise<TestResponse> {
    return this.request('POST', path, { ...options, body: body ?? options?.body });
  }
  put(path: string, body?: TestBody, options?: RequestOptions): Promise<TestResponse> {
    return this.request('PUT', path, { ...options, body: body ?? options?.body });
  }
  patch(path: string, body?: TestBody, options?: RequestOptions): Promise<TestResponse> {
    return this.request('PATCH', path, { ...options, body: body ?? options?.body });
  }

  /** One request. `path` is `/path?query`, or an absolute URL for another host. */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<TestResponse> {
    const { app } = await this.app();
    const url = new URL(path, this.base);
    if (options.query !== undefined) {
      const extra = options.query instanceof URLSearchParams ? options.query : new URLSearchParams(Object.entries(options.query).map(([k, v]): [string, string] => [k, String(v)]));
      for (const [k, v] of extra) url.searchParams.append(k, v);
    }
    const scheme = url.protocol === 'https:' ? 'https' : 'http';
    const body = await encodeBody(options, method);
    const fields: [string, string][] = [['Host', url.host], ['User-Agent', `tsgi-testclient (${SERVER_SOFTWARE})`]];
    const given = [...lines(this.settings.headers), ...lines(options.headers)];
    const has = (name: string): boolean => given.some(([n]) => n.toLowerCase() === name);
    for (const [name] of given) {
      const lower = name.toLowerCase();
      if (lower === 'host' || lower === 'user-agent') fields.splice(fields.findIndex(([n]) => n.toLowerCase() === lower), 1);
    }
    fields.push(...given);
    const cookie = this.settings.cookies === false ? '' : this.cookies.header(url.pathname);
    if (cookie !== '') fields.push(['Cookie', cookie]);
    const chunked = body?.stream !== undefined && !has('content-length');
    if (body !== null) {
      if (body.type !== undefined && !has('content-type')) fields.push(['Content-Type', body.type]);
      if (body.bytes !== undefined && !has('content-length')) fields.push(['Content-Length', String(body.bytes.length)]);
      if (chunked && !has('transfer-encoding')) fields.push(['Transfer-Encoding', 'chunked']);
    }

    let environ: Environ | null = null;
    let input: InputStream = EMPTY_INPUT;
    if (body?.bytes !== undefined && body.bytes.length > 0) input = inputFromSource([body.bytes]);
    else if (body?.stream !== undefined) {
      input = inputFromSource(body.stream, () => {
        if (chunked && environ !== null) environ['tsgi.trailers'] = [];
      });
    }
    const flat = fields.flat();
    const handle = new AdapterHandle((hints) => void this.earlyHints.push(hints));
    const target = url.pathname + url.search;
    environ = buildEnviron(
      method,
      target,
      options.protocol === 'HTTP/1.0' ? 0 : 1,
      flat,
      input,
      {
        serverName: url.hostname,
        serverPort: url.port || (scheme === 'https' ? '443' : '80'),
        remoteAddr: this.settings.remoteAddr ?? '127.0.0.1',
        remotePort: '50000',
        scheme,
        unix: false,
      },
      { scriptName: this.settings.rootPath ?? '', multiprocess: false, errors: this.errorStream },
      handle,
    );
    // spec §3.2: a path outside the root path never reaches the app; the server answers 404.
    if (environ === null) return plainResponse(404, 'Not Found', null);
    if (options.signal !== undefined) options.signal.addEventListener('abort', () => handle.abandon(), { once: true });

    let response: AppResponse;
    try {
      response = await callApp(app, environ);
    } catch (error) {
      if (this.settings.raiseAppErrors !== false) throw error;
      this.errorStream.write(`the app raised; answered 500: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      return plainResponse(500, 'Internal Server Error', environ);
    }
    handle.headSent = true;
    if (this.settings.cookies !== false) for (const [name, value] of response.headers) if (name.toLowerCase() === 'set-cookie') this.cookies.store(value, url.pathname);
    const noContent = response.bodyless || NULL_BODY.has(response.status);
    if (noContent) {
      // Iterated to its end and closed, as a server does for HEAD, 204 and 304 (spec §6.3).
      while ((await response.next()) !== null);
      return new TestResponse(null, response, environ);
    }
    if (options.signal !== undefined) options.signal.addEventListener('abort', () => void response.close(), { once: true });
    const stream = contentStream(response);
    return new TestResponse(stream, response, environ);
  }

  /** Resolves when every `ctx.waitUntil()` task a fetch app started has settled. */
  settled(): Promise<void> {
    return this.tasks.settled();
  }

  /** Calls the app's `close()` (Fastify's `close()`, a TSGI app's), as a graceful shutdown does. */
  async close(): Promise<void> {
    const { app } = await this.app();
    await app.close?.();
  }
}

/** A client calling `app` (a TSGI, fetch or node app) in process. */
export function testClient(app: unknown, options?: TestClientOptions): TestClient {
  return new TestClient(app, options);
}
