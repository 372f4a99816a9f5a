/**
 * tsgi/validate: a TSGI middleware that checks both sides of the contract while a request runs, in
 * the spirit of Python's wsgiref.validate (PEP 3333). Wrap an app with it in development and tests:
 *
 *   import { validate } from 'tsgi/validate';
 *   export const app = validate(myApp);
 *
 * A breach throws a ValidationError that names the rule (a § of docs/spec.md) and the side that
 * broke it, at the call that broke it: into the server for a bad environ or a second close(), into
 * the app for a bad status or chunk. The one breach with nobody to throw at (a body the server
 * never closed) goes to `options.report`, by default the request's `tsgi.errors`.
 *
 * For a correct server and a correct app the validator changes nothing either side can rely on:
 * Array bodies stay Arrays (so a server may still compute Content-Length), sync bodies stay sync,
 * and every call is forwarded with the same arguments. docs/spec.md §9 lists what is checked and
 * what cannot be.
 */
import { Buffer } from 'node:buffer';
import { isUint8Array } from 'node:util/types';
import { TsgiError } from '../errors.js';
import type { App, Body, Chunk, Environ, ErrorStream, InputStream, StartResponse, Write } from './types.js';

/** Which side of the contract broke a rule. */
export type Culprit = 'app' | 'server';

export class ValidationError extends TsgiError {
  /** The section of docs/spec.md that was broken, e.g. `§5.3`. */
  readonly rule: string;
  readonly culprit: Culprit;
  constructor(culprit: Culprit, rule: string, problem: string, fix: string) {
    super('TSGI_ERR_VALIDATION', `TSGI ${rule} broken by the ${culprit}: ${problem}; ${fix}`);
    this.rule = rule;
    this.culprit = culprit;
  }
}

export interface ValidateOptions {
  /**
   * How long the server has, once it stopped iterating a body, to call its close() before that is
   * reported (spec §6.4). Default 1000 ms.
   */
  closeDeadlineMs?: number;
  /**
   * Receives the breaches that have no caller to throw at: a body whose close() never came.
   * Default: the message is written to the request's original `tsgi.errors`.
   */
  report?: (error: ValidationError) => void;
}

function appBroke(rule: string, problem: string, fix: string): never {
  throw new ValidationError('app', rule, problem, fix);
}

function serverBroke(rule: string, problem: string, fix: string): never {
  throw new ValidationError('server', rule, problem, fix);
}

// --- Grammar -------------------------------------------------------------------------------------

// RFC 9110 §5.6.2: token = 1*tchar; tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" /
// "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

// RFC 9110 §5.5: "Field values containing CR, LF, or NUL characters are invalid and dangerous".
// TSGI (spec §5.3) also refuses the other controls except HTAB, and code points above U+00FF,
// which have no one-byte form on the wire.
const BAD_FIELD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]|[^\x00-\xff]/;

// RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]
//              reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
const STATUS = /^(\d{3}) [\t\x20-\x7e\x80-\xff]*$/;

// RFC 9110 §7.6.1: hop-by-hop fields describe one connection; the server owns framing (spec §5.4).
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

// The environ form of a field name: uppercased, '-' mapped to '_' (spec §3.4).
const HTTP_KEY = /^HTTP_[A-Z0-9!#$%&'*+.^_`|~]+$/;

// A request-target as the parser accepts it: visible ASCII, plus obs-text bytes as latin1.
const BAD_TARGET_CHAR = /[\x00-\x20\x7f]|[^\x00-\xff]/;

const DIGITS = /^\d+$/;

const CGI_KEYS = [
  'REQUEST_METHOD',
  'SCRIPT_NAME',
  'PATH_INFO',
  'QUERY_STRING',
  'CONTENT_TYPE',
  'CONTENT_LENGTH',
  'SERVER_NAME',
  'SERVER_PORT',
  'SERVER_PROTOCOL',
  'SERVER_SOFTWARE',
  'REMOTE_ADDR',
  'REMOTE_PORT',
  'RAW_URI',
] as const;

const TSGI_KEYS = new Set([
  'tsgi.version',
  'tsgi.url_scheme',
  'tsgi.input',
  'tsgi.errors',
  'tsgi.multithread',
  'tsgi.multiprocess',
  'tsgi.run_once',
  'tsgi.input_terminated',
  'tsgi.raw_headers',
  'tsgi.trailers',
  'tsgi.signal',
  'tsgi.early_hints',
]);

// --- Small helpers -------------------------------------------------------------------------------

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function quote(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);
}

/** A short description of a value for a one-line message. */
function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'string') return `the string ${quote(value)}`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return `the ${typeof value} ${String(value)}`;
  }
  if (typeof value === 'symbol') return 'a symbol';
  if (isUint8Array(value)) return `a Uint8Array of ${value.length} bytes`;
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (isThenable(value)) return 'a Promise';
  if (typeof value === 'function') return 'a function';
  return 'an object';
}

function isChunk(value: unknown): value is Chunk {
  return typeof value === 'string' || isUint8Array(value);
}

/** Bytes a chunk puts on the wire: strings are sent as UTF-8 (spec §6.2). */
function byteLength(chunk: Chunk): number {
  return typeof chunk === 'string' ? Buffer.byteLength(chunk, 'utf8') : chunk.byteLength;
}

/** A hint for the chunk mistakes seen in practice. */
function chunkHint(value: unknown): string {
  if (typeof value === 'number') return 'yield Uint8Array or string chunks (a number usually means a Uint8Array was iterated byte by byte)';
  if (isThenable(value)) return 'await inside an async generator instead of yielding a Promise';
  return 'yield only strings (sent as UTF-8) or Uint8Arrays';
}

// --- The environ (spec §3) -------------------------------------------------------------------------

function checkFieldList(list: unknown, key: string, rule: string): void {
  if (!Array.isArray(list)) serverBroke(rule, `environ['${key}'] is ${describe(list)}`, 'set it to an array of [name, value] pairs');
  list.forEach((field: unknown, i) => {
    if (!Array.isArray(field) || field.length !== 2 || typeof field[0] !== 'string' || typeof field[1] !== 'string') {
      serverBroke(rule, `environ['${key}'][${i}] is ${describe(field)}`, 'use a [name, value] pair of strings');
    }
    if (!TOKEN.test(field[0])) serverBroke(rule, `environ['${key}'][${i}] has the name ${quote(field[0])}`, 'names must be RFC 9110 tokens');
    if (BAD_FIELD_VALUE.test(field[1])) {
      serverBroke(rule, `environ['${key}'][${i}] has the value ${quote(field[1])}`, 'refuse requests whose field values hold CR, LF, NUL or other controls');
    }
  });
}

/** Everything a server must put in the environ, with the right types (spec §3). */
function checkEnviron(environ: unknown): asserts environ is Environ {
  if (typeof environ !== 'object' || environ === null || Array.isArray(environ)) {
    serverBroke('§3.1', `the environ is ${describe(environ)}`, 'pass a plain object');
  }
  const env = environ as Record<string, unknown>;
  for (const key of CGI_KEYS) {
    if (!(key in env)) serverBroke('§3.1', `environ.${key} is missing`, 'every key of spec §3 must be present');
    if (typeof env[key] !== 'string') serverBroke('§3.1', `environ.${key} is ${describe(env[key])}`, 'CGI keys are strings');
  }
  const cgi = env as Record<(typeof CGI_KEYS)[number], string>;

  if (!TOKEN.test(cgi.REQUEST_METHOD)) serverBroke('§3.2', `REQUEST_METHOD is ${quote(cgi.REQUEST_METHOD)}`, 'the method must be an RFC 9110 token');
  if (cgi.REQUEST_METHOD === 'CONNECT') serverBroke('§3.3', 'a CONNECT request reached the app', 'answer CONNECT with 501 in the server');
  const script = cgi.SCRIPT_NAME;
  if (script !== '' && (!script.startsWith('/') || script.endsWith('/'))) {
    serverBroke('§3.2', `SCRIPT_NAME is ${quote(script)}`, "it is '' or starts with '/' and does not end with '/'");
  }
  const path = cgi.PATH_INFO;
  if (path !== '' && path !== '*' && !path.startsWith('/')) serverBroke('§3.2', `PATH_INFO is ${quote(path)}`, "it is '', '*' or starts with '/'");
  if (path === '' && script === '') serverBroke('§3.2', "SCRIPT_NAME and PATH_INFO are both ''", "an unmounted app gets at least PATH_INFO '/'");
  if (path === '*' && (cgi.REQUEST_METHOD !== 'OPTIONS' || script !== '')) {
    serverBroke('§3.3', `PATH_INFO is '*' for ${cgi.REQUEST_METHOD} with SCRIPT_NAME ${quote(script)}`, "the asterisk form is only for an unmounted OPTIONS *");
  }
  if (cgi.RAW_URI === '' || BAD_TARGET_CHAR.test(cgi.RAW_URI)) serverBroke('§3.2', `RAW_URI is ${quote(cgi.RAW_URI)}`, 'pass the request-target exactly as received');
  if (BAD_TARGET_CHAR.test(cgi.QUERY_STRING)) serverBroke('§3.2', `QUERY_STRING is ${quote(cgi.QUERY_STRING)}`, 'pass the query undecoded, as received');

  if (cgi.CONTENT_LENGTH !== '' && !DIGITS.test(cgi.CONTENT_LENGTH)) {
    serverBroke('§3.4', `CONTENT_LENGTH is ${quote(cgi.CONTENT_LENGTH)}`, "it is the digits of the header, or ''");
  }
  if (BAD_FIELD_VALUE.test(cgi.CONTENT_TYPE)) serverBroke('§3.4', `CONTENT_TYPE is ${quote(cgi.CONTENT_TYPE)}`, 'refuse requests with controls in field values');

  if (cgi.SERVER_PROTOCOL !== 'HTTP/1.0' && cgi.SERVER_PROTOCOL !== 'HTTP/1.1') {
    serverBroke('§3.5', `SERVER_PROTOCOL is ${quote(cgi.SERVER_PROTOCOL)}`, "it is 'HTTP/1.0' or 'HTTP/1.1'");
  }
  if (!DIGITS.test(cgi.SERVER_PORT)) serverBroke('§3.5', `SERVER_PORT is ${quote(cgi.SERVER_PORT)}`, "it is a port number (a unix socket gives '80' or '443')");
  if (cgi.REMOTE_PORT !== '' && !DIGITS.test(cgi.REMOTE_PORT)) serverBroke('§3.5', `REMOTE_PORT is ${quote(cgi.REMOTE_PORT)}`, "it is a port number, or ''");
  if (cgi.SERVER_SOFTWARE === '') serverBroke('§3.5', "SERVER_SOFTWARE is ''", "name the server, e.g. 'tsgi/1.0.0'");

  for (const key of Object.keys(env)) {
    if (key.startsWith('HTTP_')) {
      if (!HTTP_KEY.test(key)) serverBroke('§3.4', `the environ has the key ${quote(key)}`, "HTTP_ keys are uppercased with '-' mapped to '_'");
      if (key === 'HTTP_CONTENT_TYPE' || key === 'HTTP_CONTENT_LENGTH') {
        serverBroke('§3.4', `the environ has ${key}`, 'Content-Type and Content-Length go to CONTENT_TYPE and CONTENT_LENGTH only');
      }
      const value = env[key];
      if (typeof value !== 'string') serverBroke('§3.4', `environ.${key} is ${describe(value)}`, 'HTTP_ values are strings');
      if (BAD_FIELD_VALUE.test(value)) serverBroke('§3.4', `environ.${key} is ${quote(value)}`, 'refuse requests with controls in field values');
    } else if (key.startsWith('tsgi.') && !TSGI_KEYS.has(key)) {
      serverBroke('§3.7', `the environ has the unknown key '${key}'`, "'tsgi.' keys are reserved for the spec; prefix extensions with the server's name");
    }
  }

  const version = env['tsgi.version'];
  if (!Array.isArray(version) || version.length !== 2 || version[0] !== 1 || version[1] !== 1) {
    serverBroke('§3.6', `environ['tsgi.version'] is ${describe(version)}`, 'set it to [1, 1]');
  }
  const scheme = env['tsgi.url_scheme'];
  if (scheme !== 'http' && scheme !== 'https') serverBroke('§3.6', `environ['tsgi.url_scheme'] is ${describe(scheme)}`, "it is 'http' or 'https'");
  const input = env['tsgi.input'] as Partial<InputStream> | null | undefined;
  if (typeof input !== 'object' || input === null || typeof input.read !== 'function' || typeof input[Symbol.asyncIterator] !== 'function') {
    serverBroke('§3.6', `environ['tsgi.input'] is ${describe(input)} without read() and [Symbol.asyncIterator]()`, 'pass an InputStream (spec §4)');
  }
  const errors = env['tsgi.errors'] as Partial<ErrorStream> | null | undefined;
  if (typeof errors !== 'object' || errors === null || typeof errors.write !== 'function' || typeof errors.flush !== 'function') {
    serverBroke('§3.6', `environ['tsgi.errors'] is ${describe(errors)} without write() and flush()`, 'pass an ErrorStream (spec §4.7)');
  }
  for (const key of ['tsgi.multithread', 'tsgi.multiprocess', 'tsgi.run_once'] as const) {
    if (typeof env[key] !== 'boolean') serverBroke('§3.6', `environ['${key}'] is ${describe(env[key])}`, 'it is a boolean');
  }
  if (env['tsgi.input_terminated'] !== true) {
    serverBroke('§3.6', `environ['tsgi.input_terminated'] is ${describe(env['tsgi.input_terminated'])}`, 'TSGI 1.0 input always signals its end: set it to true');
  }
  checkFieldList(env['tsgi.raw_headers'], 'tsgi.raw_headers', '§3.6');
  if (env['tsgi.trailers'] !== undefined) checkFieldList(env['tsgi.trailers'], 'tsgi.trailers', '§3.6');
}

// --- tsgi.input and tsgi.errors (spec §4) ----------------------------------------------------------

/** Forwards to the server's input stream, checking the app's calls and the server's answers. */
class ValidatedInput implements InputStream {
  readonly #source: InputStream;
  readonly #environ: Environ;
  /** Bytes the body has, or undefined for a chunked body whose length is unknown. */
  readonly #expected: number | undefined;
  readonly #chunked: boolean;
  #busy = false;
  #ended = false;
  #received = 0;

  constructor(environ: Environ) {
    this.#source = environ['tsgi.input'];
    this.#environ = environ;
    this.#chunked = environ.HTTP_TRANSFER_ENCODING !== undefined;
    // RFC 9112 §6.3: a request with neither Transfer-Encoding nor Content-Length has no content.
    this.#expected = this.#chunked ? undefined : environ.CONTENT_LENGTH === '' ? 0 : Number(environ.CONTENT_LENGTH);
  }

  read(size?: number): Promise<Uint8Array> {
    if (size !== undefined && (typeof size !== 'number' || !Number.isInteger(size) || size === 0)) {
      appBroke('§4.1', `tsgi.input.read() was called with ${describe(size)}`, 'pass a positive integer, or nothing to read whatever is available');
    }
    this.#claim('read()');
    let pending: unknown;
    try {
      pending = this.#source.read(size);
    } catch (error) {
      this.#busy = false;
      throw error;
    }
    if (!isThenable(pending)) {
      this.#busy = false;
      serverBroke('§4.1', `tsgi.input.read() returned ${describe(pending)}`, 'return a Promise of a Uint8Array');
    }
    return Promise.resolve(pending).then(
      (chunk) => {
        this.#busy = false;
        if (!isUint8Array(chunk)) serverBroke('§4.1', `tsgi.input.read() resolved with ${describe(chunk)}`, 'resolve with a Uint8Array');
        if (size !== undefined && size > 0 && chunk.length > size) {
          serverBroke('§4.1', `tsgi.input.read(${size}) resolved with ${chunk.length} bytes`, 'never return more than size bytes');
        }
        this.#account(chunk);
        return chunk;
      },
      (error: unknown) => {
        this.#busy = false;
        throw error;
      },
    );
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array> {
    const source = this.#source[Symbol.asyncIterator]();
    const iterator: AsyncIterableIterator<Uint8Array> = {
      next: () => {
        this.#claim('iteration');
        let pending: Promise<IteratorResult<Uint8Array>>;
        try {
          pending = Promise.resolve(source.next());
        } catch (error) {
          this.#busy = false;
          throw error;
        }
        return pending.then(
          (step) => {
            this.#busy = false;
            if (step.done) {
              this.#end();
              return step;
            }
            if (!isUint8Array(step.value) || step.value.length === 0) {
              serverBroke('§4.2', `iterating tsgi.input gave ${describe(step.value)}`, 'yield non-empty Uint8Arrays and finish at the end of the body');
            }
            this.#account(step.value);
            return step;
          },
          (error: unknown) => {
            this.#busy = false;
            throw error;
          },
        );
      },
      return: (value?: unknown) => Promise.resolve(source.return ? source.return(value) : { done: true as const, value: undefined }),
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  #claim(what: string): void {
    if (this.#busy) appBroke('§4.3', `tsgi.input ${what} started while another read was pending`, 'await each read before starting the next');
    this.#busy = true;
  }

  #account(chunk: Uint8Array): void {
    if (chunk.length === 0) return this.#end();
    if (this.#ended) serverBroke('§4.1', `tsgi.input returned ${chunk.length} bytes after it had signalled the end`, 'keep returning an empty array once the body has ended');
    this.#received += chunk.length;
    if (this.#expected !== undefined && this.#received > this.#expected) {
      serverBroke('§4.4', `tsgi.input returned ${this.#received} bytes for a CONTENT_LENGTH of ${this.#expected}`, "never read past this request's body");
    }
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#expected !== undefined && this.#received < this.#expected) {
      serverBroke('§4.4', `tsgi.input signalled the end after ${this.#received} of ${this.#expected} bytes`, 'reject the read when the client goes away; never pass a truncated body off as complete');
    }
    if (this.#chunked) {
      const trailers = this.#environ['tsgi.trailers'];
      if (trailers === undefined) serverBroke('§4.4', "a chunked body ended but environ['tsgi.trailers'] is unset", 'set it (to [] when there are none) before signalling the end');
      checkFieldList(trailers, 'tsgi.trailers', '§4.4');
    }
  }
}

function validatedErrors(source: ErrorStream): ErrorStream {
  return {
    write(message: string): void {
      if (typeof message !== 'string') appBroke('§4.7', `tsgi.errors.write() was called with ${describe(message)}`, 'write strings');
      source.write(message);
    },
    flush(): void {
      source.flush();
    },
  };
}

// --- One request: startResponse, write and the body (spec §5, §6) ----------------------------------

/** What reports a body whose close() never came; it holds nothing that keeps the body alive. */
class CloseWatch {
  #fired = false;
  readonly #report: (error: ValidationError) => void;
  readonly #request: string;

  constructor(report: (error: ValidationError) => void, request: string) {
    this.#report = report;
    this.#request = request;
  }

  fire(problem: string): void {
    if (this.#fired) return;
    this.#fired = true;
    this.#report(new ValidationError('server', '§6.4', `${problem} (${this.#request})`, 'call body.close() exactly once whatever happens'));
  }
}

// A best-effort net for bodies the server dropped without iterating them (e.g. the client left
// while an async app was still running). Collection may never happen; the deadline below is the
// check that reliably runs.
const droppedBodies = new FinalizationRegistry<CloseWatch>((watch) => {
  watch.fire('the server dropped a body without calling its close()');
});

class Exchange {
  readonly startResponse: StartResponse;
  readonly #environ: Environ;
  readonly #serverStartResponse: StartResponse;
  readonly #closeDeadlineMs: number;
  readonly #watch: CloseWatch;
  #status: number | undefined;
  #declaredLength: number | undefined;
  #headersSent = false;
  #bytesSent = 0;
  #closed = false;
  #nextPending = false;
  #deadline: ReturnType<typeof setTimeout> | undefined;

  constructor(environ: Environ, serverStartResponse: StartResponse, options: ValidateOptions) {
    this.#environ = environ;
    this.#serverStartResponse = serverStartResponse;
    this.#closeDeadlineMs = options.closeDeadlineMs ?? 1000;
    const errors = environ['tsgi.errors'];
    const report =
      options.report ??
      ((error: ValidationError) => {
        try {
          errors.write(`${error.message}\n`);
          errors.flush();
        } catch {
          process.emitWarning(error);
        }
      });
    this.#watch = new CloseWatch(report, `${environ.REQUEST_METHOD} ${environ.RAW_URI}`);
    this.startResponse = (status, headers, excInfo) => this.#start(status, headers, excInfo);
  }

  // spec §5.1, §5.6
  #start(status: string, headers: unknown, excInfo: unknown): Write {
    const replacing = excInfo !== undefined;
    if (this.#closed) appBroke('§5.1', 'startResponse() was called after the body was closed', 'start the response before the body ends');
    if (this.#status !== undefined && !replacing) {
      appBroke('§5.1', 'startResponse() was called a second time without excInfo', 'call it once, or pass the caught error as excInfo to replace the headers');
    }
    const code = this.#checkStatus(status);
    const declaredLength = this.#checkHeaders(headers, code);
    if (replacing && this.#headersSent) {
      // The headers are on the wire; the server must re-throw excInfo so the app's error surfaces.
      let thrown: { error: unknown } | undefined;
      try {
        this.#serverStartResponse(status, headers as [string, string][], excInfo);
      } catch (error) {
        thrown = { error };
      }
      if (thrown === undefined) serverBroke('§5.6', 'startResponse() with excInfo returned after the headers were sent', 're-throw excInfo');
      if (thrown.error !== excInfo) serverBroke('§5.6', `startResponse() with excInfo threw ${describe(thrown.error)} instead of excInfo`, 're-throw excInfo itself');
      throw excInfo;
    }
    const write: unknown = replacing
      ? this.#serverStartResponse(status, headers as [string, string][], excInfo)
      : this.#serverStartResponse(status, headers as [string, string][]);
    if (typeof write !== 'function') serverBroke('§5.1', `startResponse() returned ${describe(write)}`, 'return the write function');
    this.#status = code;
    this.#declaredLength = declaredLength;
    return this.#validatedWrite(write as Write);
  }

  #checkStatus(status: unknown): number {
    if (typeof status !== 'string') appBroke('§5.2', `the status is ${describe(status)}`, "pass a string such as '200 OK'");
    const match = STATUS.exec(status);
    if (match === null) appBroke('§5.2', `the status ${quote(status)} is not three digits, a space and a reason`, "use the form '404 Not Found'");
    const code = Number(match[1]);
    if (code < 200 || code > 599) appBroke('§5.2', `the status code ${code} is not a final status (200-599)`, 'interim 1xx responses belong to the server');
    return code;
  }

  /** Returns the declared Content-Length, if any. */
  #checkHeaders(headers: unknown, code: number): number | undefined {
    if (!Array.isArray(headers)) appBroke('§5.3', `the headers are ${describe(headers)}`, 'pass an array of [name, value] pairs');
    let declared: number | undefined;
    headers.forEach((header: unknown, i) => {
      if (!Array.isArray(header) || header.length !== 2 || typeof header[0] !== 'string' || typeof header[1] !== 'string') {
        appBroke('§5.3', `header ${i} is ${describe(header)}`, 'each header is a [name, value] pair of strings');
      }
      const [name, value] = header as [string, string];
      if (!TOKEN.test(name)) appBroke('§5.3', `the header name ${quote(name)} is not an RFC 9110 token`, "use letters, digits and !#$%&'*+-.^_`|~ only");
      if (BAD_FIELD_VALUE.test(value)) {
        appBroke('§5.3', `the value of ${name} is ${quote(value)}`, 'no CR, LF, NUL or other controls but HTAB, and no characters above U+00FF (encode them, e.g. RFC 8187)');
      }
      const lower = name.toLowerCase();
      if (HOP_BY_HOP.has(lower)) appBroke('§5.4', `the app set the hop-by-hop header ${name}`, 'leave connection management and framing to the server');
      if (lower === 'content-length') {
        if (!DIGITS.test(value)) appBroke('§5.3', `Content-Length is ${quote(value)}`, 'it is a number of bytes, digits only');
        // RFC 9110 §8.6: "A server MUST NOT send a Content-Length header field in any response with
        // a status code of 1xx (Informational) or 204 (No Content)."
        if (code === 204) appBroke('§5.3', 'a 204 response carries Content-Length', 'drop Content-Length from 204 responses');
        const length = Number(value);
        if (declared !== undefined && declared !== length) appBroke('§5.3', `Content-Length is given twice, as ${declared} and ${length}`, 'send it once');
        declared = length;
      }
    });
    return declared;
  }

  // spec §5.5
  #validatedWrite(serverWrite: Write): Write {
    return (chunk: Chunk) => {
      if (this.#closed) appBroke('§5.5', 'write() was called after the body was closed', 'finish writing before the body ends');
      if (!isChunk(chunk)) appBroke('§5.5', `write() was called with ${describe(chunk)}`, 'write strings (sent as UTF-8) or Uint8Arrays');
      this.#headersSent = true;
      this.#count(chunk);
      const pending: unknown = serverWrite(chunk);
      if (!isThenable(pending)) serverBroke('§5.5', `write() returned ${describe(pending)}`, 'return a Promise that settles once the chunk is handed to the transport');
      return pending as Promise<void>;
    };
  }

  /** HEAD, 204 and 304 responses carry no content (RFC 9110 §9.3.2, §15.3.5, §15.4.5). */
  #bodyless(): boolean {
    return this.#environ.REQUEST_METHOD === 'HEAD' || this.#status === 204 || this.#status === 304;
  }

  // spec §6.2, §6.3
  #count(chunk: Chunk): void {
    const bytes = byteLength(chunk);
    if (bytes === 0) return;
    if (this.#status === 204 || this.#status === 304) {
      appBroke('§6.3', `a ${this.#status} response produced ${bytes} bytes of content`, `a ${this.#status} response has no content: yield nothing`);
    }
    if (this.#bodyless()) return;
    this.#bytesSent += bytes;
    if (this.#declaredLength !== undefined && this.#bytesSent > this.#declaredLength) {
      appBroke('§6.3', `the body is longer than its Content-Length of ${this.#declaredLength} (${this.#bytesSent} bytes so far)`, 'declare the real length or drop Content-Length');
    }
  }

  #chunk(value: unknown): void {
    if (!isChunk(value)) appBroke('§6.2', `the body produced ${describe(value)}`, chunkHint(value));
    if (this.#status === undefined) appBroke('§5.1', 'the body produced a chunk before startResponse() was called', 'call startResponse() before the first chunk');
    this.#count(value);
    if (byteLength(value) > 0) this.#headersSent = true;
  }

  #bodyEnded(): void {
    this.#stopped();
    if (this.#status === undefined) appBroke('§5.1', 'the body ended without startResponse() having been called', 'call startResponse() before returning an empty body');
    this.#headersSent = true;
    if (this.#declaredLength !== undefined && !this.#bodyless() && this.#bytesSent < this.#declaredLength) {
      appBroke('§6.3', `the body ended after ${this.#bytesSent} of its declared ${this.#declaredLength} bytes`, 'declare the real length or drop Content-Length');
    }
  }

  /** Iteration is over (end, error or abandoned): close() must follow (spec §6.4). */
  #stopped(): void {
    if (this.#closed || this.#deadline !== undefined) return;
    const ms = this.#closeDeadlineMs;
    this.#deadline = setTimeout(() => this.#watch.fire(`the server stopped iterating the body but did not call close() within ${ms} ms`), ms);
    this.#deadline.unref();
  }

  #beforeNext(): void {
    if (this.#closed) serverBroke('§6.4', 'the server asked for another chunk after calling close()', 'stop iterating before closing the body');
  }

  // spec §6.1
  wrapBody(body: unknown): Body {
    if (typeof body === 'string') appBroke('§6.1', `the app returned ${describe(body)} as its body`, 'return an iterable of chunks, e.g. [text]');
    if (typeof body !== 'object' || body === null) appBroke('§6.1', `the app returned ${describe(body)}`, 'return an iterable or async iterable of chunks, e.g. [] for no content');
    if (ArrayBuffer.isView(body) || body instanceof ArrayBuffer) {
      appBroke('§6.1', `the app returned ${describe(body)} as its body`, 'wrap the bytes in an array: [bytes]');
    }
    const source = body as Partial<Iterable<unknown> & AsyncIterable<unknown>> & { close?: unknown };
    const isAsync = typeof source[Symbol.asyncIterator] === 'function';
    if (!isAsync && typeof source[Symbol.iterator] !== 'function') {
      appBroke('§6.1', `the app returned ${describe(body)} that is neither iterable nor async iterable`, 'return an array, a generator or an async generator of chunks');
    }
    if (source.close !== undefined && typeof source.close !== 'function') {
      appBroke('§6.4', `the body's close is ${describe(source.close)}`, 'make close a method, or leave it out');
    }
    const close = () => {
      if (this.#closed) serverBroke('§6.4', 'the server called close() on a body twice', 'call close() exactly once');
      this.#closed = true;
      clearTimeout(this.#deadline);
      droppedBodies.unregister(this.#watch);
      return typeof source.close === 'function' ? source.close() : undefined;
    };

    let wrapped: Body;
    if (Array.isArray(body)) {
      wrapped = this.#wrapArray(body, close);
    } else if (isAsync) {
      const asyncSource = source as AsyncIterable<unknown>;
      let taken = false;
      wrapped = {
        [Symbol.asyncIterator]: () => {
          taken = this.#takeIterator(taken);
          return this.#asyncIterator(asyncSource[Symbol.asyncIterator]());
        },
        close,
      };
    } else {
      const syncSource = source as Iterable<unknown>;
      let taken = false;
      wrapped = {
        [Symbol.iterator]: () => {
          taken = this.#takeIterator(taken);
          return this.#syncIterator(syncSource[Symbol.iterator]());
        },
        close,
      };
    }
    droppedBodies.register(wrapped, this.#watch, this.#watch);
    return wrapped;
  }

  /** An Array stays an Array, so a server may still size it up front (spec §6.3). */
  #wrapArray(body: unknown[], close: () => unknown): Body {
    const copy: Chunk[] = [];
    for (let i = 0; i < body.length; i++) {
      const value = body[i];
      if (!isChunk(value)) appBroke('§6.2', `element ${i} of the returned array is ${describe(value)}`, chunkHint(value));
      copy.push(value);
    }
    // Arrays may be iterated more than once (e.g. once to size them), so no single-iterator check.
    Object.defineProperty(copy, Symbol.iterator, {
      value: () => {
        if (this.#closed) serverBroke('§6.4', 'the server iterated the body after calling close()', 'stop iterating before closing the body');
        return this.#syncIterator(Array.prototype.values.call(copy));
      },
      configurable: true,
      writable: true,
    });
    Object.defineProperty(copy, 'close', { value: close, configurable: true, writable: true });
    return copy;
  }

  // spec §6.5
  #takeIterator(taken: boolean): true {
    if (this.#closed) serverBroke('§6.4', 'the server iterated the body after calling close()', 'stop iterating before closing the body');
    if (taken) serverBroke('§6.5', 'the server asked the body for a second iterator', 'iterate a body once; only Arrays may be re-read');
    return true;
  }

  #syncIterator(source: Iterator<unknown>): IterableIterator<Chunk> {
    const iterator: IterableIterator<Chunk> = {
      next: () => {
        this.#beforeNext();
        let step: IteratorResult<unknown>;
        try {
          step = source.next();
        } catch (error) {
          this.#stopped();
          throw error;
        }
        return this.#checkStep(step, source);
      },
      return: (value?: unknown) => {
        this.#stopped();
        if (typeof source.return === 'function') return source.return(value) as IteratorResult<Chunk>;
        return { done: true, value: undefined };
      },
      [Symbol.iterator]: () => iterator,
    };
    return iterator;
  }

  #asyncIterator(source: AsyncIterator<unknown>): AsyncIterableIterator<Chunk> {
    const iterator: AsyncIterableIterator<Chunk> = {
      next: async () => {
        if (this.#nextPending) serverBroke('§6.5', 'the server called next() on the body while the previous next() was pending', 'await each chunk before asking for the next');
        this.#beforeNext();
        this.#nextPending = true;
        let step: IteratorResult<unknown>;
        try {
          step = await source.next();
        } catch (error) {
          this.#stopped();
          throw error;
        } finally {
          this.#nextPending = false;
        }
        return this.#checkStep(step, source);
      },
      return: async (value?: unknown) => {
        this.#stopped();
        if (typeof source.return === 'function') return (await source.return(value)) as IteratorResult<Chunk>;
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  #checkStep(step: IteratorResult<unknown>, source: Iterator<unknown> | AsyncIterator<unknown>): IteratorResult<Chunk> {
    try {
      if (step.done) {
        this.#bodyEnded();
        return { done: true, value: undefined };
      }
      this.#chunk(step.value);
      return step as IteratorResult<Chunk>;
    } catch (error) {
      // The breach ends iteration: let the app's generator run its finally blocks.
      this.#stopped();
      try {
        const finishing: unknown = source.return?.();
        if (isThenable(finishing)) finishing.then(undefined, () => {});
      } catch {
        // The breach being reported matters more than a failing return().
      }
      throw error;
    }
  }
}

// --- The middleware ---------------------------------------------------------------------------------

/**
 * Wraps `app` so that every use of the TSGI contract, by the server calling it and by the app
 * itself, is checked against docs/spec.md. Throws ValidationError on a breach.
 */
export function validate(app: App, options: ValidateOptions = {}): App {
  if (typeof app !== 'function') appBroke('§2.1', `validate() was given ${describe(app)}`, 'pass the app function itself');
  if (app.close !== undefined && typeof app.close !== 'function') {
    appBroke('§7.4', `app.close is ${describe(app.close)}`, 'make close a function, or leave it out');
  }

  const validated: App = (...args: unknown[]) => {
    if (args.length !== 2) serverBroke('§2.1', `the app was called with ${args.length} arguments`, 'call it as app(environ, startResponse)');
    const [environ, startResponse] = args;
    checkEnviron(environ);
    if (typeof startResponse !== 'function') serverBroke('§2.1', `startResponse is ${describe(startResponse)}`, 'pass a startResponse function');
    const exchange = new Exchange(environ, startResponse as StartResponse, options);
    // In place, not a copy: the server sets tsgi.trailers on its own environ object later (§4.4).
    environ['tsgi.input'] = new ValidatedInput(environ);
    environ['tsgi.errors'] = validatedErrors(environ['tsgi.errors']);

    const result = app(environ, exchange.startResponse);
    if (isThenable(result)) return Promise.resolve(result).then((body) => exchange.wrapBody(body));
    return exchange.wrapBody(result);
  };

  if (typeof app.close === 'function') {
    const appClose = app.close;
    let closed = false;
    validated.close = () => {
      if (closed) serverBroke('§7.4', 'app.close() was called twice', 'call it once, at graceful shutdown');
      closed = true;
      return appClose.call(app);
    };
  }
  return validated;
}

export default validate;
