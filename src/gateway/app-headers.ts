/**
 * Checks what an app passes to startResponse before any of it can reach the wire. A bad byte here would let an app (or a client echoed by it) split the response, so
 * nothing is repaired: the response becomes a 500 and the bad value is never sent.
 *
 * These are the one definition of the response grammar of docs/spec.md §5.2 and §5.3: the
 * server uses them to refuse, tsgi/validate to name the breach. Token and field-value come from the
 * HTTP grammar the request parser uses.
 */
import { FIELD_VALUE, TOKEN } from '../http/grammar.js';
import type { Header } from './types.js';

export { FIELD_VALUE, TOKEN };

/**
 * spec §5.2. RFC 9112 §4: `status-line = HTTP-version SP status-code SP [ reason-phrase ]`,
 * `reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )`; RFC 9110 §15: the first digit is 1-5.
 * The app may leave out the space and the reason (`'200'`): the server then sends the standard one.
 */
export const STATUS = /^([1-5]\d\d)(?: [\t\x20-\x7e\x80-\xff]*)?$/;
/** Most values are plain ASCII; knowing it lets the driver send head and body as one string. */
const ASCII = /^[\t\x20-\x7e]*$/;
/** RFC 9110 §8.6: `Content-Length = 1*DIGIT`; tsgi keeps it to a safe integer (spec §5.3). */
const CONTENT_LENGTH = /^[0-9]{1,16}$/;

/**
 * RFC 9110 §7.6.1: connection-specific fields are the server's to manage; the framing fields
 * belong to the server too, because it decides how the body travels (spec §5.4).
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
]);

export class AppHeaderError extends Error {}

export interface CheckedResponse {
  status: number;
  statusLine: string;
  headers: Header[];
  /** The app's Content-Length, or -1. */
  contentLength: number;
  /** True when the status line and every header are ASCII (no obs-text). */
  ascii: boolean;
}

/**
 * The byte count a Content-Length value gives (spec §5.3), or -1 when it is not one: 1*DIGIT
 * after leading and trailing OWS (SP and HTAB only, RFC 9110 §5.6.3), at most 2^53 - 1.
 */
export function parseContentLength(value: string): number {
  let start = 0;
  let end = value.length;
  while (start < end && isOWS(value.charCodeAt(start))) start++;
  while (end > start && isOWS(value.charCodeAt(end - 1))) end--;
  const digits = start === 0 && end === value.length ? value : value.slice(start, end);
  if (!CONTENT_LENGTH.test(digits)) return -1;
  const n = +digits;
  return n <= Number.MAX_SAFE_INTEGER ? n : -1;
}

function isOWS(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

export function checkStatus(status: unknown): number {
  if (typeof status !== 'string') throw new AppHeaderError(`status must be a string like "200 OK", got ${typeof status}`);
  const m = STATUS.exec(status);
  if (m === null) throw new AppHeaderError(`invalid status ${JSON.stringify(status)}: expected a code 200-599, then optionally a space and a reason phrase without control characters`);
  const code = +m[1]!;
  if (code < 200) throw new AppHeaderError(`status ${code}: an app may not send an informational (1xx) response; send 103 hints with tsgi.early_hints`);
  return code;
}

/** Validates and normalises the app's headers; throws AppHeaderError on the first bad one. */
export function checkResponse(status: unknown, headers: unknown, out: CheckedResponse): void {
  const code = checkStatus(status);
  if (!Array.isArray(headers)) throw new AppHeaderError('headers must be an array of [name, value] pairs');
  let contentLength = -1;
  let ascii = ASCII.test(status as string);
  // Copy-on-first-drop, so the common case keeps the app's own array.
  let kept: Header[] | null = null;
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i];
    if (!Array.isArray(h) || h.length !== 2) throw new AppHeaderError(`header #${i} must be a [name, value] pair`);
    const name = h[0];
    const value = h[1];
    if (typeof name !== 'string' || !TOKEN.test(name)) throw new AppHeaderError(`header name ${JSON.stringify(name)} is not an RFC 9110 token`);
    if (typeof value !== 'string') throw new AppHeaderError(`header ${name} has a ${typeof value} value; values are strings`);
    if (!ASCII.test(value)) {
      if (!FIELD_VALUE.test(value)) throw new AppHeaderError(`header ${name} has a value with CR, LF, NUL or another control character`);
      ascii = false;
    }
    let drop = false;
    // Only names as long as a hop-by-hop or framing field need the lowercase comparison.
    if (name.length >= 2 && name.length <= 17) {
      const lower = name.toLowerCase();
      if (lower === 'content-length') {
        const n = parseContentLength(value);
        if (n < 0) throw new AppHeaderError(`Content-Length ${JSON.stringify(value)} is not a decimal byte count`);
        if (contentLength >= 0 && n !== contentLength) throw new AppHeaderError('two different Content-Length headers');
        contentLength = n;
        drop = true;
      } else if (HOP_BY_HOP.has(lower)) {
        drop = true;
      }
    }
    if (drop) {
      if (kept === null) kept = (headers as Header[]).slice(0, i);
    } else if (kept !== null) {
      kept.push(h as Header);
    }
  }
  out.status = code;
  out.statusLine = status as string;
  out.headers = kept ?? (headers as Header[]);
  out.contentLength = contentLength;
  out.ascii = ascii;
}
