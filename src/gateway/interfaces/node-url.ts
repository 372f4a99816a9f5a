/**
 * `req.url` for a node app: the request-target as received, as node:http gives it, unless a mount
 * (--root-path, or TSGI middleware that changed SCRIPT_NAME/PATH_INFO) says the app lives below a
 * prefix; then the path below it, as Express's own mounting strips the prefix from `req.url`.
 */
import { decodePath } from '../../http/target.js';
import type { Environ } from '../types.js';

function encodePath(path: string): string {
  return /^[A-Za-z0-9\-_.!~*'()/]*$/.test(path) ? path : path.split('/').map(encodeURIComponent).join('/');
}

export function nodeUrl(environ: Environ): string {
  const raw = environ.RAW_URI;
  const query = environ.QUERY_STRING;
  if (environ.SCRIPT_NAME === '') {
    if (raw.charCodeAt(0) !== 0x2f /* / */) return raw; // absolute-form or "*": node:http passes it as is
    const q = raw.indexOf('?');
    const path = q === -1 ? raw : raw.slice(0, q);
    const rawQuery = q === -1 ? '' : raw.slice(q + 1);
    if (rawQuery === query && decodePath(path) === environ.PATH_INFO) return raw;
  }
  const path = encodePath(environ.PATH_INFO) || '/';
  return query === '' ? path : `${path}?${query}`;
}
