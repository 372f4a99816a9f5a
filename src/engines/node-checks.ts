/**
 * What llhttp accepts but tsgi refuses, checked on the node engine before the app is called, so
 * that both engines answer the same requests the same way. The rules themselves are the sans-IO
 * parser's; this file only applies them to what node:http parsed.
 */
import type http from 'node:http';
import type { HttpParseError } from '../errors.js';
import type { ParserLimits } from '../http/events.js';
import { parseError, type ParseErrorCode } from '../http/errors.js';
import { checkTarget, checkTransferEncoding, FORBIDDEN_TRAILERS } from '../http/parser.js';
import { isHostValue } from '../http/grammar.js';

export type Refusal = HttpParseError;

function refusal(code: ParseErrorCode, message: string): HttpParseError {
  return parseError(code, message);
}

/**
 * Applies tsgi's rules to a request llhttp parsed. Returns the refusal the tsgi engine would make,
 * or, for a request it would accept, the length its head has when written the usual way (the
 * request-line with single spaces, each field as `name: value` or `name:` when empty, CRLFs): the
 * node engine compares it with the bytes llhttp actually read (node.ts), and any other layout goes
 * to the sans-IO parser, which sees what llhttp normalised away.
 */
export function checkNodeRequest(req: http.IncomingMessage, limits: ParserLimits): Refusal | number {
  // llhttp answers "GET /" (HTTP/0.9 style, no version at all) as 0.9: malformed here (400); a
  // well-formed version other than 1.0 and 1.1 is 505 (RFC 9110 §15.6.6, spec §8.6).
  if (req.httpVersionMajor === 0) {
    return refusal('TSGI_ERR_HTTP_VERSION', 'the request-line has no HTTP-version; send HTTP/1.1 or HTTP/1.0');
  }
  if (req.httpVersionMajor !== 1 || (req.httpVersionMinor !== 0 && req.httpVersionMinor !== 1)) {
    return refusal('TSGI_ERR_HTTP_VERSION_NOT_SUPPORTED', `HTTP/${req.httpVersion} is not supported; send HTTP/1.1 or HTTP/1.0`);
  }
  const method = req.method!;
  const url = req.url!;
  // "method SP target SP HTTP/1.x CRLF"
  let length = method.length + url.length + 12;
  if (limits.maxRequestLine > 0 && length - 2 > limits.maxRequestLine) {
    return refusal('TSGI_ERR_HTTP_REQUEST_LINE_TOO_LONG', `the request-line is longer than ${limits.maxRequestLine} bytes; shorten the URL`);
  }
  const badTarget = checkTarget(method, url);
  if (badTarget !== null) return badTarget;
  const raw = req.rawHeaders;
  if (limits.maxHeaderCount > 0 && raw.length / 2 > limits.maxHeaderCount) {
    return refusal('TSGI_ERR_HTTP_TOO_MANY_FIELDS', 'the request has more field lines than the server allows; send fewer fields');
  }
  let hosts = 0;
  let lengths = 0;
  let codings: string | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    // The limit counts a field line with its CRLF (as the sans-IO parser and Gunicorn do), here
    // in the usual layout; a line laid out otherwise never gets this far (see above).
    const line = name.length + value.length + (value.length === 0 ? 3 : 4);
    if (limits.maxHeaderFieldSize > 0 && line > limits.maxHeaderFieldSize) {
      return refusal('TSGI_ERR_HTTP_FIELD_TOO_LARGE', 'a field line is longer than the server allows; send smaller fields');
    }
    length += line;
    const lower = name.length === 4 || name.length === 14 || name.length === 17 ? name.toLowerCase() : '';
    if (lower === 'host') {
      // RFC 9112 §3.2: "A server MUST respond with a 400 ... to any request message that
      // contains more than one Host header field line or a Host header field with an invalid
      // field value."
      if (++hosts > 1) return refusal('TSGI_ERR_HTTP_HOST', 'Host is sent more than once; send exactly one Host field');
      if (!isHostValue(value)) return refusal('TSGI_ERR_HTTP_HOST', 'the Host field is not a valid host[:port]; send a valid Host');
    } else if (lower === 'content-length') {
      lengths++;
    } else if (lower === 'transfer-encoding') {
      codings = codings === null ? value : `${codings}, ${value}`;
    }
  }
  // RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1
  // request message that lacks a Host header field".
  if (hosts === 0 && req.httpVersionMinor === 1) return refusal('TSGI_ERR_HTTP_HOST', 'an HTTP/1.1 request has no Host field; send Host');
  if (codings !== null) {
    const bad = checkTransferEncoding(codings, req.httpVersionMinor === 0 ? 0 : 1, lengths);
    if (bad !== null) return bad;
  }
  return length + 2;
}

/** RFC 9110 §6.5.1: fields that must not arrive as trailers (the parser's list). */
export function checkNodeTrailers(rawTrailers: string[]): Refusal | null {
  for (let i = 0; i < rawTrailers.length; i += 2) {
    const name = rawTrailers[i]!;
    if (FORBIDDEN_TRAILERS.has(name.toLowerCase())) {
      return refusal('TSGI_ERR_HTTP_TRAILER', `"${name}" is not allowed as a trailer field; send it in the header section`);
    }
  }
  return null;
}

/** Maps an llhttp error onto the refusal the tsgi engine makes for the same input. */
export function clientErrorRefusal(err: NodeJS.ErrnoException & { rawPacket?: Buffer; reason?: string; bytesParsed?: number }): Refusal {
  const status = clientErrorStatus(err);
  const message = `${err.reason ?? err.message} (${err.code ?? 'llhttp'})`.replace(/^Parse Error: /, '');
  if (status === 431) return refusal('TSGI_ERR_HTTP_FIELD_TOO_LARGE', 'the request head is larger than the server allows; send smaller fields');
  if (status === 501) return refusal('TSGI_ERR_HTTP_UNSUPPORTED_CODING', message);
  switch (err.code) {
    case 'HPE_INVALID_METHOD':
      // RFC 9110 §9.1: any token is a method, and an unrecognised one gets 501; llhttp knows a
      // fixed list (docs/engines.md), so a token outside it is "not implemented", anything else 400.
      return /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ /.test(requestLineOf(err))
        ? refusal('TSGI_ERR_HTTP_METHOD', 'the node engine does not implement this method (llhttp knows a fixed list); use --http tsgi for other methods')
        : refusal('TSGI_ERR_HTTP_REQUEST_LINE', message);
    case 'HPE_INVALID_URL':
      return refusal('TSGI_ERR_HTTP_REQUEST_LINE', message);
    case 'HPE_INVALID_VERSION':
      return / HTTP\/[0-9]\.[0-9]\r?$/.test(requestLineOf(err))
        ? refusal('TSGI_ERR_HTTP_VERSION_NOT_SUPPORTED', 'this HTTP version is not supported; send HTTP/1.1 or HTTP/1.0')
        : refusal('TSGI_ERR_HTTP_VERSION', message);
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return refusal('TSGI_ERR_HTTP_CONTENT_LENGTH', message);
    case 'HPE_INVALID_TRANSFER_ENCODING':
      return refusal('TSGI_ERR_HTTP_TRANSFER_ENCODING', message);
    case 'HPE_INVALID_CHUNK_SIZE':
    case 'HPE_STRICT':
      return refusal('TSGI_ERR_HTTP_CHUNK', message);
    case 'HPE_LF_EXPECTED':
    case 'HPE_CR_EXPECTED':
      return refusal('TSGI_ERR_HTTP_LINE_ENDING', message);
    case 'HPE_INVALID_EOF_STATE':
      return refusal('TSGI_ERR_HTTP_INCOMPLETE', message);
    default:
      return refusal('TSGI_ERR_HTTP_FIELD', message);
  }
}

/** The request-line llhttp was parsing when it failed, as far as the packet holds it. */
function requestLineOf(err: NodeJS.ErrnoException & { rawPacket?: Buffer; bytesParsed?: number }): string {
  const packet = err.rawPacket;
  if (packet === undefined) return '';
  // The failing request starts after the last CRLF before the error (or at the packet's start).
  const at = Math.min(err.bytesParsed ?? 0, packet.length);
  const start = packet.lastIndexOf('\n', Math.max(0, at - 1));
  const from = start === -1 || start >= at ? 0 : start + 1;
  const end = packet.indexOf('\n', from);
  return packet.toString('latin1', from, end === -1 ? packet.length : end);
}

/** Maps llhttp's error codes onto the statuses the tsgi engine sends for the same input. */
export function clientErrorStatus(err: NodeJS.ErrnoException & { rawPacket?: Buffer }): number {
  if (err.code === 'HPE_HEADER_OVERFLOW') return 431;
  if (err.code === 'HPE_INVALID_TRANSFER_ENCODING' && err.rawPacket !== undefined) {
    const head = err.rawPacket.toString('latin1');
    const te = /\r\ntransfer-encoding[ \t]*:([^\r\n]*)/gi;
    const values: string[] = [];
    for (let m = te.exec(head); m !== null; m = te.exec(head)) values.push(m[1]!);
    const minor = /^[^\r\n]* HTTP\/1\.0\r\n/.test(head) ? 0 : 1;
    const lengths = /\r\ncontent-length[ \t]*:/i.test(head) ? 1 : 0;
    if (values.length > 0) return checkTransferEncoding(values.join(', '), minor, lengths)?.status ?? 400;
  }
  return 400;
}
