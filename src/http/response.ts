/**
 * The response half of the sans-IO core: decides how a response body is framed and serialises the
 * head, the same way for both engines (the tsgi engine writes the text, the node engine hands the
 * same fields to node:http, which writes the same bytes). It holds no socket.
 */
import { httpDate } from './date.js';
import { reasonPhrase } from './status.js';

/** No body may follow the head (HEAD request, 1xx, 204, 304). */
export const FRAME_NONE = 0;
/** The body is exactly Content-Length bytes. */
export const FRAME_LENGTH = 1;
/** The body is sent with the chunked transfer coding. */
export const FRAME_CHUNKED = 2;
/** The body ends when the connection closes (HTTP/1.0 with unknown length). */
export const FRAME_CLOSE = 3;

export type Framing = typeof FRAME_NONE | typeof FRAME_LENGTH | typeof FRAME_CHUNKED | typeof FRAME_CLOSE;

/** RFC 9112 §7.1: last-chunk and the empty trailer section. */
export const LAST_CHUNK = '0\r\n\r\n';
export const CHUNK_END = '\r\n';

/** RFC 9112 §7.1: `chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF`. */
export function chunkPrefix(byteLength: number): string {
  return byteLength.toString(16) + '\r\n';
}

type Fields = readonly (readonly [string, string])[];

/** What decides the head of one response; the driver fills one per connection and reuses it. */
export interface HeadInput {
  /** The request's HTTP minor version. */
  versionMinor: 0 | 1;
  status: number;
  /** The status line after "HTTP/1.1 ": "200 OK", or "599 " for a code without a reason phrase. */
  statusLine: string;
  /** The app's fields, validated, with hop-by-hop and framing fields already removed. */
  headers: Fields;
  /** The app sent its own Date (RFC 9110 §6.6.1: then the server adds none). */
  hasDate: boolean;
  /**
   * The body length: the app's Content-Length, or computed by the server, or -1 if unknown. For a
   * response without a body (`noBody`) only a length the app declared may be given (RFC 9110 §8.6).
   */
  contentLength: number;
  /** HEAD, 1xx, 204, 304: no body may be sent. */
  noBody: boolean;
  /** Whether the connection may stay open after this response, before framing is considered. */
  keepAlive: boolean;
}

/**
 * Picks the framing of a response (RFC 9112 §6). The connection must close after a body delimited
 * by closing it; `keepAliveAfter()` says whether it may persist.
 */
export function framingOf(r: HeadInput): Framing {
  if (r.noBody) return FRAME_NONE;
  if (r.contentLength >= 0) return FRAME_LENGTH;
  // RFC 9112 §6.1: chunked is the only way to send a body of unknown length and keep the
  // connection; HTTP/1.0 recipients do not understand it (RFC 9112 §6.3 (8): close delimits).
  return r.versionMinor === 1 ? FRAME_CHUNKED : FRAME_CLOSE;
}

/** The length field for the framing chosen, or '' (RFC 9110 §8.6: none on 1xx and 204). */
function lengthField(r: HeadInput, framing: Framing): string {
  if (framing === FRAME_LENGTH) return 'Content-Length: ' + r.contentLength + '\r\n';
  if (framing === FRAME_CHUNKED) return 'Transfer-Encoding: chunked\r\n';
  // RFC 9110 §8.6: a HEAD or 304 response may carry the length the GET would have had, and only
  // the app can know it; 1xx and 204 responses must not carry Content-Length at all.
  if (framing === FRAME_NONE && r.contentLength >= 0 && r.status !== 204 && r.status >= 200) return 'Content-Length: ' + r.contentLength + '\r\n';
  return '';
}

/**
 * Renders response heads for one engine. RFC 9112 §9.6: a server that will close after a response
 * says "close"; one that keeps the connection says so, with its idle timeout, which lets a client
 * avoid reusing a connection the server is about to close (RFC 9112 §9.3, Keep-Alive from RFC 2068
 * §19.7.1.1, as node:http sends it).
 *
 * The last head rendered is remembered: a worker answering the same route again within the same
 * second renders nothing, and the string it writes is already flat.
 */
export class HeadRenderer {
  /** "Connection: keep-alive\r\nKeep-Alive: timeout=N\r\n" for this engine's --keep-alive. */
  readonly keepAliveFields: string;
  readonly keepAliveTimeout: string;

  // The last head: its inputs and its text.
  private lastStatusLine = '';
  private lastNames: string[] = [];
  private lastValues: string[] = [];
  private lastDate = '';
  private lastTail = -1;
  private lastText = '';

  constructor(keepAliveSeconds: number) {
    this.keepAliveTimeout = String(Math.max(1, Math.floor(keepAliveSeconds)));
    this.keepAliveFields = 'Connection: keep-alive\r\nKeep-Alive: timeout=' + this.keepAliveTimeout + '\r\n';
  }

  /** The head as the tsgi engine writes it. `framing` must be framingOf(r); `now` is the wall clock in ms. */
  text(r: HeadInput, framing: Framing, keepAlive: boolean, now?: number): string {
    const date = r.hasDate ? '' : httpDate(now);
    // Everything after the app's fields is fixed by (framing, length, keep-alive): one number.
    const tail = (framing === FRAME_CHUNKED || framing === FRAME_CLOSE ? 0 : r.contentLength + 1) * 8 + framing * 2 + (keepAlive ? 1 : 0);
    if (tail === this.lastTail && date === this.lastDate && r.statusLine === this.lastStatusLine && this.sameFields(r.headers)) return this.lastText;
    let head = 'HTTP/1.1 ' + r.statusLine + '\r\n';
    const headers = r.headers;
    for (let i = 0; i < headers.length; i++) {
      const h = headers[i]!;
      head += h[0] + ': ' + h[1] + '\r\n';
    }
    if (date !== '') head += 'Date: ' + date + '\r\n';
    head += lengthField(r, framing);
    head += keepAlive ? this.keepAliveFields : 'Connection: close\r\n';
    head += '\r\n';
    this.remember(r, date, tail, head);
    return head;
  }

  /**
   * The same head as flat [name, value, ...] for node:http's writeHead(), which writes exactly
   * "HTTP/1.1 " + status + " " + reason + CRLF and each "name: value" CRLF in order: with Date,
   * the length field and Connection given, it adds none of its own.
   */
  fields(r: HeadInput, framing: Framing, keepAlive: boolean): string[] {
    const headers = r.headers;
    const flat: string[] = new Array(headers.length * 2);
    for (let i = 0, j = 0; i < headers.length; i++, j += 2) {
      flat[j] = headers[i]![0];
      flat[j + 1] = headers[i]![1];
    }
    if (!r.hasDate) flat.push('Date', httpDate());
    if (framing === FRAME_CHUNKED) flat.push('Transfer-Encoding', 'chunked');
    else if (framing === FRAME_LENGTH || (framing === FRAME_NONE && r.contentLength >= 0 && r.status !== 204 && r.status >= 200)) {
      flat.push('Content-Length', String(r.contentLength));
    }
    if (keepAlive) flat.push('Connection', 'keep-alive', 'Keep-Alive', 'timeout=' + this.keepAliveTimeout);
    else flat.push('Connection', 'close');
    return flat;
  }

  private sameFields(headers: Fields): boolean {
    const names = this.lastNames;
    if (headers.length !== names.length) return false;
    const values = this.lastValues;
    for (let i = 0; i < headers.length; i++) {
      const h = headers[i]!;
      if (h[0] !== names[i] || h[1] !== values[i]) return false;
    }
    return true;
  }

  private remember(r: HeadInput, date: string, tail: number, text: string): void {
    const headers = r.headers;
    const names = this.lastNames;
    const values = this.lastValues;
    names.length = headers.length;
    values.length = headers.length;
    for (let i = 0; i < headers.length; i++) {
      names[i] = headers[i]![0];
      values[i] = headers[i]![1];
    }
    this.lastStatusLine = r.statusLine;
    this.lastDate = date;
    this.lastTail = tail;
    this.lastText = text;
  }
}

/**
 * A response the server writes on its own (a refusal, 500, 504...): a one-line text/plain body.
 * Fields in the order of any other head: Content-Type, Date, Content-Length, Connection.
 */
export interface ServerResponse {
  status: number;
  /** "400 Bad Request" */
  statusLine: string;
  body: string;
  /** Byte length of body as UTF-8. */
  length: number;
}

export function serverResponse(status: number, body: string): ServerResponse {
  return { status, statusLine: status + ' ' + reasonPhrase(status), body, length: Buffer.byteLength(body) };
}

/** A server response as bytes: it always closes unless `keepAlive` (only for 404/503 answers a client may follow). */
export function serverResponseText(r: ServerResponse, keepAliveFields: string | null): string {
  return (
    'HTTP/1.1 ' + r.statusLine + '\r\n' +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    'Date: ' + httpDate() + '\r\n' +
    'Content-Length: ' + r.length + '\r\n' +
    (keepAliveFields ?? 'Connection: close\r\n') +
    '\r\n' + r.body
  );
}

/** The same as flat fields for node:http's writeHead(). */
export function serverResponseFields(r: ServerResponse, keepAliveTimeout: string | null): string[] {
  const flat = ['Content-Type', 'text/plain; charset=utf-8', 'Date', httpDate(), 'Content-Length', String(r.length)];
  if (keepAliveTimeout === null) flat.push('Connection', 'close');
  else flat.push('Connection', 'keep-alive', 'Keep-Alive', 'timeout=' + keepAliveTimeout);
  return flat;
}

/** RFC 9110 §15.2.4 / RFC 8297: an informational response carrying only header fields. */
export function informationalText(status: number, headers: Fields): string {
  let head = 'HTTP/1.1 ' + status + ' ' + reasonPhrase(status) + '\r\n';
  for (let i = 0; i < headers.length; i++) head += headers[i]![0] + ': ' + headers[i]![1] + '\r\n';
  return head + '\r\n';
}

/** RFC 9110 §10.1.1: the interim response to `Expect: 100-continue`. */
export const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
