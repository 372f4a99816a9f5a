/**
 * Why the request parser refuses a request: one stable code per kind of problem, each with the
 * status the server answers before it closes the connection. docs/errors.md lists them.
 */
import { HttpParseError } from '../errors.js';

/** Every code the request parser can put on an HttpParseError, with the status it carries. */
export const PARSE_ERROR_STATUS = {
  /** The peer closed its side in the middle of a request head or body. */
  TSGI_ERR_HTTP_INCOMPLETE: 400,
  /** A CR not followed by LF, or an LF not preceded by CR (RFC 9112 §2.2). */
  TSGI_ERR_HTTP_LINE_ENDING: 400,
  /** The request-line is not `method SP request-target SP HTTP-version` (RFC 9112 §3). */
  TSGI_ERR_HTTP_REQUEST_LINE: 400,
  /** The HTTP-version is not HTTP/1.0 or HTTP/1.1 (RFC 9112 §2.3). */
  TSGI_ERR_HTTP_VERSION: 400,
  /** The request-target is not in a form allowed for the method (RFC 9112 §3.2). */
  TSGI_ERR_HTTP_TARGET: 400,
  /** The request-line is longer than the configured limit (RFC 9112 §3). */
  TSGI_ERR_HTTP_REQUEST_LINE_TOO_LONG: 414,
  /** A field line is malformed: name, colon, value or obs-fold (RFC 9112 §5). */
  TSGI_ERR_HTTP_FIELD: 400,
  /** One field line is longer than the configured limit (RFC 6585 §5). */
  TSGI_ERR_HTTP_FIELD_TOO_LARGE: 431,
  /** More field lines than the configured limit (RFC 6585 §5). */
  TSGI_ERR_HTTP_TOO_MANY_FIELDS: 431,
  /** Host is missing (HTTP/1.1), repeated or invalid (RFC 9112 §3.2). */
  TSGI_ERR_HTTP_HOST: 400,
  /** Content-Length is repeated, a list, not digits, or too large (RFC 9112 §6.3). */
  TSGI_ERR_HTTP_CONTENT_LENGTH: 400,
  /** Transfer-Encoding is malformed, on HTTP/1.0, or sent with Content-Length (RFC 9112 §6.1). */
  TSGI_ERR_HTTP_TRANSFER_ENCODING: 400,
  /** A transfer coding other than chunked (RFC 9112 §6.1: 501). */
  TSGI_ERR_HTTP_UNSUPPORTED_CODING: 501,
  /** An Expect value other than 100-continue (RFC 9110 §10.1.1: 417). */
  TSGI_ERR_HTTP_EXPECTATION: 417,
  /** The chunked body is malformed: chunk-size, chunk-ext or the CRLF after data (RFC 9112 §7.1). */
  TSGI_ERR_HTTP_CHUNK: 400,
  /** A trailer field that must not be sent as a trailer (RFC 9110 §6.5.1). */
  TSGI_ERR_HTTP_TRAILER: 400,
} as const;

export type ParseErrorCode = keyof typeof PARSE_ERROR_STATUS;

/** Builds the error for `code`; the status comes from the table so the two never disagree. */
export function parseError(code: ParseErrorCode, message: string): HttpParseError {
  return new HttpParseError(code, PARSE_ERROR_STATUS[code], message);
}
