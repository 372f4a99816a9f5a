/**
 * Builds the environ (spec §3) from a parsed request. Both HTTP engines call this one function, so
 * the same request gives the same environ whichever engine parsed it.
 */
import type { Environ, ErrorStream, Header, InputStream } from './types.js';
import { SERVER_SOFTWARE } from '../version.js';
import { decodePath, splitTarget, type TargetParts } from '../http/target.js';

/** Reused by every request: splitting a target allocates only its part strings. */
const TARGET_PARTS: TargetParts = { authority: null, path: '', query: '', fragment: null };

/**
 * What the environ's lazy and callable keys reach: the request driver's handle on this request.
 * `tsgi.signal` costs an AbortController, so it is made only when an app reads it.
 */
export interface RequestHandle {
  signal(): AbortSignal;
  earlyHints(headers: Header[]): void;
}

/** What the engine knows about the connection; computed once per connection. */
export interface ConnectionInfo {
  serverName: string;
  serverPort: string;
  remoteAddr: string;
  remotePort: string;
  scheme: 'http' | 'https';
  /** True on a unix socket: SERVER_NAME/PORT then come from Host. */
  unix: boolean;
}

/** What the worker knows; the same for every request. */
export interface ServerInfo {
  /** --root-path: the prefix the app is mounted at ('' for none), without a trailing slash. */
  scriptName: string;
  multiprocess: boolean;
  errors: ErrorStream;
}

const VERSION = Object.freeze([1, 1] as const);

const kHandle = Symbol('tsgi.request');

/**
 * spec §3.6: `tsgi.signal` is an own, enumerable accessor, so the environ stays a plain object
 * (copying it copies the signal) while a request whose app never reads it creates none. One
 * descriptor object serves every environ.
 */
const SIGNAL: PropertyDescriptor = {
  get(this: { [kHandle]: RequestHandle }): AbortSignal {
    return this[kHandle].signal();
  },
  // spec §3.1: the app may change any key, this one included (a deadline middleware replaces it).
  set(this: object, value: unknown): void {
    Object.defineProperty(this, 'tsgi.signal', { value, writable: true, enumerable: true, configurable: true });
  },
  enumerable: true,
  configurable: true,
};

/** Header name → environ key, or null when the name is not mapped. Names repeat, so cache them. */
const keyCache = new Map<string, string | null>();
const KEY_CACHE_MAX = 2048;

// The keys of the last request's fields, by position: clients (and proxies) send the same fields in
// the same order, so comparing a name with the one at its position usually saves the hash lookup.
const lastNames: string[] = [];
const lastKeys: (string | null)[] = [];

function environKeyAt(name: string, position: number): string | null {
  if (lastNames[position] === name) return lastKeys[position]!;
  const key = environKey(name);
  if (position < 64) {
    lastNames[position] = own(name);
    lastKeys[position] = key;
  }
  return key;
}

/**
 * A copy of a name that holds no reference to the request head it was cut from (V8 keeps the whole
 * head alive behind a long substring), for names kept in the caches beyond the request.
 */
function own(name: string): string {
  return name.length < 13 ? name : Buffer.from(name, 'latin1').toString('latin1');
}

function environKey(name: string): string | null {
  let key = keyCache.get(name);
  if (key !== undefined) return key;
  const upper = name.toUpperCase();
  if (upper === 'CONTENT-TYPE') key = 'CONTENT_TYPE';
  else if (upper === 'CONTENT-LENGTH') key = 'CONTENT_LENGTH';
  // A name with "_" would collide with the same name spelt with "-" (X_Auth vs X-Auth): a client
  // could forge a field a proxy sets. Such names stay visible only in tsgi.raw_headers.
  else if (upper.includes('_')) key = null;
  else key = 'HTTP_' + upper.replaceAll('-', '_');
  if (keyCache.size < KEY_CACHE_MAX) keyCache.set(own(name), key);
  return key;
}

/**
 * The environ for one request, or null when its path is not under the root path (spec §3.2: the
 * server then answers 404 and MUST NOT call the app).
 */
export function buildEnviron(
  method: string,
  target: string,
  versionMinor: 0 | 1,
  headers: string[],
  input: InputStream,
  conn: ConnectionInfo,
  server: ServerInfo,
  handle: RequestHandle,
): Environ | null {
  // spec §3.2: the fragment (RFC 3986 §3.5) is not part of PATH_INFO or QUERY_STRING; RAW_URI keeps it.
  const parts = splitTarget(target, TARGET_PARTS);
  const path = parts.path;
  const query = parts.query;
  const authority = parts.authority;
  let pathInfo = path === '*' ? '*' : decodePath(path);
  let scriptName = server.scriptName;
  if (scriptName !== '') {
    if (pathInfo === '*') {
      // spec §3.3: a server-wide OPTIONS is about no mounted app in particular.
      scriptName = '';
    } else if (pathInfo === scriptName || (pathInfo.startsWith(scriptName) && pathInfo.charCodeAt(scriptName.length) === 0x2f)) {
      pathInfo = pathInfo.slice(scriptName.length);
    } else {
      return null;
    }
  }

  const raw: Header[] = new Array(headers.length >> 1);
  // Still a TSGI 1.0 environ (version [1, 0], no tsgi.signal or tsgi.early_hints) until the request
  // driver builds the 1.1 one; the cast only lets it compile against the 1.1 type.
  const environ = {
    REQUEST_METHOD: method,
    SCRIPT_NAME: scriptName,
    PATH_INFO: pathInfo,
    QUERY_STRING: query,
    CONTENT_TYPE: '',
    CONTENT_LENGTH: '',
    // Set below: from Host when the request names one, else from the connection.
    SERVER_NAME: '',
    SERVER_PORT: '',
    SERVER_PROTOCOL: versionMinor === 1 ? 'HTTP/1.1' : 'HTTP/1.0',
    SERVER_SOFTWARE,
    REMOTE_ADDR: conn.remoteAddr,
    REMOTE_PORT: conn.remotePort,
    RAW_URI: target,
    'tsgi.version': VERSION,
    'tsgi.url_scheme': conn.scheme,
    'tsgi.input': input,
    'tsgi.errors': server.errors,
    'tsgi.multithread': false,
    'tsgi.multiprocess': server.multiprocess,
    'tsgi.run_once': false,
    'tsgi.input_terminated': true,
    'tsgi.raw_headers': raw,
    'tsgi.early_hints': (fields: Header[]) => handle.earlyHints(fields),
    [kHandle]: handle,
  } as Omit<Environ, 'tsgi.signal'> as Environ;
  const env = environ as Record<string, unknown>;
  let typeSeen = false;
  for (let i = 0, j = 0; i < headers.length; i += 2, j++) {
    const name = headers[i]!;
    const value = headers[i + 1]!;
    raw[j] = [name, value];
    const key = environKeyAt(name, j);
    if (key === null) continue;
    const prev = env[key];
    // RFC 9110 §5.3: repeated field lines combine, in order, as a comma-separated list, empty
    // values included (spec §3.4.1); cookies are joined with "; " (RFC 6265 §5.4). CONTENT_TYPE
    // starts as '' meaning absent, so its first line is told apart by `typeSeen`.
    if (typeof prev === 'string' && (key.charCodeAt(0) === 0x48 /* H */ || (key === 'CONTENT_TYPE' && typeSeen))) {
      env[key] = prev + (key === 'HTTP_COOKIE' ? '; ' : ', ') + value;
    } else {
      env[key] = value;
      if (key === 'CONTENT_TYPE') typeSeen = true;
    }
  }
  if (authority !== null) env.HTTP_HOST = authority;
  const host = environ.HTTP_HOST;
  if (host !== undefined && host !== '') {
    fillServerFromHost(environ, host, conn.scheme);
  } else {
    environ.SERVER_NAME = conn.serverName;
    environ.SERVER_PORT = conn.serverPort;
  }
  // Defined last, after the header keys, so every environ goes through the same shapes.
  Object.defineProperty(environ, 'tsgi.signal', SIGNAL);
  return environ;
}

// The last Host seen and what it gave: a connection, and most clients, repeat theirs.
let lastHost = '';
let lastScheme = '';
let lastName = '';
let lastPort = '';

/**
 * spec §3.5: SERVER_NAME and SERVER_PORT are the name the client used (RFC 9112 §3.2: Host, or the
 * absolute-form authority), with the scheme's default port when it gave none; the socket's own
 * address only when the client named nothing. On a unix socket Host is the only name there is.
 */
function fillServerFromHost(environ: Environ, host: string, scheme: 'http' | 'https'): void {
  if (host !== lastHost || scheme !== lastScheme) {
    const defaultPort = scheme === 'https' ? '443' : '80';
    if (host.charCodeAt(0) === 0x5b /* [ */) {
      const close = host.indexOf(']');
      lastName = host.slice(0, close + 1);
      lastPort = host.charCodeAt(close + 1) === 0x3a && close + 2 < host.length ? host.slice(close + 2) : defaultPort;
    } else {
      const colon = host.lastIndexOf(':');
      lastName = colon === -1 ? host : host.slice(0, colon);
      lastPort = colon === -1 || colon + 1 === host.length ? defaultPort : host.slice(colon + 1);
    }
    lastHost = host;
    lastScheme = scheme;
  }
  environ.SERVER_NAME = lastName;
  environ.SERVER_PORT = lastPort;
}
