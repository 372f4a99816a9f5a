/**
 * buildEnviron() (src/gateway/environ.ts, spec §3), the one function both engines build the environ
 * with: request-line keys, --root-path, header keys (joining, cookies, names with "_"), the
 * connection keys from Host or the socket, and the lazy tsgi.signal. Its caches (keys by field
 * position, the last Host) are exercised by requests that differ only where a cache could mislead.
 */
import { describe, expect, it } from 'vitest';
import { buildEnviron, type ConnectionInfo, type RequestHandle, type ServerInfo } from '../../src/gateway/environ.js';
import { EMPTY_INPUT } from '../../src/gateway/input.js';
import type { Environ, Header } from '../../src/gateway/types.js';
import { SERVER_SOFTWARE } from '../../src/version.js';

const conn: ConnectionInfo = { serverName: '10.0.0.2', serverPort: '8000', remoteAddr: '10.0.0.9', remotePort: '51000', scheme: 'http', unix: false };
const errors = { write() {}, flush() {} };

function handle(): RequestHandle & { signals: number; hints: Header[][] } {
  const controller = new AbortController();
  const h = {
    signals: 0,
    hints: [] as Header[][],
    signal(): AbortSignal {
      h.signals++;
      return controller.signal;
    },
    earlyHints(fields: Header[]): void {
      h.hints.push(fields);
    },
  };
  return h;
}

interface Request {
  method?: string;
  target?: string;
  minor?: 0 | 1;
  headers?: [string, string][];
  conn?: Partial<ConnectionInfo>;
  root?: string;
  multiprocess?: boolean;
}

function build(r: Request = {}, h: RequestHandle = handle()): Environ | null {
  const flat = (r.headers ?? []).flat();
  const server: ServerInfo = { scriptName: r.root ?? '', multiprocess: r.multiprocess ?? true, errors };
  return buildEnviron(r.method ?? 'GET', r.target ?? '/', r.minor ?? 1, flat, EMPTY_INPUT, { ...conn, ...r.conn }, server, h);
}

function env(r: Request = {}): Environ {
  const e = build(r);
  expect(e).not.toBeNull();
  return e!;
}

describe('request-line keys (spec §3.2, §3.3)', () => {
  it('method, path, query, protocol and RAW_URI; the fragment is in neither PATH_INFO nor QUERY_STRING', () => {
    const e = env({ method: 'POST', target: '/a%20b/caf%C3%A9?x=1&y=%20#frag', minor: 0 });
    expect(e.REQUEST_METHOD).toBe('POST');
    expect(e.PATH_INFO).toBe('/a b/café');
    expect(e.QUERY_STRING).toBe('x=1&y=%20');
    expect(e.RAW_URI).toBe('/a%20b/caf%C3%A9?x=1&y=%20#frag');
    expect(e.SERVER_PROTOCOL).toBe('HTTP/1.0');
    expect(e.SCRIPT_NAME).toBe('');
    expect(env({ minor: 1 }).SERVER_PROTOCOL).toBe('HTTP/1.1');
  });

  it('an absolute-form target: the path and query are split off, the authority becomes HTTP_HOST', () => {
    const e = env({ target: 'http://example.com:8080/p?q=1', headers: [['Host', 'ignored.example']] });
    expect(e.PATH_INFO).toBe('/p');
    expect(e.QUERY_STRING).toBe('q=1');
    expect(e.HTTP_HOST).toBe('example.com:8080');
    expect(e.SERVER_NAME).toBe('example.com');
    expect(e.SERVER_PORT).toBe('8080');
  });

  it('OPTIONS *: PATH_INFO is "*"', () => {
    expect(env({ method: 'OPTIONS', target: '*' }).PATH_INFO).toBe('*');
  });
});

describe('--root-path (spec §3.2)', () => {
  it.each([
    ['/app', '/app', ''],
    ['/app/', '/app', '/'],
    ['/app/x/y?q', '/app', '/x/y'],
  ])('%s under /app: SCRIPT_NAME %s, PATH_INFO %j', (target, scriptName, pathInfo) => {
    const e = env({ target, root: '/app' });
    expect(e.SCRIPT_NAME).toBe(scriptName);
    expect(e.PATH_INFO).toBe(pathInfo);
  });

  it.each([['/'], ['/apple'], ['/other/app'], ['/ap']])('%s is outside /app: no environ (the server answers 404)', (target) => {
    expect(build({ target, root: '/app' })).toBeNull();
  });

  it('OPTIONS * belongs to no mounted app: SCRIPT_NAME is empty', () => {
    const e = env({ method: 'OPTIONS', target: '*', root: '/app' });
    expect(e.SCRIPT_NAME).toBe('');
    expect(e.PATH_INFO).toBe('*');
  });

  it('the prefix is matched on the decoded path', () => {
    expect(env({ target: '/%61pp/x', root: '/app' }).PATH_INFO).toBe('/x');
  });
});

describe('header keys (spec §3.4)', () => {
  it('HTTP_ keys, upper case with "-" as "_"; CONTENT_TYPE and CONTENT_LENGTH without the prefix', () => {
    const e = env({ headers: [['Host', 'h'], ['X-Request-Id', 'abc'], ['content-type', 'text/plain'], ['Content-Length', '5'], ['accept', '*/*']] });
    expect(e.HTTP_X_REQUEST_ID).toBe('abc');
    expect(e.HTTP_ACCEPT).toBe('*/*');
    expect(e.CONTENT_TYPE).toBe('text/plain');
    expect(e.CONTENT_LENGTH).toBe('5');
    expect(e.HTTP_CONTENT_TYPE).toBeUndefined();
    expect(e.HTTP_CONTENT_LENGTH).toBeUndefined();
  });

  it('without them, CONTENT_TYPE and CONTENT_LENGTH are empty strings', () => {
    const e = env();
    expect(e.CONTENT_TYPE).toBe('');
    expect(e.CONTENT_LENGTH).toBe('');
  });

  it('repeated fields join with ", " in order, empty values kept; cookies join with "; "', () => {
    const e = env({ headers: [['X-Multi', 'a'], ['x-multi', ''], ['X-MULTI', 'c'], ['Cookie', 'a=1'], ['cookie', 'b=2']] });
    expect(e.HTTP_X_MULTI).toBe('a, , c');
    expect(e.HTTP_COOKIE).toBe('a=1; b=2');
  });

  it('a repeated Content-Type joins too, even when the first is empty', () => {
    expect(env({ headers: [['Content-Type', ''], ['Content-Type', 'text/plain']] }).CONTENT_TYPE).toBe(', text/plain');
    expect(env({ headers: [['Content-Type', 'a'], ['Content-Type', 'b']] }).CONTENT_TYPE).toBe('a, b');
  });

  it('a name with "_" gets no key (it could forge the "-" field a proxy sets); tsgi.raw_headers keeps every field as sent', () => {
    const headers: [string, string][] = [['X_Auth', 'forged'], ['X-Auth', 'real'], ['x-auth', 'more']];
    const e = env({ headers });
    expect(e.HTTP_X_AUTH).toBe('real, more');
    expect(Object.keys(e).filter((k) => k.startsWith('HTTP_'))).toEqual(['HTTP_X_AUTH']);
    expect(Object.keys(e), 'no key at all for it').not.toContain('null');
    expect(e['tsgi.raw_headers']).toEqual(headers);
  });

  it('the keys remembered by field position follow the names of each request', () => {
    // Same positions, other names: nothing of the first request's keys may leak into the second.
    env({ headers: [['X-One', '1'], ['X-Two', '2']] });
    const e = env({ headers: [['X-Two', 'b'], ['X_One', 'a']] });
    expect(e.HTTP_X_TWO).toBe('b');
    expect(e.HTTP_X_ONE).toBeUndefined();
    const again = env({ headers: [['X-Two', 'c'], ['X_One', 'd']] });
    expect(again.HTTP_X_TWO).toBe('c');
    expect(again.HTTP_X_ONE).toBeUndefined();
  });

  it('long field names are keyed the same way (no name is too long for the caches)', () => {
    const name = 'X-' + 'Long-Name-'.repeat(10) + 'End';
    const e = env({ headers: [[name, 'v']] });
    expect(e['HTTP_' + name.toUpperCase().replaceAll('-', '_')]).toBe('v');
  });
});

describe('connection keys (spec §3.5)', () => {
  it.each([
    ['example.org', 'http', 'example.org', '80'],
    ['example.org', 'https', 'example.org', '443'],
    ['example.org:8080', 'http', 'example.org', '8080'],
    ['example.org:', 'http', 'example.org', '80'],
    ['[::1]:9000', 'http', '[::1]', '9000'],
    ['[::1]', 'https', '[::1]', '443'],
    ['[::1]:', 'http', '[::1]', '80'],
  ] as const)('Host %j over %s: SERVER_NAME %j, SERVER_PORT %j', (host, scheme, name, port) => {
    const e = env({ headers: [['Host', host]], conn: { scheme } });
    expect(e.SERVER_NAME).toBe(name);
    expect(e.SERVER_PORT).toBe(port);
    expect(e['tsgi.url_scheme']).toBe(scheme);
  });

  it('the same Host over another scheme is worked out again', () => {
    expect(env({ headers: [['Host', 'same.example']], conn: { scheme: 'http' } }).SERVER_PORT).toBe('80');
    expect(env({ headers: [['Host', 'same.example']], conn: { scheme: 'https' } }).SERVER_PORT).toBe('443');
  });

  it('no Host, or an empty one: the socket address', () => {
    for (const headers of [[], [['Host', '']]] as [string, string][][]) {
      const e = env({ headers, minor: 0 });
      expect(e.SERVER_NAME).toBe('10.0.0.2');
      expect(e.SERVER_PORT).toBe('8000');
    }
  });

  it('REMOTE_ADDR and REMOTE_PORT are the peer', () => {
    const e = env();
    expect(e.REMOTE_ADDR).toBe('10.0.0.9');
    expect(e.REMOTE_PORT).toBe('51000');
  });
});

describe('tsgi.* keys (spec §3.6)', () => {
  it('the fixed keys', () => {
    const e = env({ multiprocess: true });
    expect(e['tsgi.version']).toEqual([1, 1]);
    expect(Object.isFrozen(e['tsgi.version'])).toBe(true);
    expect(e['tsgi.multithread']).toBe(false);
    expect(e['tsgi.multiprocess']).toBe(true);
    expect(env({ multiprocess: false })['tsgi.multiprocess']).toBe(false);
    expect(e['tsgi.run_once']).toBe(false);
    expect(e['tsgi.input_terminated']).toBe(true);
    expect(e['tsgi.input']).toBe(EMPTY_INPUT);
    expect(e['tsgi.errors']).toBe(errors);
    expect(e.SERVER_SOFTWARE).toBe(SERVER_SOFTWARE);
  });

  it('tsgi.signal is made only when read, is own and enumerable, and may be replaced', () => {
    const h = handle();
    const e = build({}, h)!;
    expect(h.signals).toBe(0);
    const descriptor = Object.getOwnPropertyDescriptor(e, 'tsgi.signal')!;
    expect(descriptor.enumerable).toBe(true);
    expect(e['tsgi.signal']).toBeInstanceOf(AbortSignal);
    expect(h.signals).toBe(1);
    expect({ ...e }['tsgi.signal'], 'a copy of the environ carries the signal').toBeInstanceOf(AbortSignal);
    const replaced = new AbortController().signal;
    e['tsgi.signal'] = replaced;
    expect(e['tsgi.signal']).toBe(replaced);
    expect(Object.getOwnPropertyDescriptor(e, 'tsgi.signal')!.enumerable).toBe(true);
    // Still an ordinary key: it may be replaced again, and deleted.
    const again = new AbortController().signal;
    e['tsgi.signal'] = again;
    expect(e['tsgi.signal']).toBe(again);
    expect(delete e['tsgi.signal']).toBe(true);
    expect('tsgi.signal' in e).toBe(false);
  });

  it('tsgi.early_hints goes to the request handle', () => {
    const h = handle();
    const e = build({}, h)!;
    const fields: Header[] = [['Link', '</a.css>; rel=preload']];
    e['tsgi.early_hints'](fields);
    expect(h.hints).toEqual([fields]);
  });
});
