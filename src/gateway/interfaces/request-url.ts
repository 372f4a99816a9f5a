/**
 * The request's full URL, built from the environ as spec §3.8 builds it, in the form a WHATWG URL
 * serialises it (so `request.url` reads the same whether a genuine Request or a lazy one holds it).
 */
import type { Environ } from '../types.js';

/**
 * Characters a path segment keeps as they are under §3.8's `encodeURIComponent`, plus `/`. A path
 * made only of these needs no encoding.
 */
const PLAIN_PATH = /^[A-Za-z0-9\-_.!~*'()/]*$/;
/** A dot segment, which the WHATWG URL parser removes. */
const DOT_SEGMENT = /\/\.\.?(?:\/|$)/;
/**
 * A host the URL parser leaves exactly as it is: a lowercase name whose last label starts with a
 * letter (a numeric or `0x` last label makes the parser read the name as an IPv4 address), or an
 * IPv4 address in dotted-decimal form; then an optional port without leading zeros.
 */
const PLAIN_HOST = /^(?:(?:[a-z0-9-]+\.)*[a-z][a-z0-9-]*\.?|(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d))(?::([1-9]\d{0,4}))?$/;

function isPlainHost(host: string, defaultPort: string): boolean {
  const match = PLAIN_HOST.exec(host);
  if (match === null) return false;
  const port = match[1];
  return port === undefined || (port !== defaultPort && Number(port) <= 65535);
}
/** A query the URL parser leaves as it is (its query percent-encode set, and `'` for http). */
const PLAIN_QUERY = /^[!$%&(-;=?-~]*$/;

/** spec §3.8, as written there. */
export function reconstructUrl(environ: Environ): string {
  const scheme = environ['tsgi.url_scheme'];
  let url = `${scheme}://`;
  if (environ.HTTP_HOST) {
    url += environ.HTTP_HOST;
  } else {
    const name = environ.SERVER_NAME;
    // An IPv6 address needs its brackets in a URL (RFC 3986 §3.2.2).
    url += name.includes(':') && !name.startsWith('[') ? `[${name}]` : name;
    const port = environ.SERVER_PORT;
    if ((scheme === 'https' && port !== '443') || (scheme === 'http' && port !== '80')) url += `:${port}`;
  }
  const path = environ.SCRIPT_NAME + environ.PATH_INFO;
  url += PLAIN_PATH.test(path) ? path : path.split('/').map(encodeURIComponent).join('/');
  if (environ.QUERY_STRING) url += `?${environ.QUERY_STRING}`;
  return url;
}

/**
 * §3.8's URL as `new URL(...).href` gives it. The common request (a lowercase host, a plain path, a
 * plain query) is already in that form and costs no URL parse. Throws a TypeError for a URL the
 * WHATWG parser refuses (an invalid Host), as `new Request()` would.
 */
export function requestUrl(environ: Environ): string {
  const url = reconstructUrl(environ);
  const host = environ.HTTP_HOST || environ.SERVER_NAME;
  const defaultPort = environ['tsgi.url_scheme'] === 'https' ? '443' : '80';
  const path = environ.SCRIPT_NAME + environ.PATH_INFO;
  if (
    isPlainHost(host, defaultPort) &&
    path.startsWith('/') &&
    PLAIN_PATH.test(path) &&
    !DOT_SEGMENT.test(path) &&
    PLAIN_QUERY.test(environ.QUERY_STRING)
  ) {
    return url;
  }
  return new URL(url).href;
}
