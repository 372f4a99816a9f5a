/** The ABNF helpers behind the parser, checked against examples from RFC 3986, 9110 and 9112. */
import { describe, expect, test } from 'vitest';
import {
  CHUNK_EXT,
  FIELD_LINE,
  FIELD_LINES,
  FIELD_LINES_AT,
  ORIGIN_FORM,
  ORIGIN_FORM_PLAIN,
  REQUEST_LINE,
  TOKEN,
  TRANSFER_CODING,
  WELL_FORMED_HEAD,
  isAbsoluteForm,
  isAuthorityForm,
  isHostValue,
  isIPv6,
} from '../../src/http/grammar.js';

describe('IPv6address (RFC 3986 §3.2.2)', () => {
  const valid = [
    '2001:db8:85a3:0:0:8a2e:370:7334',
    '2001:db8::1',
    '::',
    '::1',
    '1::',
    '1:2:3:4:5:6:7::',
    '::2:3:4:5:6:7:8',
    '::ffff:192.0.2.128',
    '1:2:3:4:5:6:192.0.2.1',
    'FE80::0202:B3FF:FE1E:8329',
  ];
  const invalid = [
    '',
    ':',
    ':::',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '12345::',
    'g::1',
    '::1.2.3',
    '::256.0.0.1',
    '::01.0.0.1',
    '1.2.3.4::',
    ':1::',
    '1:2:3:4:5:6:7:8::',
    // "::" stands for at least one zero group: seven groups around it make nine.
    '1:2:3:4:5:6:7::8',
    '1:2:3:4::5:6:7:8',
    // An IPv4 part only as the last 32 bits.
    '::1.2.3.4:1',
    '1:2:3:4:5:1.2.3.4:7',
  ];
  for (const text of valid) test(`accepts ${text}`, () => expect(isIPv6(text)).toBe(true));
  for (const text of invalid) test(`refuses "${text}"`, () => expect(isIPv6(text)).toBe(false));
});

describe('Host field value (RFC 9112 §3.2)', () => {
  test('accepts uri-host [ ":" port ]', () => {
    for (const value of ['', 'example.com', 'example.com:8080', 'EXAMPLE.com:', '192.0.2.1:80', '[::1]:443', '[v7.x:y]', 'a%2Db', 'under_score', "a!$&'()*+,;=b"]) {
      expect(isHostValue(value), value).toBe(true);
    }
  });
  test('refuses anything else', () => {
    for (const value of ['a b', 'a/b', 'user@host', 'host:80:80', 'host:8o', '[::1', '[1::2::3]', '[1:2:3]', '[1:2:3:4:5:6:7::8]', 'a%zz', 'a%4', 'h\xe9', '[]', 'a?b', 'a#b']) {
      expect(isHostValue(value), value).toBe(false);
    }
  });
});

describe('request-target forms (RFC 9112 §3.2)', () => {
  test('origin-form, widened to what clients send (fragment, visible ASCII, obs-text)', () => {
    for (const target of ['/', '/a/b', '/a?', '/?q', '/a?b=c&d=/e?f', '/%7Euser', "/!$&'()*+,;=:@-._~", '/a#b', '/a?b#c?d#e', '/#', '/a|b', '/a"b', '/\xe9', '//a\\b', '/<>{}^`[]']) {
      expect(ORIGIN_FORM.test(target), target).toBe(true);
    }
    for (const target of ['', 'a', '#a', '/a b', '/%', '/%g0', '/a#%g0', '/a#%4', '/a\x7f', '/a\x00', '/a\tb', '/\u0100']) {
      expect(ORIGIN_FORM.test(target), target).toBe(false);
    }
  });

  test('the plain origin-form is the origin-form without "%" and "#"', () => {
    for (let c = 0; c < 0x100; c++) {
      const target = `/a${String.fromCharCode(c)}`;
      expect(ORIGIN_FORM_PLAIN.test(target), target).toBe(c !== 0x25 && c !== 0x23 && ORIGIN_FORM.test(target));
    }
  });

  test('absolute-form, http and https only, no userinfo', () => {
    for (const target of ['http://example.com', 'https://example.com/', 'HTTP://a:80/b?c', 'http://[::1]:8080/x', 'http://a?q', 'http://a/#f', 'http://a#f', 'http://a/b|\xe9?"q"#`']) {
      expect(isAbsoluteForm(target), target).toBe(true);
    }
    for (const target of ['ftp://a/', 'http:/a', 'http://', 'http:///a', 'http://:80/', 'http://u@a/', 'http://a/b c', 'httpx://a/', 'http://#f', 'http://a\xe9/', 'http://a/%zz', 'http://a/#%z']) {
      expect(isAbsoluteForm(target), target).toBe(false);
    }
  });

  test('authority-form needs a host and a port', () => {
    for (const target of ['example.com:443', '[::1]:22', '10.0.0.1:0']) expect(isAuthorityForm(target), target).toBe(true);
    for (const target of ['example.com', 'example.com:', ':443', '[::1]', 'a@b:1', '/a:1']) {
      expect(isAuthorityForm(target), target).toBe(false);
    }
  });
});

describe('tokens and field lines (RFC 9110 §5.6.2, RFC 9112 §5)', () => {
  test('token', () => {
    expect(TOKEN.test("!#$%&'*+-.^_`|~09azAZ")).toBe(true);
    for (const text of ['', 'a b', 'a:b', 'a"b', 'a(b', 'a\x7f', 'a\xe9']) expect(TOKEN.test(text), text).toBe(false);
  });

  test('field lines', () => {
    expect(FIELD_LINES.test('A: b\r\nC:\r\nD:\t x \xff\r\n')).toBe(true);
    for (const text of ['A : b\r\n', ' A: b\r\n', 'A: b\n', 'A: b\rc\r\n', 'A: \x00\r\n', ': b\r\n', 'A b\r\n']) {
      expect(FIELD_LINES.test(text), JSON.stringify(text)).toBe(false);
    }
  });

  test('one field line (the slow path) and a run of them (the fast path) accept the same lines', () => {
    const lines = ['A: b', 'A:', 'a-b:c d', "!#$%&'*+-.^_`|~09azAZ: x", 'A: \xe9\xff\t', 'A : b', ' A: b', 'A b', ': b', 'A: \x00', 'A: \x7f', 'A\x80: b', 'A{: b'];
    for (const line of lines) {
      expect(FIELD_LINES.test(`${line}\r\n`), JSON.stringify(line)).toBe(FIELD_LINE.test(line));
      FIELD_LINES_AT.lastIndex = 0;
      expect(FIELD_LINES_AT.test(`${line}\r\n\r\n`) && FIELD_LINES_AT.lastIndex === line.length + 4, JSON.stringify(line)).toBe(FIELD_LINE.test(line));
    }
  });

  test('one request-line (the slow path) and a whole head (the fast path) accept the same lines', () => {
    const lines = ['GET / HTTP/1.1', 'M-SEARCH * HTTP/1.0', '-BLARGH /x HTTP/1.1', 'GET /\xe9#f HTTP/1.1', 'GET  / HTTP/1.1', 'GET / HTTP/1.2', 'GET / http/1.1', 'G(T / HTTP/1.1', 'GET /a b HTTP/1.1', 'GET / HTTP/1.1 ', 'GET\t/ HTTP/1.1', 'GET /\x7f HTTP/1.1'];
    for (const line of lines) {
      WELL_FORMED_HEAD.lastIndex = 0;
      expect(WELL_FORMED_HEAD.test(`${line}\r\nHost: h\r\n\r\n`), JSON.stringify(line)).toBe(REQUEST_LINE.test(line));
    }
  });

  test('a well-formed head stops at the first empty line', () => {
    WELL_FORMED_HEAD.lastIndex = 0;
    const head = 'GET /x HTTP/1.1\r\nHost: a\r\n\r\n';
    expect(WELL_FORMED_HEAD.test(head + 'POST / HTTP/1.1\r\n\r\n')).toBe(true);
    expect(WELL_FORMED_HEAD.lastIndex).toBe(head.length);
    for (const text of ['GET  /x HTTP/1.1\r\n\r\n', 'GET /x HTTP/1.2\r\n\r\n', 'GET /x HTTP/1.1\r\nA : b\r\n\r\n', 'GET /x HTTP/1.1\r\n']) {
      WELL_FORMED_HEAD.lastIndex = 0;
      expect(WELL_FORMED_HEAD.test(text), JSON.stringify(text)).toBe(false);
    }
  });
});

describe('chunk-ext (RFC 9112 §7.1.1) and transfer-coding (RFC 9110 §10.1.4)', () => {
  test('chunk-ext', () => {
    for (const ext of ['', ';a', ';a=b', ' ; a = b ;c', ';a="q \\" \\\\ x"', ';a="\xe9"']) expect(CHUNK_EXT.test(ext), ext).toBe(true);
    for (const ext of [' ', ';', ';=b', ';a=', ';a="b', ';a=b c', ';a=\x01', 'x', ';a="\r"']) {
      expect(CHUNK_EXT.test(ext), JSON.stringify(ext)).toBe(false);
    }
  });

  test('transfer-coding', () => {
    expect(TRANSFER_CODING.exec('gzip')?.slice(1)).toEqual(['gzip', '']);
    expect(TRANSFER_CODING.exec('foo ; a=1;b="x y"')?.slice(1)).toEqual(['foo', ' ; a=1;b="x y"']);
    for (const coding of ['', ' gzip', 'a b', 'gzip;', 'gzip;a', '"chunked"']) {
      expect(TRANSFER_CODING.test(coding), coding).toBe(false);
    }
  });
});
