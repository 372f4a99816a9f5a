/**
 * Checks what an app passes to startResponse before any of it can reach the wire. A bad byte here
 * would let an app (or a client echoed by it) split the response, so nothing is repaired: the
 * response becomes a 500 and the bad value is never sent.
 *
 * These are the one definition of the response grammar of docs/spec.md §5.2 and §5.3: the server
 * uses them to refuse, tsgi/validate to name the breach. Token and field-value come from the HTTP
 * grammar the request parser uses.
 */
import { TsgiError } from '../errors.js';
import { reasonPhrase } from '../http/status.js';
import type { Header } from './types.js';
// RFC 9110 §5.6.2 token and §5.5 field-value (visible characters, SP, HTAB and obs-text; "a field
// value MUST NOT contain CR, LF or NUL", and other controls are refused as well): the same
// grammar the request parser applies to what clients send.
import { FIELD_VALUE, TOKEN } from '../http/grammar.js';

export { FIELD_VALUE, TOKEN };

/**
 * RFC 9112 §4: `status-line = HTTP-version SP status-code SP [ reason-phrase ]`; RFC 9110 §15:
 * the first digit is 1 to 5. A bare code ("200") is accepted and given its reason phrase.
 */
export const STATUS = /^([1-5]\d\d)(?:( )[\t\x20-\x7e\x80-\xff]*)?$/;
/** Most values are plain ASCII; knowing it lets the driver send head and body as one string. */
const ASCII = /^[\t\x20-\x7e]*$/;
/** RFC 9110 §8.6: `Content-Length = 1*DIGIT`; tsgi keeps it to a safe integer (spec §5.3). */
const CONTENT_LENGTH = /^[0-9]{1,16}$/;

/**
 * RFC 9110 §7.6.1: connection-specific fields are the server's to manage; the framing fields
 * belong to the server too, because it decides how the body travels.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

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

/** The app passed something startResponse cannot send; the response becomes a 500. */
export class AppHeaderError extends TsgiError {
  constructor(message: string) {
    super('TSGI_ERR_APP_CONTRACT', message);
  }
}

export interface CheckedResponse {
  status: number;
  /** What follows "HTTP/1.1 " on the wire: the app's status, or a bare code with its reason phrase. */
  statusLine: string;
  headers: Header[];
  /** The app's Content-Length, or -1. */
  contentLength: number;
  /** True when the status line and every header are ASCII (no obs-text). */
  ascii: boolean;
  /** The app sent its own Date field. */
  hasDate: boolean;
}

export function emptyCheckedResponse(): CheckedResponse {
  return { status: 0, statusLine: '', headers: [], contentLength: -1, ascii: true, hasDate: false };
}

/** Parses a status; returns the code and writes the wire status line into `out`. */
export function checkStatus(status: unknown, out?: CheckedResponse): number {
  if (typeof status !== 'string') throw new AppHeaderError(`status must be a string like "200 OK", got ${typeof status}`);
  const m = STATUS.exec(status);
  if (m === null) {
    throw new AppHeaderError(
      `invalid status ${JSON.stringify(status)}: expected three digits from 100 to 599, then optionally a space and a reason phrase without control characters`,
    );
  }
  const code = +m[1]!;
  if (code < 200) {
    throw new AppHeaderError(
      `status ${code}: an app may not send an informational (1xx) response; send 103 hints with environ['tsgi.early_hints'](headers)`,
    );
  }
  if (out !== undefined) out.statusLine = m[2] === undefined ? code + ' ' + reasonPhrase(code) : status;
  return code;
}

// The last header list checked, by value: apps answer most requests with the same constant
// strings, so a list equal to the last one needs no regular expression at all.
let lastStatus = '';
const lastNames: string[] = [];
const lastValues: string[] = [];
let lastChecked: CheckedResponse | null = null;

/** Validates and normalises the app's headers; throws AppHeaderError on the first bad one. */
export function checkResponse(status: unknown, headers: unknown, out: CheckedResponse): void {
  if (lastChecked !== null && status === lastStatus && Array.isArray(headers) && sameAsLast(headers)) {
    const last = lastChecked;
    out.status = last.status;
    out.statusLine = last.statusLine;
    // The kept list may be the app's own array (nothing dropped): then it is this request's array.
    out.headers = last.headers.length === headers.length ? (headers as Header[]) : last.headers;
    out.contentLength = last.contentLength;
    out.ascii = last.ascii;
    out.hasDate = last.hasDate;
    return;
  }
  const code = checkStatus(status, out);
  if (!Array.isArray(headers)) throw new AppHeaderError('headers must be an array of [name, value] pairs');
  let contentLength = -1;
  let ascii = ASCII.test(status as string);
  let hasDate = false;
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
      } else if (lower === 'date') {
        hasDate = true;
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
  out.headers = kept ?? (headers as Header[]);
  out.contentLength = contentLength;
  out.ascii = ascii;
  out.hasDate = hasDate;
  remember(status as string, headers as Header[], out);
}

function sameAsLast(headers: unknown[]): boolean {
  if (headers.length !== lastNames.length) return false;
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i];
    if (!Array.isArray(h) || h.length !== 2 || h[0] !== lastNames[i] || h[1] !== lastValues[i]) return false;
  }
  return true;
}

function remember(status: string, headers: Header[], out: CheckedResponse): void {
  lastStatus = status;
  lastNames.length = headers.length;
  lastValues.length = headers.length;
  for (let i = 0; i < headers.length; i++) {
    lastNames[i] = headers[i]![0];
    lastValues[i] = headers[i]![1];
  }
  // A copy: `out` is reused by its cycle, and the kept list must not alias a later request's array.
  // The kept list is handed to every later request equal to this one, so it holds its own pairs:
  // the app's pairs are arrays it may change after this request, and a later request must get
  // the values that were checked.
  lastChecked = { ...out, headers: out.headers === headers ? headers.slice() : out.headers.map(copyPair) };
}

function copyPair(h: Header): Header {
  return [h[0], h[1]];
}
