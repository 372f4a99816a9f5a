/**
 * The response half of the sans-IO core: decides how a response body is framed and serialises the
 * head. It holds no socket; the connection driver sends the strings it returns.
 */
import { httpDate } from './date.js';

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

export interface ResponseHeadInput {
  /** 0 or 1: the request's HTTP minor version. */
  versionMinor: 0 | 1;
  /** The status line's tail as the app gave it: "200 OK". */
  statusLine: string;
  /** Fields from the app, validated, with hop-by-hop and framing fields already removed. */
  headers: [string, string][];
  /**
   * The body length: from the app's Content-Length, or computed by the server, or -1 if unknown.
   * `headers` must not carry its own Content-Length.
   */
  contentLength: number;
  /** True when no body may be sent (HEAD, 1xx, 204, 304). */
  noBody: boolean;
  /** Whether the connection may stay open after this response, before framing is considered. */
  keepAlive: boolean;
  /** 204 and 304 (and 1xx) carry no Content-Length of their own making (RFC 9110 §8.6). */
  status: number;
}

/**
 * Picks the framing and renders the head. The returned `keepAlive` is false when the framing needs
 * the connection to close (close-delimited body).
 */
export class ResponseHead {
  framing: Framing = FRAME_NONE;
  keepAlive = true;
  text = '';

  render(r: ResponseHeadInput): this {
    let keepAlive = r.keepAlive;
    let framing: Framing;
    let lengthField = '';
    if (r.noBody) {
      framing = FRAME_NONE;
      // RFC 9110 §8.6: a HEAD or 304 response may carry the length the GET would have had;
      // 1xx and 204 responses must not carry Content-Length at all.
      if (r.contentLength >= 0 && r.status !== 204 && r.status >= 200) {
        lengthField = 'Content-Length: ' + r.contentLength + '\r\n';
      }
    } else if (r.contentLength >= 0) {
      framing = FRAME_LENGTH;
      lengthField = 'Content-Length: ' + r.contentLength + '\r\n';
    } else if (r.versionMinor === 1) {
      // RFC 9112 §6.1: chunked is the only way to send a body of unknown length and keep the
      // connection; HTTP/1.0 recipients do not understand it.
      framing = FRAME_CHUNKED;
      lengthField = 'Transfer-Encoding: chunked\r\n';
    } else {
      // RFC 9112 §6.3 (8): without a length the body ends at connection close.
      framing = FRAME_CLOSE;
      keepAlive = false;
    }
    // RFC 9110 §6.2: a server sends its own highest conformant version, HTTP/1.1.
    let head = 'HTTP/1.1 ' + r.statusLine + '\r\n';
    const headers = r.headers;
    for (let i = 0; i < headers.length; i++) {
      const h = headers[i]!;
      head += h[0] + ': ' + h[1] + '\r\n';
    }
    head += 'Date: ' + httpDate() + '\r\n' + lengthField;
    // RFC 9112 §9.6: a server that will close after this response sends "close"; an HTTP/1.0
    // client that asked for keep-alive is told it was granted (RFC 9112 Appendix C.2.2).
    if (!keepAlive) head += 'Connection: close\r\n\r\n';
    else if (r.versionMinor === 0) head += 'Connection: keep-alive\r\n\r\n';
    else head += '\r\n';
    this.framing = framing;
    this.keepAlive = keepAlive;
    this.text = head;
    return this;
  }
}

/** A complete short response the server writes on its own (400, 500, 503...): always closes. */
export function simpleResponse(status: number, reason: string, body: string, close: boolean): string {
  return (
    'HTTP/1.1 ' + status + ' ' + reason + '\r\n' +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    'Content-Length: ' + Buffer.byteLength(body) + '\r\n' +
    'Date: ' + httpDate() + '\r\n' +
    (close ? 'Connection: close\r\n' : '') +
    '\r\n' + body
  );
}
