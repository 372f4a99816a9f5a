/**
 * The WHATWG `Request` a fetch app is given, built from the environ:
 * - method as the Fetch standard normalises it (`get` → `GET` for its six methods);
 * - URL per spec §3.8 (request-url.ts);
 * - headers from `tsgi.raw_headers`, each field line appended, so duplicates are kept;
 * - `body` a stream fed from `tsgi.input` on demand (a 1 GiB upload never sits in memory);
 * - `signal` the environ's `tsgi.signal` (aborted when the server abandons the request).
 *
 * Two forms. `genuineRequest()` is `new Request(...)`. `lazyRequest()` is an object whose prototype
 * chain leads to `Request.prototype` (so `instanceof Request` holds) that answers `method`, `url`,
 * `headers` and `signal` itself and creates the genuine Request the first time anything else is
 * asked of it (`body`, `json()`, `clone()`…), passing the call on. A router that reads only the
 * method, URL and a few headers never pays for a Request. bench/fetch-request.js measures both;
 * docs/interfaces.md has the figures and the one difference (brand checks: `fetch(request)` and
 * `new Request(request)` need the genuine object, which `toGenuineRequest()` gives).
 */
import type { Environ } from '../types.js';
import { inputToReadableStream } from './input-stream.js';
import { requestUrl } from './request-url.js';

/** The Fetch standard's method normalisation: these six are uppercased, every other kept. */
const NORMALISED = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);

export function fetchMethod(method: string): string {
  if (NORMALISED.has(method)) return method;
  const upper = method.toUpperCase();
  return NORMALISED.has(upper) ? upper : method;
}

/** Methods a WHATWG Request refuses to carry (Fetch standard, "forbidden method"). */
export function isForbiddenMethod(method: string): boolean {
  const upper = method.toUpperCase();
  return upper === 'CONNECT' || upper === 'TRACE' || upper === 'TRACK';
}

export function requestHeaders(environ: Environ): Headers {
  const headers = new Headers();
  const raw = environ['tsgi.raw_headers'];
  for (let i = 0; i < raw.length; i++) headers.append(raw[i]![0], raw[i]![1]);
  return headers;
}

/** RFC 9112 §6.3: a request has content only when it is framed by Content-Length or chunked. */
function hasBody(environ: Environ): boolean {
  return environ.CONTENT_LENGTH !== '' || environ.HTTP_TRANSFER_ENCODING !== undefined;
}

function environSignal(environ: Environ): AbortSignal | undefined {
  const signal = environ['tsgi.signal'];
  return signal instanceof AbortSignal ? signal : undefined;
}

function requestInit(environ: Environ, method: string, headers: Headers): RequestInit {
  const init: RequestInit & { duplex?: 'half' } = { method, headers };
  if (method !== 'GET' && method !== 'HEAD' && hasBody(environ)) {
    init.body = inputToReadableStream(environ['tsgi.input']);
    init.duplex = 'half';
  }
  return init;
}

/** `new Request(...)` for the environ. Throws a TypeError when the URL is invalid. */
export function genuineRequest(environ: Environ): Request {
  const method = fetchMethod(environ.REQUEST_METHOD);
  const init = requestInit(environ, method, requestHeaders(environ));
  const signal = environSignal(environ);
  if (signal !== undefined) init.signal = signal;
  return new Request(requestUrl(environ), init);
}

const kEnviron = Symbol('tsgi.environ');
const kUrl = Symbol('tsgi.url');
const kMethod = Symbol('tsgi.method');
const kHeaders = Symbol('tsgi.headers');
const kSignal = Symbol('tsgi.signal');
const kGenuine = Symbol('tsgi.genuine');

interface LazyRequest {
  [kEnviron]: Environ;
  [kUrl]: string;
  [kMethod]: string;
  [kHeaders]?: Headers;
  [kSignal]?: AbortSignal;
  [kGenuine]?: Request;
}

function genuineOf(lazy: LazyRequest): Request {
  let request = lazy[kGenuine];
  if (request === undefined) {
    const environ = lazy[kEnviron];
    const headers = (lazy[kHeaders] ??= requestHeaders(environ));
    // No signal is passed: a Request following one costs more than the rest of it, and this
    // object's own `signal` answers with the environ's (the body stream fails on its own when
    // the client goes away).
    request = new Request(lazy[kUrl], requestInit(environ, lazy[kMethod], headers));
    lazy[kGenuine] = request;
  }
  return request;
}

const lazyPrototype: object = Object.create(Request.prototype, {
  method: {
    get(this: LazyRequest) {
      return this[kMethod];
    },
  },
  url: {
    get(this: LazyRequest) {
      return this[kUrl];
    },
  },
  headers: {
    get(this: LazyRequest) {
      // Once a genuine Request exists its headers are the ones (it copied those given so far).
      const genuine = this[kGenuine];
      if (genuine !== undefined) return genuine.headers;
      return (this[kHeaders] ??= requestHeaders(this[kEnviron]));
    },
  },
  signal: {
    get(this: LazyRequest) {
      // An environ without tsgi.signal (built by hand): a signal of this request's own that never aborts.
      return (this[kSignal] ??= environSignal(this[kEnviron]) ?? new AbortController().signal);
    },
  },
});

// Everything else a Request has is answered by the genuine Request, created on first use.
for (const key of Reflect.ownKeys(Request.prototype)) {
  if (key === 'constructor' || Object.prototype.hasOwnProperty.call(lazyPrototype, key)) continue;
  const descriptor = Object.getOwnPropertyDescriptor(Request.prototype, key)!;
  if (descriptor.get !== undefined) {
    Object.defineProperty(lazyPrototype, key, {
      get(this: LazyRequest) {
        return Reflect.get(genuineOf(this), key);
      },
    });
  } else if (typeof descriptor.value === 'function') {
    Object.defineProperty(lazyPrototype, key, {
      value(this: LazyRequest, ...args: unknown[]) {
        const genuine = genuineOf(this);
        return (Reflect.get(genuine, key) as (...a: unknown[]) => unknown).apply(genuine, args);
      },
      writable: true,
      configurable: true,
    });
  }
}

/**
 * A Request for the environ that creates the genuine one only when something beyond method, URL,
 * headers and signal is asked of it. Throws a TypeError when the URL is invalid, as `new Request`.
 */
export function lazyRequest(environ: Environ): Request {
  const lazy = Object.create(lazyPrototype) as LazyRequest;
  lazy[kEnviron] = environ;
  lazy[kUrl] = requestUrl(environ);
  lazy[kMethod] = fetchMethod(environ.REQUEST_METHOD);
  return lazy as unknown as Request;
}

/**
 * The genuine Request behind `request` (itself when it is one). Needed where the platform checks
 * the brand: `fetch(request)`, `new Request(request)`.
 */
export function toGenuineRequest(request: Request): Request {
  return kEnviron in request ? genuineOf(request as unknown as LazyRequest) : request;
}
