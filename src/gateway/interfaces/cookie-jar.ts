/**
 * The test client's cookies (RFC 6265, the part a test needs): a response's Set-Cookie stores or
 * deletes a cookie by name and path; a request sends the cookies whose path covers its own.
 * Domains are not told apart: every request of a client goes to the same app.
 */
interface Cookie {
  value: string;
  path: string;
  expires: number;
}

export class CookieJar {
  private readonly cookies = new Map<string, Cookie>();

  /** RFC 6265 §5.2: name=value, then attributes; Max-Age wins over Expires. */
  store(setCookie: string, requestPath: string): void {
    const [pair = '', ...attributes] = setCookie.split(';');
    const equals = pair.indexOf('=');
    if (equals <= 0) return;
    const name = pair.slice(0, equals).trim();
    const value = pair.slice(equals + 1).trim();
    // §5.1.4: the default path is the request path up to its last "/".
    let path = requestPath.slice(0, Math.max(1, requestPath.lastIndexOf('/')));
    let expires = Infinity;
    let maxAge: number | undefined;
    for (const attribute of attributes) {
      const [key = '', ...rest] = attribute.split('=');
      const text = rest.join('=').trim();
      const lower = key.trim().toLowerCase();
      if (lower === 'path' && text.startsWith('/')) path = text;
      else if (lower === 'max-age' && /^-?\d+$/.test(text)) maxAge = Number(text);
      else if (lower === 'expires' && !Number.isNaN(Date.parse(text))) expires = Date.parse(text);
    }
    if (maxAge !== undefined) expires = maxAge <= 0 ? 0 : Date.now() + maxAge * 1000;
    const key = `${path}\u0000${name}`;
    if (expires <= Date.now()) this.cookies.delete(key);
    else this.cookies.set(key, { value, path, expires });
  }

  /** The Cookie header for a request to `path` ('' when no cookie applies). */
  header(path: string): string {
    const now = Date.now();
    const pairs: string[] = [];
    for (const [key, cookie] of this.cookies) {
      if (cookie.expires <= now) {
        this.cookies.delete(key);
        continue;
      }
      // §5.1.4 path-match.
      const matches = path === cookie.path || (path.startsWith(cookie.path) && (cookie.path.endsWith('/') || path[cookie.path.length] === '/'));
      if (matches) pairs.push(`${key.slice(key.indexOf('\u0000') + 1)}=${cookie.value}`);
    }
    return pairs.join('; ');
  }

  /** The value of a cookie, whatever its path. */
  get(name: string): string | undefined {
    for (const [key, cookie] of this.cookies) if (key.slice(key.indexOf('\u0000') + 1) === name && cookie.expires > Date.now()) return cookie.value;
    return undefined;
  }

  clear(): void {
    this.cookies.clear();
  }
}
