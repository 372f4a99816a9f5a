/**
 * The TSGI 1.1 contract between a server and an application.
 *
 * docs/spec.md is the normative text; these types are its machine-checked half. Anything a server
 * passes to an app, or an app hands back, is described here and nowhere else.
 */

/** One piece of response body. Strings are sent as UTF-8. */
export type Chunk = Uint8Array | string;

/**
 * What an app returns: any sync or async iterable of chunks. It may carry a `close()` method, which
 * the server calls exactly once when it is done with the body, whatever happened (spec §6.4).
 */
export type Body = (Iterable<Chunk> | AsyncIterable<Chunk>) & { close?: () => unknown };

/**
 * The legacy imperative write path returned by `startResponse` (spec §5.5). The promise settles
 * when the chunk has been handed to the transport; awaiting it gives backpressure.
 */
export type Write = (chunk: Chunk) => Promise<void>;

/** A response header as the app sends it: `[name, value]`. */
export type Header = [name: string, value: string];

/**
 * `startResponse(status, headers, excInfo?)` (spec §5). `status` is `"200 OK"`: three digits, a
 * space, a reason phrase. Calling it a second time is only allowed with `excInfo`, and only while
 * the headers have not been sent; once they have, the server re-throws `excInfo`.
 */
export type StartResponse = (status: string, headers: Header[], excInfo?: unknown) => Write;

/** `environ['tsgi.input']`: the request body as a byte stream (spec §4). */
export interface InputStream extends AsyncIterable<Uint8Array> {
  /**
   * Resolves with 1 to `size` bytes for a positive integer `size`, any amount for `undefined`,
   * `null`, `Infinity` or a negative number; an empty array means the body has ended. `0`, `NaN`
   * and fractions reject with a RangeError (spec §4.1). Never reads past this request's body.
   */
  read(size?: number | null): Promise<Uint8Array>;
}

/** `environ['tsgi.errors']`: where an app writes diagnostics; it goes to the server's error log. */
export interface ErrorStream {
  write(message: string): void;
  flush(): void;
}

/**
 * `environ['tsgi.early_hints'](headers)` (spec §5.7): sends a `103 Early Hints` interim response
 * with these fields before the final response (nothing on HTTP/1.0). Throws a TsgiError with code
 * `TSGI_ERR_HEADERS_SENT` once the final response's head was sent.
 */
export type EarlyHints = (headers: Header[]) => void;

/**
 * `environ['tsgi.upgrade']()` (spec §3.10): present only on an HTTP/1.1 request that asks to
 * switch protocols (`Upgrade`, listed in `Connection`) and has no content. Calling it, before any
 * byte of the response was sent, hands the app the connection: the app writes the `101` (or any
 * answer) and the new protocol itself; the server writes and reads nothing more on it. Throws a
 * TsgiError `TSGI_ERR_UPGRADE` when the connection can no longer be handed over.
 */
export type Upgrade = () => UpgradedConnection;

/** What `tsgi.upgrade()` gives the app. */
export interface UpgradedConnection {
  /** The connection (a net.Socket, or a TLS socket). The app closes it when it is done. */
  socket: import('node:stream').Duplex;
  /** Bytes the server read past the request head: the first bytes of the new protocol. */
  head: Uint8Array;
  /** Aborted, with reason `TSGI_ERR_SHUTTING_DOWN`, when the worker begins a graceful stop. */
  signal: AbortSignal;
}

/** The per-request dictionary handed to the app (spec §3). */
export interface Environ {
  REQUEST_METHOD: string;
  SCRIPT_NAME: string;
  PATH_INFO: string;
  QUERY_STRING: string;
  CONTENT_TYPE: string;
  CONTENT_LENGTH: string;
  SERVER_NAME: string;
  SERVER_PORT: string;
  SERVER_PROTOCOL: string;
  SERVER_SOFTWARE: string;
  REMOTE_ADDR: string;
  REMOTE_PORT: string;
  RAW_URI: string;
  'tsgi.version': readonly [1, 1];
  'tsgi.url_scheme': 'http' | 'https';
  'tsgi.input': InputStream;
  'tsgi.errors': ErrorStream;
  'tsgi.multithread': boolean;
  'tsgi.multiprocess': boolean;
  'tsgi.run_once': boolean;
  'tsgi.input_terminated': boolean;
  /** The request's header fields in wire order, names as sent, duplicates kept. */
  'tsgi.raw_headers': Header[];
  /** Trailer fields of a chunked request body, available once `tsgi.input` has ended. */
  'tsgi.trailers'?: Header[];
  /**
   * Aborted when the server abandons the request before its response is complete (spec §3.9):
   * the client left, a timeout ran out, the request body was malformed. Its `reason` is a
   * TsgiError whose `code` says which. Never aborted after the response completed.
   */
  'tsgi.signal': AbortSignal;
  /** Sends a 103 Early Hints response (spec §5.7). */
  'tsgi.early_hints': EarlyHints;
  /** Only on a request that carries `Upgrade` (spec §3.10). */
  'tsgi.upgrade'?: Upgrade;
  [key: `HTTP_${string}`]: string | undefined;
  [key: string]: unknown;
}

/** A TSGI application (spec §2). It may carry `close()`, awaited once at graceful shutdown. */
export type App = ((environ: Environ, startResponse: StartResponse) => Body | Promise<Body>) & {
  close?: () => unknown;
};

/** A factory named as `module:create()`; awaited once per worker before it takes traffic. */
export type AppFactory = (...args: string[]) => App | Promise<App>;
