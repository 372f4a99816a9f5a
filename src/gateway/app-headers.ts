/**
 * Checks what an app passes to startResponse before any of it can reach the wire. A bad byte here
 * would let an app (or a client echoed by it) split the response, so nothing is repaired: the
 * response becomes a 500 and the bad value is never sent.
 */
import type { Header } from './types.js';
// RFC 9110 §5.6.2 token and §5.5 field-value (visible characters, SP, HTAB and obs-text; "a field
// value MUST NOT contain CR, LF or NUL", and other controls are refused as well): the same
// grammar the request parser applies to what clients send.
import { FIELD_VALUE, TOKEN } from '../http/grammar.js';
/** RFC 9112 §4: `status-line = HTTP-version SP status-code SP [ reason-phrase ]`. */
const STATUS = /^([1-9]\d\d)(?: [\t\x20-\x7e\x80-\xff]*)?$/;
/** Most values are plain ASCII; knowing it lets the driver send head and body as one string. */
const ASCII = /^[\t\x20-\x7e]*$/;
const CONTENT_LENGTH = /^\d{1,15}$/;

/**
 * RFC 9110 §7.6.1: connection-specific fields are the server's to manage; the framing fields
 * belong to the server too, because it decides how the body travels.
 */
const HOP_BY_HOP = new Set([
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

export function checkStatus(status: unknown): number {
  if (typeof status !== 'string') throw new AppHeaderError(`status must be a string like "200 OK", got ${typeof status}`);
  const m = STATUS.exec(status);
  if (m === null) throw new AppHeaderError(`invalid status ${JSON.stringify(status)}: expected three digits, a space and a reason phrase without control characters`);
  const code = +m[1]!;
  if (code < 200) throw new AppHeaderError(`status ${code}: an app may not send an informational (1xx) response`);
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
        const trimmed = value.trim();
        if (!CONTENT_LENGTH.test(trimmed)) throw new AppHeaderError(`Content-Length ${JSON.stringify(value)} is not a decimal byte count`);
        const n = +trimmed;
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
