/**
 * What the parts of an accepted request-target are, for the environ (spec §3.2, §3.3): the
 * authority of an absolute-form target, the path, the query and the fragment, and the path as
 * PATH_INFO shows it. Pure functions of a target the parser accepted (checkTarget), so they do
 * not re-validate it.
 */
import { HEX_VALUE } from './grammar.js';

/** The parts of a request-target. Every part is a latin1 string, one character per byte. */
export interface TargetParts {
  /** The authority of an absolute-form target (`example.com:8080`); null for the other forms. */
  authority: string | null;
  /**
   * The path: before the first "?" or "#" of an origin-form target; the path after the authority
   * of an absolute-form one, `/` when that is empty; `*` for the asterisk-form.
   */
  path: string;
  /** After the first "?" and before the first "#"; '' when there is no "?". Not decoded. */
  query: string;
  /**
   * After the first "#" (RFC 3986 §3.5), or null without one. A fragment is never sent to a
   * server by a conforming client (RFC 9112 §3.2 leaves it out of the request-target); some
   * clients do, so it is kept here, and never in the path or query.
   */
  fragment: string | null;
}

/**
 * Splits a request-target into its parts. `out` is filled in and returned, so a caller that keeps
 * one object per connection splits targets without allocating more than the part strings.
 */
export function splitTarget(target: string, out: TargetParts = { authority: null, path: '', query: '', fragment: null }): TargetParts {
  let start = 0;
  out.authority = null;
  if (target.charCodeAt(0) !== 0x2f /* / */) {
    if (target === '*') {
      out.path = '*';
      out.query = '';
      out.fragment = null;
      return out;
    }
    // RFC 9112 §3.2.2 absolute-form: scheme "://" authority, then path-abempty [ "?" query ].
    const authorityStart = target.indexOf('://') + 3;
    let authorityEnd = authorityStart;
    for (; authorityEnd < target.length; authorityEnd++) {
      const c = target.charCodeAt(authorityEnd);
      if (c === 0x2f /* / */ || c === 0x3f /* ? */ || c === 0x23 /* # */) break;
    }
    out.authority = target.slice(authorityStart, authorityEnd);
    start = authorityEnd;
  }
  // RFC 3986 §3.5: the fragment starts at the first "#"; §3.4: the query at the first "?" before it.
  const hash = target.indexOf('#', start);
  const end = hash === -1 ? target.length : hash;
  const question = target.indexOf('?', start);
  const pathEnd = question === -1 || question > end ? end : question;
  out.path = pathEnd === start ? '/' : start === 0 && pathEnd === target.length ? target : target.slice(start, pathEnd);
  out.query = pathEnd === end ? '' : target.slice(pathEnd + 1, end);
  out.fragment = hash === -1 ? null : target.slice(hash + 1);
  return out;
}

const UTF8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** Characters that need the byte-wise decoding: "%" and obs-text. */
const NEEDS_DECODING = /[%\x80-\xff]/;

/**
 * The path as PATH_INFO shows it (spec §3.2 steps 2 and 3): each "%" followed by two hexadecimal
 * digits becomes the byte they name, every other character stands for its own byte (the target
 * is latin1: one character per received byte, so a raw UTF-8 path arrives as its bytes), and the
 * bytes are read as UTF-8, each invalid sequence becoming U+FFFD as the WHATWG decoder does.
 * Nothing else changes: no dot-segment removal, "+" stays "+".
 */
export function decodePath(path: string): string {
  if (!NEEDS_DECODING.test(path)) return path;
  let hasHighByte = false;
  for (let i = 0; i < path.length; i++) {
    if (path.charCodeAt(i) >= 0x80) {
      hasHighByte = true;
      break;
    }
  }
  if (!hasHighByte) {
    // Only %-escapes: the native decoder is right whenever the escapes spell valid UTF-8, and it
    // throws otherwise (an invalid sequence, or a "%" that starts no escape).
    try {
      return decodeURIComponent(path);
    } catch {
      // fall through to the byte-wise decoding
    }
  }
  const bytes = Buffer.allocUnsafe(path.length);
  let n = 0;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x25 /* % */ && i + 2 < path.length) {
      const high = HEX_VALUE[path.charCodeAt(i + 1)] ?? 255;
      const low = HEX_VALUE[path.charCodeAt(i + 2)] ?? 255;
      if (high !== 255 && low !== 255) {
        bytes[n++] = (high << 4) | low;
        i += 2;
        continue;
      }
    }
    bytes[n++] = c;
  }
  return UTF8.decode(bytes.subarray(0, n));
}
