/**
 * The fetch runner: a fetch app (`fetch(request, env, ctx) => Response`, docs/interfaces.md) called
 * by the request driver directly. The Request is the lazy one of tsgi/fetch, built from the environ
 * the driver made from the parsed head; the Response goes straight to the engine: its status, every
 * header (each Set-Cookie on its own line), and for a string, bytes or Blob body a Content-Length
 * and one write. Only a body that is a stream is read as one. Under `installLightResponse()` a
 * Response the app makes is a LightResponse, whose body is read without creating a stream at all.
 *
 * The response rules are the TSGI cycle's (spec §5, §6): fields checked by the same checkResponse()
 * (a bad one is a 500, never sent), hop-by-hop fields dropped, a declared Content-Length never
 * exceeded nor passed off as complete when short, no content for HEAD, 204 and 304.
 */
import { Buffer } from 'node:buffer';
import { TsgiError } from '../errors.js';
import { AppHeaderError, checkResponse, emptyCheckedResponse, type CheckedResponse } from '../gateway/app-headers.js';
import type { Transport } from '../gateway/cycle.js';
import type { App, Environ, Header } from '../gateway/types.js';
import type { Logger } from '../log.js';
import type { FetchApp, FetchHandler } from '../gateway/interfaces/fetch.js';
import { isForbiddenMethod, lazyRequest } from '../gateway/interfaces/fetch-request.js';
import { lightParts, type LightParts } from '../gateway/interfaces/light-response.js';
import { RequestContext, type BackgroundTasks } from '../gateway/interfaces/wait-until.js';
import type { Exchange } from './exchange.js';
import type { RequestCycle, Runner } from './runner.js';

const NEW = 0;
const SENDING = 1;
const DONE = 2;
const CANCELLED = 3;

type FetchFn = (request: Request, env: Environ, ctx: RequestContext) => Response | Promise<Response>;

export class FetchRunner implements Runner {
  readonly interface = 'fetch';
  readonly ownsBody = false;
  readonly fetch: FetchFn;
  readonly owner: unknown;
  /** One ExecutionContext serves every request: its tasks and error stream are the worker's. */
  ctx: RequestContext | null = null;

  constructor(
    handler: FetchApp | FetchHandler,
    readonly tasks: BackgroundTasks,
    readonly log: Logger,
  ) {
    this.owner = typeof handler === 'function' ? undefined : handler;
    this.fetch = (typeof handler === 'function' ? handler : handler.fetch) as FetchFn;
  }

  cycle(ex: Exchange): RequestCycle {
    return new FetchCycle(this, ex);
  }
}

/** Reused: the parts of a light Response are read synchronously, then dropped. */
const PARTS: LightParts = { status: 0, statusText: '', headers: undefined, defaultType: null, body: null };

/** `String(code)` for each status, made once: a bare code gets its reason phrase from checkResponse. */
const CODES: string[] = [];
function codeText(status: number, statusText: string): string {
  if (statusText !== '') return status + ' ' + statusText;
  return (CODES[status] ??= String(status));
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'object') return `an object (${(value as object).constructor?.name ?? 'Object'})`;
  return `a ${typeof value}`;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';
}

/** The Fetch standard trims HTTP whitespace from header values; most values have none to trim. */
function headerValue(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value);
  const n = text.length;
  if (n === 0 || (text.charCodeAt(0) > 0x20 && text.charCodeAt(n - 1) > 0x20)) return text;
  return text.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '');
}

function fromHeaders(headers: Headers, fields: Header[]): void {
  // Headers joins repeated fields with ", ", which would break Set-Cookie; it alone is kept apart.
  for (const [name, value] of headers) if (name !== 'set-cookie') fields.push([name, value]);
  const cookies = headers.getSetCookie();
  for (let i = 0; i < cookies.length; i++) fields.push(['set-cookie', cookies[i]!]);
}

/**
 * A light Response's `init.headers` as field lines, as `new Headers(init)` would read them. Plain
 * objects (what routers pass) and pairs are read directly; anything else, or an object whose names
 * repeat in another case (Headers would join them), goes through Headers.
 */
function lightFields(init: unknown, defaultType: string | null): Header[] {
  const fields: Header[] = [];
  let hasType = false;
  if (init === undefined || init === null) {
    // Nothing to read.
  } else if (init instanceof Headers) {
    fromHeaders(init, fields);
    hasType = init.has('content-type');
  } else if (Array.isArray(init)) {
    for (let i = 0; i < init.length; i++) {
      const pair = init[i] as unknown;
      if (!Array.isArray(pair) || pair.length !== 2) return headersFields(init, defaultType);
      const name = String(pair[0]);
      fields.push([name, headerValue(pair[1])]);
      if (!hasType && name.length === 12 && name.toLowerCase() === 'content-type') hasType = true;
    }
  } else if (typeof init === 'object' && Object.getPrototypeOf(init) === Object.prototype) {
    const record = init as Record<string, unknown>;
    let seen: Set<string> | null = null;
    for (const name in record) {
      if (fields.length === 1) seen = new Set([fields[0]![0].toLowerCase()]);
      if (seen !== null) {
        const lower = name.toLowerCase();
        if (seen.has(lower)) return headersFields(init, defaultType);
        seen.add(lower);
      }
      fields.push([name, headerValue(record[name])]);
      if (!hasType && name.length === 12 && name.toLowerCase() === 'content-type') hasType = true;
    }
  } else {
    return headersFields(init, defaultType);
  }
  if (defaultType !== null && !hasType) fields.push(['content-type', defaultType]);
  return fields;
}

function headersFields(init: unknown, defaultType: string | null): Header[] {
  const headers = new Headers(init as ConstructorParameters<typeof Headers>[0]);
  if (defaultType !== null && !headers.has('content-type')) headers.set('content-type', defaultType);
  const fields: Header[] = [];
  fromHeaders(headers, fields);
  return fields;
}

class FetchCycle implements RequestCycle {
  readonly response: CheckedResponse = emptyCheckedResponse();
  sent = 0;
  private state = NEW;
  private noBody = false;
  private reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  /** The app's promise has settled (or it returned at once). */
  private returned = false;
  /** Nothing is left to read or cancel of the body. */
  private bodyDone = false;
  private releasedOnce = false;
  private readonly transport: Transport;
  private readonly method: string;

  constructor(
    private readonly runner: FetchRunner,
    ex: Exchange,
  ) {
    this.transport = ex;
    this.method = ex.req.method;
  }

  run(_app: App, environ: Environ): void {
    const method = this.method;
    // A WHATWG Request cannot carry TRACE or TRACK (the Fetch standard forbids them).
    if (isForbiddenMethod(method)) return this.plain('501 Not Implemented', `${method} cannot be passed to a fetch app\n`);
    let request: Request;
    try {
      request = lazyRequest(environ);
    } catch {
      // The URL parser refused the Host (the only part a client controls that it checks).
      return this.plain('400 Bad Request', 'the request URL is invalid\n');
    }
    const runner = this.runner;
    let result: unknown;
    try {
      result = runner.fetch.call(runner.owner, request, environ, (runner.ctx ??= new RequestContext(runner.tasks, environ['tsgi.errors'])));
    } catch (err) {
      this.returned = true;
      this.bodyDone = true;
      this.fail(err);
      return;
    }
    if (isThenable(result)) {
      result.then(
        (response) => {
          this.returned = true;
          this.respond(response);
        },
        (err: unknown) => {
          this.returned = true;
          this.bodyDone = true;
          this.fail(err);
        },
      );
      return;
    }
    this.returned = true;
    this.respond(result);
  }

  cancel(_reason: unknown): void {
    if (this.state === DONE || this.state === CANCELLED) return;
    this.state = CANCELLED;
    const reader = this.reader;
    if (reader !== null) {
      this.reader = null;
      reader.cancel(_reason).then(
        () => this.bodyEnded(),
        () => this.bodyEnded(),
      );
      return;
    }
    // The app has not answered yet: respond() cancels what it returns.
    if (this.returned) this.bodyEnded();
  }

  /** A plain answer of the server's own to a request a fetch app cannot take. */
  private plain(status: string, text: string): void {
    this.returned = true;
    this.bodyDone = true;
    try {
      checkResponse(status, [['Content-Type', 'text/plain; charset=utf-8']], this.response);
    } catch (err) {
      return this.fail(err);
    }
    this.sendWhole(text, Buffer.byteLength(text));
  }

  private respond(response: unknown): void {
    if (this.state === CANCELLED) return this.discard(response);
    if (!(response instanceof Response)) {
      this.bodyDone = true;
      return this.fail(new TsgiError('TSGI_ERR_FETCH_RESPONSE', `the fetch handler returned ${describe(response)}, not a Response; return new Response(body, init)`));
    }
    const parts = lightParts(response, PARTS);
    let body: unknown;
    try {
      if (parts !== null) {
        body = parts.body;
        checkResponse(codeText(parts.status, parts.statusText), lightFields(parts.headers, parts.defaultType), this.response);
        parts.headers = undefined;
        parts.body = null;
      } else {
        body = response.body;
        const fields: Header[] = [];
        fromHeaders(response.headers, fields);
        checkResponse(codeText(response.status, response.statusText), fields, this.response);
      }
    } catch (err) {
      this.discard(response);
      return this.fail(err);
    }
    const code = this.response.status;
    this.noBody = code === 204 || code === 304 || this.method === 'HEAD';
    if (body === null || body === undefined) {
      this.bodyDone = true;
      return this.sendWhole(null, 0);
    }
    if (typeof body === 'string') {
      this.bodyDone = true;
      return this.sendWhole(body, body.length === 0 ? 0 : Buffer.byteLength(body));
    }
    if (body instanceof Uint8Array) {
      this.bodyDone = true;
      return this.sendWhole(body, body.length);
    }
    if (body instanceof ArrayBuffer) {
      this.bodyDone = true;
      return this.sendWhole(new Uint8Array(body), body.byteLength);
    }
    if (body instanceof URLSearchParams) {
      const text = body.toString();
      this.bodyDone = true;
      return this.sendWhole(text, Buffer.byteLength(text));
    }
    if (body instanceof Blob) {
      body.arrayBuffer().then(
        (bytes) => {
          this.bodyDone = true;
          if (this.state === CANCELLED) return this.release();
          this.sendWhole(new Uint8Array(bytes), bytes.byteLength);
        },
        (err: unknown) => {
          this.bodyDone = true;
          if (this.state === CANCELLED) return this.release();
          this.fail(err);
        },
      );
      return;
    }
    this.stream(body as ReadableStream<Uint8Array>);
  }

  /**
   * RFC 9110 §8.6: a HEAD response may carry the Content-Length the GET would send; a 304 or an
   * empty body says nothing, so none is computed for it (the TSGI cycle's rule).
   */
  private headLength(known: number): number {
    const declared = this.response.contentLength;
    if (declared >= 0) return declared;
    if (this.noBody && !(known > 0 && this.method === 'HEAD')) return -1;
    return known;
  }

  /** A body already in memory: the head and the content in one write. */
  private sendWhole(body: string | Uint8Array | null, length: number): void {
    if (this.state !== NEW) return this.release();
    this.state = SENDING;
    const transport = this.transport;
    transport.sendHead(this.response, this.headLength(length), this.noBody);
    let complete = true;
    if (!this.noBody && length > 0) {
      const declared = this.response.contentLength;
      if (declared >= 0 && length > declared) {
        this.runner.log.error({ declared, attempted: length }, 'the app sent more bytes than its Content-Length; the excess was dropped and the connection will close');
        const bytes = typeof body === 'string' ? Buffer.from(body) : body!;
        if (declared > 0) transport.sendChunk(bytes.subarray(0, declared), declared);
        this.sent = declared;
        complete = false;
      } else {
        transport.sendChunk(body!, length);
        this.sent = length;
      }
    }
    const declared = this.response.contentLength;
    if (complete && !this.noBody && declared >= 0 && this.sent < declared) {
      this.runner.log.error({ declared, sent: this.sent }, 'the app sent fewer bytes than its Content-Length; the connection was closed');
      complete = false;
    }
    this.state = DONE;
    transport.finish(complete);
    this.release();
  }

  /** A stream body: read as the client takes it, chunked unless the app declared a length. */
  private stream(body: ReadableStream<Uint8Array>): void {
    let reader: ReadableStreamDefaultReader<Uint8Array>;
    try {
      reader = body.getReader();
    } catch (err) {
      this.bodyDone = true;
      return this.fail(err);
    }
    this.reader = reader;
    this.state = SENDING;
    this.transport.sendHead(this.response, this.headLength(-1), this.noBody);
    void this.pump(reader);
  }

  private async pump(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    const transport = this.transport;
    const declared = this.response.contentLength;
    let complete = true;
    try {
      for (;;) {
        const step = await reader.read();
        if (this.state !== SENDING) return;
        if (step.done) break;
        const chunk = step.value as unknown;
        if (!(chunk instanceof Uint8Array)) throw new TsgiError('TSGI_ERR_FETCH_RESPONSE', `the response body stream gave ${describe(chunk)}; a body stream gives Uint8Arrays`);
        const len = chunk.length;
        if (len === 0 || this.noBody) continue;
        if (declared >= 0 && this.sent + len > declared) {
          this.runner.log.error({ declared, attempted: this.sent + len }, 'the app sent more bytes than its Content-Length; the excess was dropped and the connection will close');
          const room = declared - this.sent;
          if (room > 0) transport.sendChunk(chunk.subarray(0, room), room);
          this.sent = declared;
          complete = false;
          break;
        }
        this.sent += len;
        if (!transport.sendChunk(chunk, len)) await transport.waitDrain();
        if (this.state !== SENDING) return;
      }
    } catch (err) {
      if (this.state !== SENDING) return;
      this.reader = null;
      this.bodyDone = true;
      this.fail(err);
      return;
    }
    if (this.state !== SENDING) return;
    this.reader = null;
    if (complete && !this.noBody && declared >= 0 && this.sent < declared) {
      this.runner.log.error({ declared, sent: this.sent }, 'the app sent fewer bytes than its Content-Length; the connection was closed');
      complete = false;
    }
    this.state = DONE;
    transport.finish(complete);
    if (complete) {
      this.bodyDone = true;
      this.release();
    } else {
      // The rest of the stream is not wanted: release it.
      reader.cancel().then(
        () => this.bodyEnded(),
        () => this.bodyEnded(),
      );
    }
  }

  /** A Response that will not be sent: its stream, if it has one, is cancelled. */
  private discard(response: unknown): void {
    const body = response instanceof Response && lightParts(response, PARTS) === null ? response.body : null;
    PARTS.headers = undefined;
    PARTS.body = null;
    if (body !== null && !body.locked) {
      body.cancel().then(
        () => this.bodyEnded(),
        () => this.bodyEnded(),
      );
      return;
    }
    this.bodyEnded();
  }

  /** spec §8: before the head the server answers 500 and goes on; after it, the connection is aborted. */
  private fail(err: unknown): void {
    const state = this.state;
    if (state === CANCELLED || state === DONE) {
      if (state === DONE) this.runner.log.error({ err }, 'the app raised after its response was complete');
      return this.release();
    }
    this.state = DONE;
    const log = this.runner.log;
    const sent = state === SENDING;
    const declared = this.response.contentLength;
    if (sent && declared >= 0 && this.sent === declared) {
      log.error({ err }, 'the app raised after its whole declared body was sent; the response stands and the connection will close');
      this.transport.finish(false);
    } else if (err instanceof AppHeaderError) {
      log.error(`the app passed an invalid response: ${err.message}; answered 500`);
      this.transport.failBeforeHead();
    } else if (err instanceof TsgiError && err.code === 'TSGI_ERR_FETCH_RESPONSE') {
      log.error(`${err.message}; ${sent ? 'connection aborted' : 'answered 500'}`);
      if (sent) this.transport.abort();
      else this.transport.failBeforeHead();
    } else {
      log.error({ err }, sent ? 'the app raised after the response head was sent; connection aborted' : 'the app raised an error; answered 500');
      if (sent) this.transport.abort();
      else this.transport.failBeforeHead();
    }
    this.release();
  }

  private bodyEnded(): void {
    this.bodyDone = true;
    this.release();
  }

  /** Once the app has answered and its body is over, the request is released (a graceful stop waits for it). */
  private release(): void {
    if (this.releasedOnce || !this.returned || !this.bodyDone) return;
    this.releasedOnce = true;
    this.transport.released();
  }
}
