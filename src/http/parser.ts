/**
 * The sans-IO HTTP/1.1 request parser (RFC 9112, strict). Bytes go in with feed(); next() returns
 * one event code at a time and leaves its payload on the parser, so a request costs no event
 * objects and no closures.
 *
 * How it stays fast and linear:
 * - A head is decoded once as latin1 and validated with one regex run (grammar.ts), then split
 *   with string searches. A head that fails the regex goes line by line through the same grammar,
 *   which finds the line at fault and says what is wrong with it.
 * - Body bytes are handed out as views of the fed buffers; they are never accumulated.
 * - Bytes are copied only when a head or chunk-size line spans feeds, into a buffer that grows by
 *   doubling, and every search resumes where the previous one stopped.
 * - While a head is incomplete, each finished line is checked as soon as it arrives, so a
 *   malformed or oversized head is refused without waiting for the rest of it.
 */
import { TsgiError, type HttpParseError } from '../errors.js';
import {
  CLOSED,
  DATA,
  DEFAULT_LIMITS,
  END,
  ERROR,
  HEAD,
  NEED_DATA,
  PAUSED,
  type ParserEvent,
  type ParserLimits,
  type RequestHead,
} from './events.js';
import { parseError } from './errors.js';
import {
  CHUNK_EXT,
  DIGITS,
  FIELD_LINE,
  FIELD_LINES,
  FIELD_LINES_AT,
  FIELD_VALUE,
  HEX_VALUE,
  HTTP_VERSION_SHAPE,
  ORIGIN_FORM,
  ORIGIN_FORM_PLAIN,
  REQUEST_LINE,
  TOKEN,
  TRANSFER_CODING,
  WELL_FORMED_HEAD,
  isAbsoluteForm,
  isAuthorityForm,
  isHostValue,
  isOWS,
} from './grammar.js';

const CR = 0x0d;
const LF = 0x0a;
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const EMPTY = Buffer.alloc(0);

// RFC 9112 §2.2: "a server that is expecting to receive and parse a request-line SHOULD ignore at
// least one empty line (CRLF) received prior to the request-line". Bounded so that a peer cannot
// keep a connection busy with nothing but empty lines.
const MAX_LEADING_EMPTY_LINE_BYTES = 32;
// A chunk-size line is a number plus optional extensions; nothing legitimate comes close.
const MAX_CHUNK_LINE = 4096;
// A head is first searched for in a decoding of the buffer: all of it up to HEAD_WINDOW bytes,
// else the first HEAD_PROBE bytes (pipelined requests, or a head followed by its body).
const HEAD_WINDOW = 2048;
const HEAD_PROBE = 1024;
// The smallest buffer allocated when bytes must be joined across feeds.
const MIN_JOIN_BUFFER = 4096;

// What the parser is waiting for.
const S_HEAD = 0; // a request head (or the empty lines before it)
const S_BODY = 1; // `remaining` bytes of a Content-Length body
const S_CHUNK_SIZE = 2; // a chunk-size line
const S_CHUNK_DATA = 3; // `remaining` bytes of chunk-data
const S_CHUNK_CRLF = 4; // the CRLF after chunk-data
const S_TRAILERS = 5; // the trailer section after last-chunk
const S_END = 6; // nothing: the message is complete and END is due
const S_PAUSED = 7; // startNextRequest(), after which another request may follow
const S_PAUSED_LAST = 8; // startNextRequest(), after which the connection closes
const S_CLOSED = 9;
const S_ERROR = 10;

/**
 * RFC 9110 §6.5.1: "Many fields cannot be processed outside the header section because their
 * evaluation is necessary prior to receiving the content, such as those that describe message
 * framing, routing, authentication, ...". A trailer field is never merged into the header fields
 * (RFC 9110 §6.5.1: "A recipient MUST NOT merge a trailer field into a header section unless
 * ..."): the app sees trailers apart, in `tsgi.trailers`. So only the fields whose presence in a
 * trailer section could make something in the path act on them are refused (400): framing and
 * connection management, routing, and credentials. The others (Content-Type, Vary, Expires,
 * digests, ...) are accepted as trailers, as Gunicorn, h11 and node:http accept them.
 */
export const FORBIDDEN_TRAILERS = new Set([
  // framing (RFC 9112 §6, RFC 9110 §6.6.2)
  'content-length',
  'transfer-encoding',
  'trailer',
  // connection management and routing (RFC 9110 §7)
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'upgrade',
  'max-forwards',
  // authentication (RFC 9110 §11) and the credentials a session cookie carries (RFC 6265)
  'authorization',
  'proxy-authorization',
  'cookie',
]);

interface Latin1Slicing {
  latin1Slice(start: number, end: number): string;
}

/** Decodes bytes [start, end) as latin1: Buffer's own slicer when present, skipping toString's dispatch. */
const latin1: (buf: Buffer, start: number, end: number) => string =
  typeof (Buffer.prototype as Partial<Latin1Slicing>).latin1Slice === 'function'
    ? (buf, start, end) => (buf as unknown as Latin1Slicing).latin1Slice(start, end)
    : (buf, start, end) => buf.toString('latin1', start, end);

/** A limit of 0 means "no limit". */
function limitOf(value: number): number {
  return value > 0 ? value : Infinity;
}

export class RequestParser {
  /** The request head, from HEAD until startNextRequest(). */
  head: RequestHead | null = null;
  /** Body bytes, from DATA until the next call to next() or feed(). Never overwritten by the parser. */
  chunk: Buffer | null = null;
  /** After END of a chunked body: [name, value, ...] (empty when there were none); else null. */
  trailers: string[] | null = null;
  /** After ERROR: why the request was refused. */
  error: HttpParseError | null = null;

  private readonly maxRequestLine: number;
  private readonly maxFieldCount: number;
  private readonly maxFieldSize: number;
  /**
   * The longest field line without its CRLF: the limit counts a field line with its CRLF, as
   * Gunicorn counts it, so the same --limit-request-field-size means the same bytes.
   */
  private readonly maxFieldLine: number;
  /** The longest head that can pass every limit; a longer one is refused line by line. */
  private readonly maxHeadBytes: number;
  private readonly maxTrailerBytes: number;

  /** Received bytes; those before `pos` are consumed. */
  private buf: Buffer = EMPTY;
  private pos = 0;
  /** When `buf` is a view of a buffer the parser allocated to join feeds: that buffer. */
  private joined: Buffer | null = null;
  private state = S_HEAD;
  private eof = false;
  /** Bytes still due in the current Content-Length body or chunk. */
  private remaining = 0;

  // Progress through an incomplete head, trailer section or chunk-size line, relative to `pos`
  // (which does not move until the whole thing is consumed).
  private searchFrom = 0; // where the search for CRLFCRLF resumes
  private lfFrom = 0; // where the search for the next LF resumes
  private crFrom = 0; // where the search for a bare CR resumes
  private lineStart = 0; // start of the line being received
  private lineCount = 0; // complete lines checked, request-line included
  private started = false; // a request-line byte has arrived (no more empty lines to skip)
  private leadingBytes = 0; // bytes of empty lines skipped before this request-line

  // The request-line, set by checkRequestLine().
  private method = '';
  private target = '';
  private versionMinor: 0 | 1 = 1;
  /** The last Host value found valid on this connection. */
  private validHost = '';

  constructor(limits?: Partial<ParserLimits>) {
    const l = { ...DEFAULT_LIMITS, ...limits };
    this.maxRequestLine = limitOf(l.maxRequestLine);
    this.maxFieldCount = limitOf(l.maxHeaderCount);
    this.maxFieldSize = limitOf(l.maxHeaderFieldSize);
    this.maxFieldLine = this.maxFieldSize - 2;
    const fieldBytes = this.maxFieldCount * this.maxFieldSize;
    this.maxHeadBytes = this.maxRequestLine + 2 + fieldBytes;
    this.maxTrailerBytes = fieldBytes;
  }

  /** Bytes received and not yet returned, so the driver can stop reading when this grows. */
  get buffered(): number {
    return this.buf.length - this.pos;
  }

  /** Appends received bytes. The parser keeps a reference to `data` and never writes into it. */
  feed(data: Buffer): void {
    this.chunk = null;
    const n = data.length;
    if (n === 0 || this.eof || this.state >= S_PAUSED_LAST) return; // nothing more will be parsed
    const buf = this.buf;
    const pending = buf.length - this.pos;
    if (pending === 0) {
      this.buf = data;
      this.pos = 0;
      this.joined = null;
      return;
    }
    // Append after the bytes already held. Bytes are only ever written past the end of what the
    // joined buffer holds, so views handed out as `chunk` stay intact.
    const joined = this.joined;
    const used = buf.length;
    if (joined !== null && used + n <= joined.length) {
      data.copy(joined, used);
      this.buf = joined.subarray(0, used + n);
      return;
    }
    const size = pending + n;
    const next = Buffer.allocUnsafe(Math.max(size * 2, MIN_JOIN_BUFFER));
    buf.copy(next, 0, this.pos, used);
    data.copy(next, pending);
    this.joined = next;
    this.buf = next.subarray(0, size);
    this.pos = 0;
  }

  /**
   * spec §3.10: the connection is handed to the app after a request head without content. Returns
   * the bytes received past that head (a copy), and parses nothing more.
   */
  takeBuffered(): Buffer {
    const rest = Buffer.from(this.buf.subarray(this.pos));
    this.buf = EMPTY;
    this.pos = 0;
    this.joined = null;
    this.eof = true;
    return rest;
  }

  /** The peer will send nothing more. */
  feedEnd(): void {
    this.eof = true;
  }

  /** Advances the parser; see ParserEvent for what each code means. */
  next(): ParserEvent {
    this.chunk = null;
    for (;;) {
      switch (this.state) {
        case S_HEAD:
          return this.readHead();
        case S_BODY:
          return this.readBody(S_END);
        case S_CHUNK_DATA:
          return this.readBody(S_CHUNK_CRLF);
        case S_CHUNK_SIZE: {
          const event = this.readChunkSize();
          if (event !== -1) return event;
          continue;
        }
        case S_CHUNK_CRLF: {
          const event = this.readChunkEnd();
          if (event !== -1) return event;
          continue;
        }
        case S_TRAILERS: {
          const event = this.readTrailers();
          if (event !== -1) return event;
          continue;
        }
        case S_END:
          return this.end();
        case S_PAUSED:
        case S_PAUSED_LAST:
          return PAUSED;
        case S_CLOSED:
          return CLOSED;
        default:
          return ERROR;
      }
    }
  }

  /**
   * Lets the parser read the next request once the response to the previous one is done, which
   * keeps pipelined responses in order. On a connection that must close, next() then says CLOSED.
   */
  startNextRequest(): void {
    if (this.state === S_PAUSED) {
      this.state = S_HEAD;
    } else if (this.state === S_PAUSED_LAST) {
      this.state = S_CLOSED;
    } else if (this.state === S_ERROR || this.state === S_CLOSED) {
      return;
    } else {
      throw new TsgiError(
        'TSGI_ERR_PARSER_STATE',
        'startNextRequest() was called before the request ended; call it only after next() returned END',
      );
    }
    this.head = null;
    this.trailers = null;
    this.chunk = null;
    this.started = false;
    this.leadingBytes = 0;
  }

  // --- head -----------------------------------------------------------------------------------

  private readHead(): ParserEvent {
    const buf = this.buf;
    const end = buf.length;
    let pos = this.pos;
    if (!this.started) {
      while (pos < end) {
        const c = buf[pos];
        if (c === CR) {
          if (pos + 1 === end) break; // is it an empty line? the LF decides
          if (buf[pos + 1] !== LF) return this.fail(bareCR());
          pos += 2;
          this.leadingBytes += 2;
          if (this.leadingBytes > MAX_LEADING_EMPTY_LINE_BYTES) {
            return this.fail(
              parseError('TSGI_ERR_HTTP_REQUEST_LINE', 'too many empty lines before the request-line; send the request-line'),
            );
          }
          continue;
        }
        if (c === LF) return this.fail(bareLF());
        this.started = true;
        break;
      }
      this.pos = pos;
      if (!this.started) {
        if (!this.eof) return NEED_DATA;
        if (pos === end) {
          // EOF with no byte of a new request: the peer is done, not wrong.
          this.state = S_CLOSED;
          this.buf = EMPTY;
          this.pos = 0;
          return CLOSED;
        }
        return this.fail(incomplete('request-line'));
      }
    }
    if (this.searchFrom === 0) {
      // First look at this head: decode what is likely all of it and search the string, which
      // costs less than a native byte search followed by a decode.
      const available = end - pos;
      const s = latin1(buf, pos, available <= HEAD_WINDOW ? end : pos + HEAD_PROBE);
      WELL_FORMED_HEAD.lastIndex = 0;
      if (WELL_FORMED_HEAD.test(s)) return this.parseHead(s, pos, WELL_FORMED_HEAD.lastIndex - 2, true);
      const at = s.indexOf('\r\n\r\n');
      if (at !== -1) return this.parseHead(s, pos, at + 2, false);
      this.searchFrom = Math.max(0, s.length - 3);
    }
    const idx = buf.indexOf(CRLFCRLF, pos + this.searchFrom);
    if (idx === -1) {
      this.searchFrom = Math.max(0, end - pos - 3);
      return this.checkIncompleteSection(false);
    }
    if (idx + 2 - pos > this.maxHeadBytes) return this.refuseOversizedSection(idx + 2, false);
    return this.parseHead(latin1(buf, pos, idx + 4), pos, idx + 2 - pos, false);
  }

  /**
   * Parses a complete head. `s` is the decoding of the bytes from `start`; its first `headEnd`
   * characters are the request-line and field lines, each with its CRLF, and the empty line
   * follows them. `wellFormed` says WELL_FORMED_HEAD matched them.
   */
  private parseHead(s: string, start: number, headEnd: number, wellFormed: boolean): ParserEvent {
    if (headEnd > this.maxHeadBytes) return this.refuseOversizedSection(start + headEnd, false);
    const sEnd = headEnd;
    // Single-character searches where the shape is known: V8 runs those inline.
    const lineEnd = wellFormed ? s.indexOf('\r') : s.indexOf('\r\n');
    const lineError =
      wellFormed && lineEnd <= this.maxRequestLine ? this.acceptRequestLine(s, 0, lineEnd) : this.checkRequestLine(s, 0, lineEnd);
    if (lineError !== null) return this.fail(lineError);
    const fieldsStart = lineEnd + 2;
    if (!wellFormed && fieldsStart < sEnd) {
      // One regex run validates every field line; the empty line after them stops it.
      FIELD_LINES_AT.lastIndex = fieldsStart;
      if (!FIELD_LINES_AT.test(s) || FIELD_LINES_AT.lastIndex !== sEnd + 2) {
        return this.fail(this.diagnoseFieldLines(s, fieldsStart, sEnd));
      }
    }

    const maxFieldLine = this.maxFieldLine;
    const maxFieldCount = this.maxFieldCount;
    const headers: string[] = [];
    let count = 0;
    let hostCount = 0;
    let host = '';
    let lengthCount = 0;
    let length = '';
    let codings: string | null = null;
    let connection: string | null = null;
    let expect: string | null = null;
    for (let p = fieldsStart; p < sEnd; ) {
      const e = s.indexOf('\r', p); // the field lines are valid: every CR starts a CRLF
      if (e - p > maxFieldLine) return this.fail(fieldTooLarge());
      if (++count > maxFieldCount) return this.fail(tooManyFields());
      const colon = s.indexOf(':', p);
      const name = s.slice(p, colon);
      const value = trimmedValue(s, colon + 1, e);
      headers.push(name, value);
      // Only five names matter for framing; their lengths let most fields skip the comparison.
      switch (colon - p) {
        case 4:
          if (sameName(name, 'Host', 'host')) {
            hostCount++;
            host = value;
          }
          break;
        case 6:
          if (sameName(name, 'Expect', 'expect')) expect = expect === null ? value : expect + ',' + value;
          break;
        case 10:
          if (sameName(name, 'Connection', 'connection')) connection = connection === null ? value : connection + ',' + value;
          break;
        case 14:
          if (sameName(name, 'Content-Length', 'content-length')) {
            lengthCount++;
            length = value;
          }
          break;
        case 17:
          // RFC 9110 §5.3: field lines with the same name combine into one comma-separated list.
          if (sameName(name, 'Transfer-Encoding', 'transfer-encoding')) codings = codings === null ? value : codings + ',' + value;
          break;
      }
      p = e + 2;
    }

    const minor = this.versionMinor;
    // RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1
    // request message that lacks a Host header field and to any request message that contains
    // more than one Host header field line or a Host header field with an invalid field value."
    if (hostCount > 1) return this.fail(parseError('TSGI_ERR_HTTP_HOST', 'Host is sent more than once; send exactly one Host field'));
    if (hostCount === 0 && minor === 1) return this.fail(parseError('TSGI_ERR_HTTP_HOST', 'an HTTP/1.1 request has no Host field; send Host'));
    if (hostCount === 1 && host !== this.validHost) {
      // A connection tends to repeat its Host, so the last valid one is remembered.
      if (!isHostValue(host)) {
        return this.fail(parseError('TSGI_ERR_HTTP_HOST', 'the Host field is not a valid host[:port]; send a valid Host'));
      }
      this.validHost = host;
    }

    let contentLength = -1;
    let chunked = false;
    if (codings !== null) {
      const framingError = checkTransferEncoding(codings, minor, lengthCount);
      if (framingError !== null) return this.fail(framingError);
      chunked = true;
    } else if (lengthCount > 0) {
      // RFC 9112 §6.3: "If a message is received without Transfer-Encoding and with an invalid
      // Content-Length header field, then the message framing is invalid and the recipient MUST
      // treat it as an unrecoverable error". Duplicates and lists ("5, 5") are refused outright.
      if (lengthCount > 1) {
        return this.fail(parseError('TSGI_ERR_HTTP_CONTENT_LENGTH', 'Content-Length is sent more than once; send it once'));
      }
      if (!DIGITS.test(length)) {
        return this.fail(parseError('TSGI_ERR_HTTP_CONTENT_LENGTH', 'Content-Length is not a decimal number of bytes; send 1*DIGIT'));
      }
      // Any number of digits: leading zeros are valid (1*DIGIT). A value above 2^53 - 1 converts to
      // 2^53 or more (rounding keeps the order), so the check below refuses every one of them.
      contentLength = Number(length);
      if (contentLength > Number.MAX_SAFE_INTEGER) {
        return this.fail(parseError('TSGI_ERR_HTTP_CONTENT_LENGTH', 'Content-Length is larger than 2^53 - 1; send a smaller body'));
      }
    }

    let expectContinue = false;
    // RFC 9110 §10.1.1: "A server that receives a 100-continue expectation in an HTTP/1.0 request
    // MUST ignore that expectation"; any other expectation "MAY" get 417, which tsgi sends.
    if (expect !== null && minor === 1) {
      const result = checkExpect(expect);
      if (result === -1) {
        return this.fail(parseError('TSGI_ERR_HTTP_EXPECTATION', 'Expect holds something other than 100-continue; send only 100-continue'));
      }
      expectContinue = result === 1;
    }

    // RFC 9112 §9.3: HTTP/1.1 persists unless "close" is sent; HTTP/1.0 persists only with
    // "keep-alive". RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding was refused above.
    const keepAlive = keepsAlive(minor, connection);

    this.head = {
      method: this.method,
      target: this.target,
      versionMinor: minor,
      headers,
      contentLength,
      chunked,
      keepAlive,
      expectContinue,
    };
    this.pos = start + headEnd + 2;
    this.resetSection();
    // RFC 9112 §6.3: chunked wins (and CL+TE was refused); then Content-Length; else no content.
    if (chunked) {
      this.state = S_CHUNK_SIZE;
    } else if (contentLength > 0) {
      this.remaining = contentLength;
      this.state = S_BODY;
    } else {
      this.state = S_END;
    }
    return HEAD;
  }

  /**
   * RFC 9112 §3: request-line = method SP request-target SP HTTP-version. Checks the line
   * s[from, to) and, when it is valid, stores its parts on the parser.
   */
  private checkRequestLine(s: string, from: number, to: number): HttpParseError | null {
    const limit = this.maxRequestLine;
    const bare = firstLineBreak(s, from, to);
    if (bare !== -1 && bare - from < limit) return lineEndingError(s, bare);
    if (to - from > limit) return requestLineTooLong(limit);
    if (bare !== -1) return lineEndingError(s, bare);
    return this.checkRequestLineGrammar(s, from, to);
  }

  /**
   * Stores the parts of the request-line s[from, to), which matched REQUEST_LINE (alone or as part
   * of WELL_FORMED_HEAD), once its target has the form its method needs.
   */
  private acceptRequestLine(s: string, from: number, to: number): HttpParseError | null {
    const firstSpace = s.indexOf(' ', from);
    const method =
      firstSpace === from + 3 && s.charCodeAt(from) === 0x47 && s.charCodeAt(from + 1) === 0x45 && s.charCodeAt(from + 2) === 0x54
        ? 'GET' // the common case, without a slice
        : s.slice(from, firstSpace);
    // The version is the last 8 characters ("HTTP/1.x"), after the last SP.
    const target = s.slice(firstSpace + 1, to - 9);
    const targetError = checkTarget(method, target);
    if (targetError !== null) return targetError;
    this.method = method;
    this.target = target;
    this.versionMinor = s.charCodeAt(to - 1) === 0x31 ? 1 : 0;
    return null;
  }

  /** The grammar half of checkRequestLine(), for a line without CR or LF that fits the limit. */
  private checkRequestLineGrammar(s: string, from: number, to: number): HttpParseError | null {
    const line = from === 0 && to === s.length ? s : s.slice(from, to);
    return REQUEST_LINE.test(line) ? this.acceptRequestLine(s, from, to) : explainRequestLine(line);
  }

  /** Finds the first bad field line in s[from, s.length) once the one-pass regex refused the lot. */
  private diagnoseFieldLines(s: string, from: number, to: number): HttpParseError {
    let count = 0;
    for (let p = from; p < to; ) {
      const e = s.indexOf('\r\n', p);
      const error = this.checkFieldLine(s, p, e, ++count);
      if (error !== null) return error;
      p = e + 2;
    }
    return parseError('TSGI_ERR_HTTP_FIELD', 'a field line is malformed; send "name: value" lines');
  }

  /**
   * RFC 9112 §5: field-line = field-name ":" OWS field-value OWS. Checks the line s[from, to),
   * the `index`-th field line of its section.
   */
  private checkFieldLine(s: string, from: number, to: number, index: number): HttpParseError | null {
    const limit = this.maxFieldLine;
    const bare = firstLineBreak(s, from, to);
    if (bare !== -1 && bare - from < limit) return lineEndingError(s, bare);
    if (to - from > limit) return fieldTooLarge();
    if (bare !== -1) return lineEndingError(s, bare);
    if (index > this.maxFieldCount) return tooManyFields();
    const line = from === 0 && to === s.length ? s : s.slice(from, to);
    return FIELD_LINE.test(line) ? null : explainFieldLine(line);
  }

  // --- incomplete heads and trailer sections -------------------------------------------------

  /**
   * The head (or trailer section) is not complete yet: check every line that is, and what has
   * arrived of the current one, so that a bad line is refused now rather than when it ends.
   */
  private checkIncompleteSection(trailers: boolean): ParserEvent {
    const buf = this.buf;
    const end = buf.length;
    const error = this.checkCompleteLines(end, trailers);
    if (error !== null) return this.fail(error);
    const pos = this.pos;
    const lineStart = pos + this.lineStart;
    const isRequestLine = !trailers && this.lineCount === 0;
    const limit = isRequestLine ? this.maxRequestLine : this.maxFieldLine;
    // A CR before the last byte has been answered by something other than LF (any LF would have
    // completed the line above), so it is a bare CR. A CR in the last byte may still be a line end.
    const cr = buf.indexOf(CR, Math.max(lineStart, pos + this.crFrom));
    this.crFrom = Math.max(this.lineStart, end - pos - 1);
    const received = end - lineStart - (buf[end - 1] === CR ? 1 : 0);
    if (cr !== -1 && cr < end - 1 && cr - lineStart < limit) return this.fail(bareCR());
    if (received > limit) return this.fail(isRequestLine ? requestLineTooLong(limit) : fieldTooLarge());
    if (cr !== -1 && cr < end - 1) return this.fail(bareCR());
    if (this.eof) return this.fail(incomplete(trailers ? 'trailer section' : 'request head'));
    return NEED_DATA;
  }

  /** Checks each line of the section that ends before `end` and was not checked yet. */
  private checkCompleteLines(end: number, trailers: boolean): HttpParseError | null {
    const buf = this.buf;
    const pos = this.pos;
    for (;;) {
      const lf = buf.indexOf(LF, pos + this.lfFrom);
      if (lf === -1 || lf >= end) {
        this.lfFrom = end - pos;
        return null;
      }
      const lineStart = pos + this.lineStart;
      // A line ended by a bare LF is checked with the LF in it, which makes the check refuse it.
      const lineEnd = lf > lineStart && buf[lf - 1] === CR ? lf - 1 : lf + 1;
      const s = latin1(buf, lineStart, lineEnd);
      const error =
        !trailers && this.lineCount === 0
          ? this.checkRequestLine(s, 0, s.length)
          : this.checkFieldLine(s, 0, s.length, trailers ? this.lineCount + 1 : this.lineCount);
      if (error !== null) return error;
      this.lineCount++;
      this.lineStart = lf + 1 - pos;
      this.lfFrom = this.lineStart;
    }
  }

  /** A complete section is longer than its limits allow: find the line that breaks one. */
  private refuseOversizedSection(end: number, trailers: boolean): ParserEvent {
    const error = this.checkCompleteLines(end, trailers);
    return this.fail(error ?? (trailers ? fieldTooLarge() : requestLineTooLong(this.maxRequestLine)));
  }

  private resetSection(): void {
    this.searchFrom = 0;
    this.lfFrom = 0;
    this.crFrom = 0;
    this.lineStart = 0;
    this.lineCount = 0;
  }

  // --- bodies ---------------------------------------------------------------------------------

  /** Hands out up to `remaining` bytes as a view of the received buffer. */
  private readBody(after: number): ParserEvent {
    const remaining = this.remaining;
    const buf = this.buf;
    const pos = this.pos;
    const available = buf.length - pos;
    if (available === 0) return this.eof ? this.fail(incomplete('body')) : NEED_DATA;
    if (available <= remaining) {
      this.chunk = pos === 0 ? buf : buf.subarray(pos);
      this.pos = buf.length;
      this.remaining = remaining - available;
    } else {
      this.chunk = buf.subarray(pos, pos + remaining);
      this.pos = pos + remaining;
      this.remaining = 0;
    }
    if (this.remaining === 0) this.state = after;
    return DATA;
  }

  /**
   * RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF; chunk-size = 1*HEXDIG;
   * last-chunk = 1*("0") [ chunk-ext ] CRLF. Returns -1 when a line was consumed.
   */
  private readChunkSize(): ParserEvent | -1 {
    const buf = this.buf;
    const end = buf.length;
    const pos = this.pos;
    const lf = buf.indexOf(LF, pos + this.lfFrom);
    if (lf === -1) {
      if (end > pos) {
        const cr = buf.indexOf(CR, pos + this.crFrom);
        if (cr !== -1 && cr < end - 1) return this.fail(chunkError('a chunk-size line holds a bare CR'));
        if (end - pos - (buf[end - 1] === CR ? 1 : 0) > MAX_CHUNK_LINE) {
          return this.fail(chunkError(`a chunk-size line is longer than ${MAX_CHUNK_LINE} bytes`));
        }
        this.lfFrom = end - pos;
        this.crFrom = end - pos - 1;
      }
      return this.eof ? this.fail(incomplete('chunked body')) : NEED_DATA;
    }
    const lineEnd = lf - 1;
    if (lf === pos || buf[lineEnd] !== CR) return this.fail(chunkError('a chunk-size line ends with a bare LF'));
    if (lineEnd - pos > MAX_CHUNK_LINE) return this.fail(chunkError(`a chunk-size line is longer than ${MAX_CHUNK_LINE} bytes`));
    let size = 0;
    let p = pos;
    for (; p < lineEnd; p++) {
      const digit = HEX_VALUE[buf[p]!]!;
      if (digit === 255) break;
      size = size * 16 + digit;
      if (size > Number.MAX_SAFE_INTEGER) return this.fail(chunkError('a chunk-size is too large'));
    }
    if (p === pos) return this.fail(chunkError('a chunk-size is not a hexadecimal number'));
    if (p < lineEnd && !CHUNK_EXT.test(latin1(buf, p, lineEnd))) {
      return this.fail(chunkError('a chunk-size is followed by something other than a valid chunk-ext'));
    }
    this.pos = lf + 1;
    this.lfFrom = 0;
    this.crFrom = 0;
    if (size === 0) {
      this.state = S_TRAILERS;
    } else {
      this.remaining = size;
      this.state = S_CHUNK_DATA;
    }
    return -1;
  }

  /** The CRLF that must follow chunk-data. Returns -1 when it was consumed. */
  private readChunkEnd(): ParserEvent | -1 {
    const buf = this.buf;
    const pos = this.pos;
    const available = buf.length - pos;
    if (available === 0) return this.eof ? this.fail(incomplete('chunked body')) : NEED_DATA;
    if (buf[pos] !== CR) return this.fail(chunkError('chunk-data is not followed by CRLF'));
    if (available === 1) return this.eof ? this.fail(incomplete('chunked body')) : NEED_DATA;
    if (buf[pos + 1] !== LF) return this.fail(chunkError('chunk-data is not followed by CRLF'));
    this.pos = pos + 2;
    this.state = S_CHUNK_SIZE;
    return -1;
  }

  /**
   * RFC 9112 §7.1.2: trailer-section = *( field-line CRLF ), then the CRLF that ends the message.
   * Returns -1 when the section was consumed.
   */
  private readTrailers(): ParserEvent | -1 {
    const buf = this.buf;
    const end = buf.length;
    const pos = this.pos;
    if (pos === end) return this.eof ? this.fail(incomplete('chunked body')) : NEED_DATA;
    const first = buf[pos];
    if (first === LF) return this.fail(bareLF());
    if (first === CR) {
      if (pos + 1 === end) return this.eof ? this.fail(incomplete('chunked body')) : NEED_DATA;
      if (buf[pos + 1] !== LF) return this.fail(bareCR());
      this.pos = pos + 2;
      this.trailers = [];
      this.state = S_END;
      return -1;
    }
    const idx = buf.indexOf(CRLFCRLF, pos + this.searchFrom);
    if (idx === -1) {
      this.searchFrom = Math.max(0, end - pos - 3);
      return this.checkIncompleteSection(true);
    }
    if (idx + 2 - pos > this.maxTrailerBytes) return this.refuseOversizedSection(idx + 2, true);
    const s = latin1(buf, pos, idx + 2);
    if (!FIELD_LINES.test(s)) return this.fail(this.diagnoseFieldLines(s, 0, s.length));
    const trailers: string[] = [];
    let count = 0;
    let forbidden = '';
    for (let p = 0; p < s.length; ) {
      const e = s.indexOf('\r\n', p);
      if (e - p > this.maxFieldLine) return this.fail(fieldTooLarge());
      if (++count > this.maxFieldCount) return this.fail(tooManyFields());
      const colon = s.indexOf(':', p);
      const name = s.slice(p, colon);
      if (forbidden === '' && FORBIDDEN_TRAILERS.has(name.toLowerCase())) forbidden = name;
      trailers.push(name, trimmedValue(s, colon + 1, e));
      p = e + 2;
    }
    if (forbidden !== '') {
      return this.fail(
        parseError('TSGI_ERR_HTTP_TRAILER', `${printable(forbidden)} is not allowed as a trailer field; send it in the header section`),
      );
    }
    this.trailers = trailers;
    this.pos = idx + 4;
    this.resetSection();
    this.state = S_END;
    return -1;
  }

  // --- message end and errors -----------------------------------------------------------------

  private end(): ParserEvent {
    if (this.head!.keepAlive) {
      this.state = S_PAUSED;
    } else {
      // RFC 9112 §9.6: a server that sent or received "close" "MUST NOT process any further
      // requests received on that connection". Whatever follows is dropped.
      this.state = S_PAUSED_LAST;
      this.dropInput();
    }
    return END;
  }

  private fail(error: HttpParseError): ParserEvent {
    this.error = error;
    this.state = S_ERROR;
    this.dropInput();
    return ERROR;
  }

  private dropInput(): void {
    this.buf = EMPTY;
    this.pos = 0;
    this.joined = null;
  }
}

const CONNECTION_CLOSE = 1;
const CONNECTION_KEEP_ALIVE = 2;

/**
 * RFC 9112 §9.3: whether a request persists its connection: HTTP/1.1 unless `close` is sent,
 * HTTP/1.0 only with `keep-alive`. `connection` is the Connection field values joined, or null.
 */
export function keepsAlive(minor: 0 | 1, connection: string | null): boolean {
  if (connection === null) return minor === 1;
  const options = connectionOptions(connection);
  return (options & CONNECTION_CLOSE) === 0 && (minor === 1 || (options & CONNECTION_KEEP_ALIVE) !== 0);
}

/** RFC 9110 §7.6.1: Connection = #connection-option, case-insensitive. Returns the flags seen. */
function connectionOptions(value: string): number {
  const lower = value.toLowerCase();
  if (lower === 'keep-alive') return CONNECTION_KEEP_ALIVE;
  if (lower === 'close') return CONNECTION_CLOSE;
  let flags = 0;
  for (const option of lower.split(',')) {
    const name = trimOWS(option);
    if (name === 'close') flags |= CONNECTION_CLOSE;
    else if (name === 'keep-alive') flags |= CONNECTION_KEEP_ALIVE;
  }
  return flags;
}

/**
 * RFC 9110 §10.1.1: Expect = #expectation; the only expectation is 100-continue. Returns 1 for
 * 100-continue, 0 for an empty list, -1 for anything else.
 */
function checkExpect(value: string): number {
  let result = 0;
  for (const member of value.split(',')) {
    const name = trimOWS(member);
    if (name === '') continue;
    if (name.toLowerCase() !== '100-continue') return -1;
    result = 1;
  }
  return result;
}

/**
 * RFC 9112 §6.1: Transfer-Encoding = #transfer-coding. tsgi decodes only chunked, and chunked
 * must be the final (here: the only) coding. Returns null when the list is exactly "chunked".
 */
export function checkTransferEncoding(codings: string, minor: 0 | 1, lengthCount: number): HttpParseError | null {
  // RFC 9112 §6.1: "A server or client that receives an HTTP/1.0 message containing a
  // Transfer-Encoding header field MUST treat the message as if the framing is faulty".
  if (minor === 0) {
    return parseError('TSGI_ERR_HTTP_TRANSFER_ENCODING', 'Transfer-Encoding is not allowed in HTTP/1.0; send Content-Length');
  }
  // RFC 9112 §6.1: "A server MAY reject a request that contains both Content-Length and
  // Transfer-Encoding or process such a request in accordance with the Transfer-Encoding
  // alone." Both together are the classic smuggling vector, so tsgi rejects.
  if (lengthCount > 0) {
    return parseError('TSGI_ERR_HTTP_TRANSFER_ENCODING', 'both Content-Length and Transfer-Encoding are sent; send only one');
  }
  if (codings.length === 7 && codings.toLowerCase() === 'chunked') return null;
  const members = codings.split(',');
  let chunkedAt = -1;
  let unsupported = '';
  for (let i = 0; i < members.length; i++) {
    const member = trimOWS(members[i]!);
    const match = member === '' ? null : TRANSFER_CODING.exec(member);
    if (match === null) {
      return parseError('TSGI_ERR_HTTP_TRANSFER_ENCODING', 'Transfer-Encoding is not a list of transfer codings; send "chunked"');
    }
    const name = match[1]!.toLowerCase();
    if (name === 'chunked') {
      if (chunkedAt !== -1) {
        return parseError('TSGI_ERR_HTTP_TRANSFER_ENCODING', 'chunked is applied more than once; send it once');
      }
      if (match[2] !== '') {
        return parseError('TSGI_ERR_HTTP_TRANSFER_ENCODING', 'chunked takes no parameters; send plain "chunked"');
      }
      chunkedAt = i;
    } else if (unsupported === '') {
      unsupported = name;
    }
  }
  // RFC 9112 §6.1: "If any transfer coding other than chunked is applied to a request's content,
  // the sender MUST apply chunked as the final transfer coding"; §6.3: otherwise the framing is
  // invalid (400), whatever the codings are (spec §8.6).
  if (chunkedAt !== members.length - 1) {
    return parseError('TSGI_ERR_HTTP_TRANSFER_ENCODING', 'chunked is not the final transfer coding; send chunked last');
  }
  // RFC 9112 §6.1: "A server that receives a request message with a transfer coding it does not
  // understand SHOULD respond with 501 (Not Implemented)."
  if (unsupported !== '') {
    return parseError('TSGI_ERR_HTTP_UNSUPPORTED_CODING', `the transfer coding ${printable(unsupported)} is not supported; send only chunked`);
  }
  return null;
}

/** RFC 9112 §3.2: which request-target forms each method may use. */
export function checkTarget(method: string, target: string): HttpParseError | null {
  // RFC 9112 §3.2.3: "The authority-form of request-target is only used for CONNECT requests".
  if (method === 'CONNECT') {
    return isAuthorityForm(target)
      ? null
      : parseError('TSGI_ERR_HTTP_TARGET', 'CONNECT needs an authority-form request-target (host:port)');
  }
  const first = target.charCodeAt(0);
  if (first === 0x2f /* / */) {
    if (ORIGIN_FORM_PLAIN.test(target) || ORIGIN_FORM.test(target)) return null;
    return parseError(
      'TSGI_ERR_HTTP_TARGET',
      'the request-target holds a space, a control character or a "%" that starts no %-escape; percent-encode it',
    );
  }
  // RFC 9112 §3.2.4: asterisk-form "is only used for a server-wide OPTIONS request".
  if (target === '*') {
    return method === 'OPTIONS'
      ? null
      : parseError('TSGI_ERR_HTTP_TARGET', 'the asterisk-form request-target "*" is only allowed with OPTIONS');
  }
  if (isAbsoluteForm(target)) return null;
  if (target === '') return parseError('TSGI_ERR_HTTP_TARGET', 'the request-target is empty; send a path such as "/"');
  if (isAuthorityForm(target)) {
    return parseError('TSGI_ERR_HTTP_TARGET', 'the authority-form request-target is only allowed with CONNECT');
  }
  if (target.indexOf(' ') !== -1) {
    return parseError('TSGI_ERR_HTTP_REQUEST_LINE', 'the request-line has extra spaces; separate its three parts with single spaces');
  }
  return parseError('TSGI_ERR_HTTP_TARGET', 'the request-target is not origin-form, absolute-form (http/https) or "*"');
}

/**
 * Says what is wrong with a request-line (without CR or LF) that REQUEST_LINE refused. The
 * grammar decided; this only names the part at fault.
 */
function explainRequestLine(line: string): HttpParseError {
  const firstSpace = line.indexOf(' ');
  if (firstSpace === -1) {
    return parseError('TSGI_ERR_HTTP_REQUEST_LINE', 'the request-line has no spaces; send "method SP request-target SP HTTP-version"');
  }
  const method = line.slice(0, firstSpace);
  if (!TOKEN.test(method)) {
    return parseError(
      'TSGI_ERR_HTTP_REQUEST_LINE',
      method === '' ? 'the request-line starts with a space; send the method first' : 'the method is not a token (RFC 9110 §9.1)',
    );
  }
  // RFC 9112 §2.3: HTTP-version = HTTP-name "/" DIGIT "." DIGIT, case-sensitive.
  const lastSpace = line.lastIndexOf(' ');
  const version = line.slice(lastSpace + 1);
  if (lastSpace === firstSpace) {
    return HTTP_VERSION_SHAPE.test(version)
      ? parseError('TSGI_ERR_HTTP_REQUEST_LINE', 'the request-line has no request-target; send "method SP request-target SP HTTP-version"')
      : parseError('TSGI_ERR_HTTP_VERSION', 'the request-line has no HTTP-version; send HTTP/1.1 or HTTP/1.0');
  }
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') {
    return HTTP_VERSION_SHAPE.test(version)
      ? // RFC 9110 §15.6.6: 505 for a major version (or here, any version) the server does not serve.
        parseError('TSGI_ERR_HTTP_VERSION_NOT_SUPPORTED', `${version} is not supported; send HTTP/1.1 or HTTP/1.0`)
      : parseError('TSGI_ERR_HTTP_VERSION', 'the HTTP-version is malformed; send HTTP/1.1 or HTTP/1.0 (case-sensitive)');
  }
  return (
    checkTarget(method, line.slice(firstSpace + 1, lastSpace)) ??
    parseError('TSGI_ERR_HTTP_REQUEST_LINE', 'the request-line is malformed; send "method SP request-target SP HTTP-version"')
  );
}

/**
 * Says what is wrong with a field line (without CR or LF) that FIELD_LINE refused. The grammar
 * decided; this only names the part at fault.
 */
function explainFieldLine(line: string): HttpParseError {
  // RFC 9112 §5.2: "A server that receives an obs-fold in a request message that is not within a
  // "message/http" container MUST either reject the message by sending a 400 (Bad Request)" or
  // replace it; RFC 9112 §2.2 says the same of whitespace before the first field line.
  if (isOWS(line.charCodeAt(0))) {
    return parseError('TSGI_ERR_HTTP_FIELD', 'a field line starts with whitespace (obs-fold); send each field on one line');
  }
  const colon = line.indexOf(':');
  if (colon === -1) return parseError('TSGI_ERR_HTTP_FIELD', 'a field line has no colon; send "name: value"');
  if (colon === 0) return parseError('TSGI_ERR_HTTP_FIELD', 'a field line has an empty name; send "name: value"');
  if (!TOKEN.test(line.slice(0, colon))) {
    // RFC 9112 §5.1: "A server MUST reject, with a response status code of 400 (Bad Request), any
    // received request message that contains whitespace between a header field name and colon."
    return parseError(
      'TSGI_ERR_HTTP_FIELD',
      isOWS(line.charCodeAt(colon - 1)) ? 'whitespace between a field name and its colon; remove it' : 'a field name is not a token (RFC 9110 §5.1)',
    );
  }
  // RFC 9110 §5.5: "Field values containing CR, LF, or NUL characters are invalid and dangerous
  // ... a recipient ... MUST either reject the message or replace each of those characters with
  // SP"; other CTLs are outside field-content too. tsgi rejects them all.
  if (!FIELD_VALUE.test(line.slice(colon + 1))) {
    return parseError('TSGI_ERR_HTTP_FIELD', 'a field value holds a control character; remove it');
  }
  return parseError('TSGI_ERR_HTTP_FIELD', 'a field line is malformed; send "name: value" lines');
}

/** s[from, to) without leading and trailing SP / HTAB (RFC 9112 §5: OWS around the value). */
function trimmedValue(s: string, from: number, to: number): string {
  while (from < to && isOWS(s.charCodeAt(from))) from++;
  while (to > from && isOWS(s.charCodeAt(to - 1))) to--;
  return s.slice(from, to);
}

function trimOWS(s: string): string {
  return trimmedValue(s, 0, s.length);
}

/**
 * Case-insensitive comparison of a field name with a name of the same length, given in its usual
 * spelling and in lowercase. Setting
 * bit 0x20 lowercases ASCII letters and leaves every other tchar that could match unchanged
 * ("-" and digits already have it), so this is exact for names that passed the token check.
 */
function sameName(name: string, canonical: string, lower: string): boolean {
  if (name === canonical || name === lower) return true;
  for (let i = 0; i < lower.length; i++) {
    if ((name.charCodeAt(i) | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** Index of the first CR or LF in s[from, to), or -1. */
function firstLineBreak(s: string, from: number, to: number): number {
  const cr = s.indexOf('\r', from);
  const lf = s.indexOf('\n', from);
  const first = cr === -1 || cr >= to ? (lf === -1 || lf >= to ? -1 : lf) : lf === -1 || lf >= to || cr < lf ? cr : lf;
  return first;
}

/** A token from the request (so printable ASCII), quoted and cut short for an error message. */
function printable(token: string): string {
  return `"${token.length > 40 ? token.slice(0, 40) + '...' : token}"`;
}

function lineEndingError(s: string, at: number): HttpParseError {
  return s.charCodeAt(at) === CR ? bareCR() : bareLF();
}

// RFC 9112 §2.2: "A sender MUST NOT generate a bare CR (a CR character not immediately followed
// by LF) within any protocol elements"; tsgi rejects bare CR and bare LF everywhere in a head.
function bareCR(): HttpParseError {
  return parseError('TSGI_ERR_HTTP_LINE_ENDING', 'a CR is not followed by LF; end every line with CRLF');
}

function bareLF(): HttpParseError {
  return parseError('TSGI_ERR_HTTP_LINE_ENDING', 'an LF is not preceded by CR; end every line with CRLF');
}

function requestLineTooLong(limit: number): HttpParseError {
  return parseError('TSGI_ERR_HTTP_REQUEST_LINE_TOO_LONG', `the request-line is longer than ${limit} bytes; shorten the URL`);
}

function fieldTooLarge(): HttpParseError {
  return parseError('TSGI_ERR_HTTP_FIELD_TOO_LARGE', 'a field line is longer than the server allows; send smaller fields');
}

function tooManyFields(): HttpParseError {
  return parseError('TSGI_ERR_HTTP_TOO_MANY_FIELDS', 'the request has more field lines than the server allows; send fewer fields');
}

function chunkError(problem: string): HttpParseError {
  return parseError('TSGI_ERR_HTTP_CHUNK', `${problem}; send the body with valid chunked framing (RFC 9112 §7.1)`);
}

function incomplete(part: string): HttpParseError {
  return parseError('TSGI_ERR_HTTP_INCOMPLETE', `the connection ended in the middle of the ${part}; send the complete request`);
}
