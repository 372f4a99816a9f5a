/**
 * What the sans-IO request parser reports. `RequestParser.next()` returns one of these codes and
 * leaves the payload on the parser (`head`, `chunk`, `trailers`, `error`), so that parsing a
 * request allocates no event objects.
 */
export const NEED_DATA = 0; // feed more bytes, then call next() again
export const HEAD = 1; // parser.head holds the request line and fields
export const DATA = 2; // parser.chunk holds body bytes (a view into the fed buffer)
export const END = 3; // the body is complete; parser.trailers holds any trailer fields
export const PAUSED = 4; // a message ended; call startNextRequest() once its response is done
export const ERROR = 5; // parser.error says why; the connection must be closed after answering
export const CLOSED = 6; // the peer ended cleanly between requests (only after feedEnd())

export type ParserEvent =
  | typeof NEED_DATA
  | typeof HEAD
  | typeof DATA
  | typeof END
  | typeof PAUSED
  | typeof ERROR
  | typeof CLOSED;

/** A parsed request head. Strings are latin1 decodings of the received bytes. */
export interface RequestHead {
  method: string;
  /** The request-target exactly as received. */
  target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  versionMinor: 0 | 1;
  /** Fields in wire order, flat: [name0, value0, name1, value1, ...]; names as sent, values without OWS. */
  headers: string[];
  /** The declared Content-Length, or -1 when the request has none. */
  contentLength: number;
  /** True when the body is chunked. */
  chunked: boolean;
  /** Whether the connection may carry another request after this one (version + Connection). */
  keepAlive: boolean;
  /** True when the request carries `Expect: 100-continue` (HTTP/1.1 only). */
  expectContinue: boolean;
}

/** Limits on what a client may send before the request is refused (Gunicorn's defaults). */
export interface ParserLimits {
  /** Longest request line in bytes, CRLF excluded; longer → 414. 0 = no limit. */
  maxRequestLine: number;
  /** Most header fields; more → 431. */
  maxHeaderCount: number;
  /** Longest header (or trailer) field line in bytes, its CRLF included, as Gunicorn counts it; longer → 431. */
  maxHeaderFieldSize: number;
}

export const DEFAULT_LIMITS: ParserLimits = {
  maxRequestLine: 4094,
  maxHeaderCount: 100,
  maxHeaderFieldSize: 8190,
};
