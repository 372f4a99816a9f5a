/**
 * The fields of a 103 Early Hints response (docs/spec.md §5.7), checked by the one response grammar
 * of app-headers.ts. A pure function, for the request driver that sends the interim response.
 */
import { AppHeaderError, FIELD_VALUE, HOP_BY_HOP, TOKEN } from './app-headers.js';
import type { Header } from './types.js';

/**
 * spec §5.7: the fields of a 103 Early Hints response are checked like response fields and the
 * same ones are dropped (hop-by-hop fields), plus Content-Length, which no 1xx response carries
 * (RFC 9110 §8.6). Returns the fields to send; throws AppHeaderError on a name or value that must
 * not reach the wire.
 */
export function checkEarlyHints(headers: unknown): Header[] {
  if (!Array.isArray(headers)) throw new AppHeaderError('early hints must be an array of [name, value] pairs');
  let kept: Header[] | null = null;
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i];
    if (!Array.isArray(h) || h.length !== 2) throw new AppHeaderError(`hint #${i} must be a [name, value] pair`);
    const [name, value] = h as unknown[];
    if (typeof name !== 'string' || !TOKEN.test(name)) throw new AppHeaderError(`hint name ${JSON.stringify(name)} is not an RFC 9110 token`);
    if (typeof value !== 'string' || !FIELD_VALUE.test(value)) throw new AppHeaderError(`hint ${name} has a value that is not a string of HTAB, SP, visible characters and U+0080-U+00FF`);
    const lower = name.toLowerCase();
    if (lower === 'content-length' || HOP_BY_HOP.has(lower)) {
      if (kept === null) kept = (headers as Header[]).slice(0, i);
    } else if (kept !== null) {
      kept.push(h as Header);
    }
  }
  return kept ?? (headers as Header[]);
}
