/**
 * The TSGI 1.0 contract between a server and an application.
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
   * Resolves with up to `size` bytes (any amount when `size` is omitted or negative); an empty
   * array means the body has ended. Never reads past the end of this request's body.
   */
  read(size?: number): Promise<Uint8Array>;
}

/** `environ['tsgi.errors']`: where an app writes diagnostics; it goes to the server's error log. */
export interface ErrorStream {
  write(message: string): void;
  flush(): void;
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
   * Aborted when the server abandons the request before its response is complete (the client
   * left, --request-timeout, a malformed or stalled body); `reason` is a TsgiError saying which.
   * Created when first read.
   */
  'tsgi.signal': AbortSignal;
  /** Sends 103 Early Hints with these fields before the final response (a no-op on HTTP/1.0). */
  'tsgi.early_hints': (headers: Header[]) => void;
  [key: `HTTP_${string}`]: string | undefined;
  [key: string]: unknown;
}

/** A TSGI application (spec §2). It may carry `close()`, awaited once at graceful shutdown. */
export type App = ((environ: Environ, startResponse: StartResponse) => Body | Promise<Body>) & {
  close?: () => unknown;
};

/** A factory named as `module:create()`; awaited once per worker before it takes traffic. */
export type AppFactory = (...args: string[]) => App | Promise<App>;
