/** The parts of a request-target and PATH_INFO's decoding (spec §3.2, §3.3; RFC 3986 §3). */
import { describe, expect, test } from 'vitest';
import { decodePath, splitTarget } from '../../src/http/target.js';
import { RequestParser } from '../../src/http/parser.js';
import { HEAD } from '../../src/http/events.js';

describe('splitTarget', () => {
  const cases: [string, { authority: string | null; path: string; query: string; fragment: string | null }][] = [
    ['/', { authority: null, path: '/', query: '', fragment: null }],
    ['/a/b?q=1&r=2', { authority: null, path: '/a/b', query: 'q=1&r=2', fragment: null }],
    ['/a?b=1#frag', { authority: null, path: '/a', query: 'b=1', fragment: 'frag' }],
    ['/page#section', { authority: null, path: '/page', query: '', fragment: 'section' }],
    // RFC 3986 §3.5: "?" after the "#" belongs to the fragment.
    ['/a#b?c', { authority: null, path: '/a', query: '', fragment: 'b?c' }],
    ['/a?b?c#d#e', { authority: null, path: '/a', query: 'b?c', fragment: 'd#e' }],
    ['/a?', { authority: null, path: '/a', query: '', fragment: null }],
    ['/?#', { authority: null, path: '/', query: '', fragment: '' }],
    ['/caf\xc3\xa9?q="x"', { authority: null, path: '/caf\xc3\xa9', query: 'q="x"', fragment: null }],
    ['*', { authority: null, path: '*', query: '', fragment: null }],
    ['http://example.com:8080/x/y?z=1#top', { authority: 'example.com:8080', path: '/x/y', query: 'z=1', fragment: 'top' }],
    ['http://example.com', { authority: 'example.com', path: '/', query: '', fragment: null }],
    ['https://example.com?q', { authority: 'example.com', path: '/', query: 'q', fragment: null }],
    ['HTTP://example.com#f', { authority: 'example.com', path: '/', query: '', fragment: 'f' }],
    ['http://[::1]:80/p', { authority: '[::1]:80', path: '/p', query: '', fragment: null }],
  ];
  for (const [target, parts] of cases) {
    test(JSON.stringify(target), () => expect(splitTarget(target)).toEqual(parts));
  }

  test('fills in and returns the object it is given, leaving nothing from the last target', () => {
    const out = splitTarget('http://a/b?c#d');
    expect(splitTarget('/x', out)).toBe(out);
    expect(out).toEqual({ authority: null, path: '/x', query: '', fragment: null });
  });

  test('every target of the corpus splits into parts that rebuild it', async () => {
    const { VALID } = await import('../corpus/requests.js');
    let checked = 0;
    for (const c of VALID) {
      for (const { target } of c.requests!) {
        const parts = splitTarget(target);
        const prefix = parts.authority === null ? '' : target.slice(0, target.indexOf('://') + 3) + parts.authority;
        const rest = target.slice(prefix.length);
        // An absolute-form target with an empty path shows "/" as its path, which it did not send.
        const path = prefix !== '' && !rest.startsWith('/') ? '' : parts.path;
        const query = /^[^#]*\?/.test(rest) ? `?${parts.query}` : '';
        const fragment = parts.fragment === null ? '' : `#${parts.fragment}`;
        expect(prefix + path + query + fragment, target).toBe(target);
        expect(parts.path.includes('#') || parts.query.includes('#'), target).toBe(false);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(20);
  });
});

describe('decodePath (spec §3.2 steps 2 and 3)', () => {
  const cases: [string, string][] = [
    ['/plain/path', '/plain/path'],
    ['/caf%C3%A9', '/café'],
    ['/caf%c3%a9', '/café'],
    // Raw bytes: the target is latin1, one character per byte, so these are the bytes C3 A9.
    ['/caf\xc3\xa9', '/café'],
    ['/\xc3%A9', '/é'],
    ['/%F0%9F%98%80/\xf0\x9f\x98\x80', '/😀/😀'],
    ['/a%2Fb', '/a/b'],
    ['/a+b%20c', '/a+b c'],
    ['/%41%zz', '/A%zz'],
    ['/100%', '/100%'],
    ['/%4', '/%4'],
    // Half an escape is not one: it stands as it is, the escapes beside it decoded.
    ['/%4z%41', '/%4zA'],
    ['/%z4%41', '/%z4A'],
    ['/%4z\xc3\xa9', '/%4zé'],
    // Invalid UTF-8 becomes U+FFFD, one per maximal invalid subpart (WHATWG Encoding).
    ['/%FF', '/\ufffd'],
    ['/caf\xe9', '/caf\ufffd'],
    ['/%C0%AF', '/\ufffd\ufffd'],
    ['/%ED%A0%80', '/\ufffd\ufffd\ufffd'],
    ['/%E2%82', '/\ufffd'],
    ['/\xe2\x82\xac%E2%82', '/€\ufffd'],
    // Dot segments and repeated slashes stay (spec §3.2 step 4).
    ['/a/../b//c/./', '/a/../b//c/./'],
    ['/%EF%BB%BFx', '/\ufeffx'],
  ];
  for (const [path, decoded] of cases) {
    test(`${JSON.stringify(path)} → ${JSON.stringify(decoded)}`, () => expect(decodePath(path)).toBe(decoded));
  }

  test('matches TextDecoder on the bytes, for random paths of escapes and raw bytes', () => {
    let seed = 7;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let i = 0; i < 2000; i++) {
      const bytes: number[] = [0x2f];
      let path = '/';
      for (let n = Math.floor(random() * 12); n > 0; n--) {
        const byte = random() < 0.5 ? 0x80 + Math.floor(random() * 0x80) : 0x21 + Math.floor(random() * 0x5e);
        if (byte === 0x25) continue;
        bytes.push(byte);
        path += random() < 0.5 ? `%${byte.toString(16).padStart(2, '0').toUpperCase()}` : String.fromCharCode(byte);
      }
      expect(decodePath(path), JSON.stringify(path)).toBe(new TextDecoder().decode(Buffer.from(bytes)));
    }
  });

  test('a target with raw UTF-8 that the parser accepts decodes to the text that was sent', () => {
    const parser = new RequestParser();
    parser.feed(Buffer.concat([Buffer.from('GET /'), Buffer.from('naïve/日本', 'utf8'), Buffer.from(' HTTP/1.1\r\nHost: h\r\n\r\n')]));
    expect(parser.next()).toBe(HEAD);
    expect(decodePath(splitTarget(parser.head!.target).path)).toBe('/naïve/日本');
  });
});
