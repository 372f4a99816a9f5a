/**
 * What the app sees behind trusted proxies: X-Forwarded-For (right-most untrusted hop), the secure
 * scheme headers (Gunicorn's rules, conflicts refused), X-Forwarded-Host/-Port and RFC 7239
 * Forwarded; and that nothing from an untrusted peer is believed.
 */
import { describe, expect, test } from 'vitest';
import { Forwarding, emptyView, type ForwardedView, type ForwardingSettings, type Peer } from '../../src/gateway/forwarded.js';
import { HttpParseError } from '../../src/errors.js';

const GUNICORN_SCHEME_HEADERS = { 'X-FORWARDED-PROTOCOL': 'ssl', 'X-FORWARDED-PROTO': 'https', 'X-FORWARDED-SSL': 'on' };
const DEFAULTS: ForwardingSettings = { forwardedAllowIps: ['127.0.0.1', '::1'], secureSchemeHeaders: GUNICORN_SCHEME_HEADERS };

const LOOPBACK: Peer = { address: '127.0.0.1', port: '51000', scheme: 'http' };

/** Runs one request's headers (pairs) from `peer` through `settings`. */
function view(headers: [string, string][], peer: Peer = LOOPBACK, settings: ForwardingSettings = DEFAULTS): ForwardedView {
  const forwarding = new Forwarding(settings);
  const out = emptyView();
  const error = forwarding.apply(peer, forwarding.trusts(peer.address), headers.flat(), out);
  if (error !== null) throw error;
  return out;
}

function refusal(headers: [string, string][], peer: Peer = LOOPBACK, settings: ForwardingSettings = DEFAULTS): HttpParseError {
  const forwarding = new Forwarding(settings);
  const error = forwarding.apply(peer, forwarding.trusts(peer.address), headers.flat(), emptyView());
  expect(error, JSON.stringify(headers)).toBeInstanceOf(HttpParseError);
  expect(error!.status).toBe(400);
  expect(error!.message).not.toContain('\n');
  return error!;
}

const client = (headers: [string, string][], peer?: Peer, settings?: ForwardingSettings): [string, string] => {
  const v = view(headers, peer, settings);
  return [v.remoteAddr, v.remotePort];
};

describe('trust', () => {
  test("Gunicorn's default trusts loopback only; a unix socket is always trusted", () => {
    const forwarding = new Forwarding(DEFAULTS);
    expect(['127.0.0.1', '::1', '::ffff:127.0.0.1', ''].map((a) => forwarding.trusts(a))).toEqual([true, true, true, true]);
    expect(['127.0.0.2', '10.0.0.1', '::2', '2001:db8::1'].map((a) => forwarding.trusts(a))).toEqual([false, false, false, false]);
  });

  test('from an untrusted peer every forwarding header is a plain header, even conflicting or malformed ones', () => {
    const peer: Peer = { address: '203.0.113.9', port: '40000', scheme: 'http' };
    const headers: [string, string][] = [
      ['X-Forwarded-For', '1.2.3.4'],
      ['X-Forwarded-Proto', 'https'],
      ['X-Forwarded-Ssl', 'off'],
      ['X-Forwarded-Host', 'not a host'],
      ['X-Forwarded-Port', 'x'],
      ['Forwarded', 'for=5.6.7.8;for=9.9.9.9'],
    ];
    expect(view(headers, peer)).toEqual({ remoteAddr: '203.0.113.9', remotePort: '40000', scheme: 'http', host: null, serverName: null, serverPort: null });
  });

  test('an IPv4-mapped peer is shown as IPv4 and matched as IPv4', () => {
    expect(client([], { address: '::ffff:127.0.0.1', port: '1', scheme: 'http' })).toEqual(['127.0.0.1', '1']);
    expect(client([['X-Forwarded-For', '198.51.100.1']], { address: '::ffff:127.0.0.1', port: '1', scheme: 'http' })).toEqual(['198.51.100.1', '']);
  });

  test('CIDR networks and * in --forwarded-allow-ips', () => {
    const settings = { ...DEFAULTS, forwardedAllowIps: ['10.0.0.0/8', 'fd00::/8'] };
    expect(client([['X-Forwarded-For', '198.51.100.1']], { address: '10.200.0.9', port: '1', scheme: 'http' }, settings)[0]).toBe('198.51.100.1');
    expect(client([['X-Forwarded-For', '198.51.100.1']], { address: 'fd00::9', port: '1', scheme: 'http' }, settings)[0]).toBe('198.51.100.1');
    expect(client([['X-Forwarded-For', '198.51.100.1']], { address: '11.0.0.1', port: '1', scheme: 'http' }, settings)[0]).toBe('11.0.0.1');
    const all = { ...DEFAULTS, forwardedAllowIps: ['*'] };
    expect(client([['X-Forwarded-For', '198.51.100.1']], { address: '203.0.113.5', port: '1', scheme: 'http' }, all)[0]).toBe('198.51.100.1');
  });

  test('a bad --forwarded-allow-ips entry is refused when compiled', () => {
    expect(() => new Forwarding({ ...DEFAULTS, forwardedAllowIps: ['10.0.0.1/8'] })).toThrow(expect.objectContaining({ code: 'TSGI_ERR_CONFIG' }));
  });
});

describe('X-Forwarded-For', () => {
  const proxies = { ...DEFAULTS, forwardedAllowIps: ['10.0.0.0/8', '127.0.0.1'] };
  const edge: Peer = { address: '10.0.0.2', port: '3000', scheme: 'http' };

  test('one hop: the client is the hop; its port is unknown', () => {
    expect(client([['X-Forwarded-For', '203.0.113.7']])).toEqual(['203.0.113.7', '']);
  });

  test('the right-most hop that is not a trusted proxy is the client; what the client wrote to its left is ignored', () => {
    expect(client([['X-Forwarded-For', '6.6.6.6, 198.51.100.25, 10.0.0.1']], edge, proxies)).toEqual(['198.51.100.25', '']);
    expect(client([['X-Forwarded-For', '198.51.100.25,10.0.0.7,10.0.0.1']], edge, proxies)[0]).toBe('198.51.100.25');
  });

  test('every hop trusted: the left-most one (uvicorn does the same); with *, that is always the left-most', () => {
    expect(client([['X-Forwarded-For', '10.0.0.5, 10.0.0.1']], edge, proxies)[0]).toBe('10.0.0.5');
    const all = { ...DEFAULTS, forwardedAllowIps: ['*'] };
    expect(client([['X-Forwarded-For', '1.1.1.1, 2.2.2.2']], edge, all)[0]).toBe('1.1.1.1');
  });

  test('a hop that is not an address stops the walk at the trusted hop to its right', () => {
    expect(client([['X-Forwarded-For', '203.0.113.7, unknown, 10.0.0.1']], edge, proxies)[0]).toBe('10.0.0.1');
    expect(client([['X-Forwarded-For', 'unknown']], edge, proxies)).toEqual(['10.0.0.2', '3000']);
    for (const junk of ['garbage', '1.2.3', '01.2.3.4', '1.2.3.4:99999', '[::1', '[::1]x', '1.2.3.4:port', '_hidden', '"1.2.3.4"']) {
      expect(client([['X-Forwarded-For', `203.0.113.7, ${junk}`]], edge, proxies)[0], junk).toBe('10.0.0.2');
    }
  });

  test('several field lines are one list, in order; empty elements are ignored', () => {
    const headers: [string, string][] = [
      ['X-Forwarded-For', '203.0.113.7'],
      ['Accept', '*/*'],
      ['x-forwarded-for', '10.0.0.9'],
    ];
    expect(client(headers, edge, proxies)[0]).toBe('203.0.113.7');
    expect(client([['X-Forwarded-For', ' , 203.0.113.8 ,, ']], edge, proxies)[0]).toBe('203.0.113.8');
    expect(client([['X-Forwarded-For', '']])).toEqual(['127.0.0.1', '51000']);
  });

  test('hops with ports, IPv6 with and without brackets, IPv4-mapped hops', () => {
    expect(client([['X-Forwarded-For', '203.0.113.7:4711']])).toEqual(['203.0.113.7', '4711']);
    expect(client([['X-Forwarded-For', '[2001:DB8::1]:443']])).toEqual(['2001:db8::1', '443']);
    expect(client([['X-Forwarded-For', '[2001:db8::1]']])).toEqual(['2001:db8::1', '']);
    expect(client([['X-Forwarded-For', '2001:db8:0:0::1']])).toEqual(['2001:db8::1', '']);
    expect(client([['X-Forwarded-For', '::ffff:198.51.100.3']])).toEqual(['198.51.100.3', '']);
  });

  test('a name spelt with "_" is not X-Forwarded-For', () => {
    expect(client([['X_Forwarded_For', '203.0.113.7']])[0]).toBe('127.0.0.1');
  });

  test('from a unix socket peer (trusted), the hop is the client', () => {
    const unix: Peer = { address: '', port: '', scheme: 'http' };
    expect(client([], unix)).toEqual(['', '']);
    expect(client([['X-Forwarded-For', '203.0.113.7']], unix)).toEqual(['203.0.113.7', '']);
  });
});

describe('scheme (Gunicorn secure_scheme_headers)', () => {
  const scheme = (headers: [string, string][], peer?: Peer, settings?: ForwardingSettings): string => view(headers, peer, settings).scheme;

  test("each of Gunicorn's default headers means https only with its exact value", () => {
    expect(scheme([['X-Forwarded-Proto', 'https']])).toBe('https');
    expect(scheme([['X-Forwarded-Ssl', 'on']])).toBe('https');
    expect(scheme([['X-Forwarded-Protocol', 'ssl']])).toBe('https');
    expect(scheme([['x-forwarded-proto', 'https']])).toBe('https');
    // Gunicorn compares values case-sensitively.
    expect(scheme([['X-Forwarded-Proto', 'HTTPS']])).toBe('http');
    expect(scheme([['X-Forwarded-Proto', 'http']])).toBe('http');
    expect(scheme([])).toBe('http');
  });

  test('a scheme header can also say http on a TLS connection', () => {
    const tls: Peer = { ...LOOPBACK, scheme: 'https' };
    expect(scheme([], tls)).toBe('https');
    expect(scheme([['X-Forwarded-Proto', 'http']], tls)).toBe('http');
  });

  test('scheme headers that disagree are refused (Gunicorn InvalidSchemeHeaders), ones that agree are not', () => {
    expect(refusal([['X-Forwarded-Proto', 'https'], ['X-Forwarded-Ssl', 'off']]).code).toBe('TSGI_ERR_FORWARDED_CONFLICT');
    expect(refusal([['X-Forwarded-Proto', 'https'], ['X-Forwarded-Proto', 'http']]).code).toBe('TSGI_ERR_FORWARDED_CONFLICT');
    expect(refusal([['X-Forwarded-Protocol', 'ssl'], ['X-Forwarded-Proto', 'http']]).code).toBe('TSGI_ERR_FORWARDED_CONFLICT');
    expect(scheme([['X-Forwarded-Proto', 'https'], ['X-Forwarded-Ssl', 'on']])).toBe('https');
    expect(scheme([['X-Forwarded-Proto', 'http'], ['X-Forwarded-Ssl', 'off']])).toBe('http');
  });

  test('only the configured headers count', () => {
    const custom = { ...DEFAULTS, secureSchemeHeaders: { 'X-Scheme': 'https' } };
    expect(scheme([['X-Scheme', 'https']], LOOPBACK, custom)).toBe('https');
    expect(scheme([['X-Forwarded-Proto', 'https']], LOOPBACK, custom)).toBe('http');
    const none = { ...DEFAULTS, secureSchemeHeaders: {} };
    expect(scheme([['X-Forwarded-Proto', 'https']], LOOPBACK, none)).toBe('http');
  });
});

describe('X-Forwarded-Host and X-Forwarded-Port', () => {
  test('the host the client asked for, and the port that follows from it', () => {
    expect(view([['Host', 'app.internal:8000'], ['X-Forwarded-Host', 'www.example.com']])).toMatchObject({
      host: 'www.example.com',
      serverName: 'www.example.com',
      serverPort: '80',
    });
    expect(view([['X-Forwarded-Host', 'www.example.com'], ['X-Forwarded-Proto', 'https']])).toMatchObject({ serverPort: '443', scheme: 'https' });
    expect(view([['X-Forwarded-Host', 'www.example.com:8443']])).toMatchObject({ host: 'www.example.com:8443', serverName: 'www.example.com', serverPort: '8443' });
    expect(view([['X-Forwarded-Host', '[2001:db8::1]:8080']])).toMatchObject({ serverName: '[2001:db8::1]', serverPort: '8080' });
  });

  test('the right-most value of a list, as the nearest proxy set it', () => {
    expect(view([['X-Forwarded-Host', 'client-says.example, proxy-says.example']]).host).toBe('proxy-says.example');
    expect(view([['X-Forwarded-Port', '1, 443']]).serverPort).toBe('443');
  });

  test('X-Forwarded-Port replaces the port of the forwarded host, or of Host', () => {
    expect(view([['X-Forwarded-Host', 'a.example:80'], ['X-Forwarded-Port', '443']])).toMatchObject({ host: 'a.example:443', serverName: 'a.example', serverPort: '443' });
    expect(view([['Host', 'app.internal:8000'], ['X-Forwarded-Port', '443']])).toMatchObject({ host: 'app.internal:443', serverName: null, serverPort: '443' });
    expect(view([['X-Forwarded-Port', '443']])).toMatchObject({ host: null, serverPort: '443' });
  });

  test('malformed values from a trusted proxy are refused', () => {
    for (const bad of ['not a host', 'user@host', 'a/b', '']) expect(refusal([['X-Forwarded-Host', bad]]).code, bad).toBe('TSGI_ERR_FORWARDED');
    for (const bad of ['https', '70000', '-1', '']) expect(refusal([['X-Forwarded-Port', bad]]).code, bad).toBe('TSGI_ERR_FORWARDED');
  });
});

describe('Forwarded (RFC 7239)', () => {
  test("the RFC's examples", () => {
    // RFC 7239 §4 and §7.4.
    expect(view([['Forwarded', 'for="_gazonk"']])).toMatchObject({ remoteAddr: '127.0.0.1' });
    expect(client([['Forwarded', 'For="[2001:db8:cafe::17]:4711"']])).toEqual(['2001:db8:cafe::17', '4711']);
    expect(view([['Forwarded', 'for=192.0.2.60;proto=http;by=203.0.113.43']])).toMatchObject({ remoteAddr: '192.0.2.60', scheme: 'http' });
    expect(client([['Forwarded', 'for=192.0.2.43, for=198.51.100.17']])[0]).toBe('198.51.100.17');
    expect(client([['Forwarded', 'for=192.0.2.43,for="[2001:db8:cafe::17]",for=unknown']])).toEqual(['127.0.0.1', '51000']);
  });

  test('proto= and host= come from the element that names the client', () => {
    const proxies = { ...DEFAULTS, forwardedAllowIps: ['127.0.0.1', '10.0.0.0/8'] };
    const v = view([['Forwarded', 'for=198.51.100.7;proto=https;host=www.example.com, for=10.0.0.3;proto=http;host=app.internal']], LOOPBACK, proxies);
    expect(v).toMatchObject({ remoteAddr: '198.51.100.7', scheme: 'https', host: 'www.example.com', serverName: 'www.example.com', serverPort: '443' });
  });

  test('quoted values, ports, obfuscated ports and whitespace around separators', () => {
    expect(client([['Forwarded', 'for="192.0.2.1:8080"']])).toEqual(['192.0.2.1', '8080']);
    expect(client([['Forwarded', 'for="192.0.2.1:_p1"']])).toEqual(['192.0.2.1', '']);
    expect(view([['Forwarded', 'for=192.0.2.1; proto=https ;host="a.example:8443"']])).toMatchObject({ scheme: 'https', serverPort: '8443' });
    expect(view([['Forwarded', 'proto=https']])).toMatchObject({ remoteAddr: '127.0.0.1', scheme: 'https' });
  });

  test('malformed Forwarded from a trusted proxy is refused', () => {
    for (const bad of ['for=1.2.3.4;for=5.6.7.8', 'for="unterminated', 'garbage', 'for=1.2.3.4 proto=https', 'for=[::1]', '=x', 'for=', ',', 'for="a\\"]']) {
      expect(refusal([['Forwarded', bad]]).code, bad).toBe('TSGI_ERR_FORWARDED');
    }
  });

  test('Forwarded and X-Forwarded-* must agree: on the client, the scheme and the host', () => {
    expect(client([['Forwarded', 'for=198.51.100.9'], ['X-Forwarded-For', '198.51.100.9']])[0]).toBe('198.51.100.9');
    expect(client([['Forwarded', 'for="198.51.100.9:99"'], ['X-Forwarded-For', '198.51.100.9']])).toEqual(['198.51.100.9', '99']);
    // A client's own Forwarded passed on by a proxy that only appends X-Forwarded-For.
    expect(refusal([['Forwarded', 'for=6.6.6.6'], ['X-Forwarded-For', '198.51.100.9']]).code).toBe('TSGI_ERR_FORWARDED_CONFLICT');
    expect(refusal([['Forwarded', 'for=198.51.100.9;proto=https'], ['X-Forwarded-Proto', 'http']]).code).toBe('TSGI_ERR_FORWARDED_CONFLICT');
    expect(refusal([['Forwarded', 'host=a.example'], ['X-Forwarded-Host', 'b.example']]).code).toBe('TSGI_ERR_FORWARDED_CONFLICT');
    expect(view([['Forwarded', 'proto=https;host=a.example'], ['X-Forwarded-Proto', 'https'], ['X-Forwarded-Host', 'a.example']])).toMatchObject({ scheme: 'https', host: 'a.example' });
  });
});

describe('the output object', () => {
  test('is filled in place and keeps nothing from the request before', () => {
    const forwarding = new Forwarding(DEFAULTS);
    const out = emptyView();
    expect(forwarding.apply(LOOPBACK, true, ['X-Forwarded-For', '203.0.113.7', 'X-Forwarded-Host', 'a.example'], out)).toBeNull();
    expect(out.host).toBe('a.example');
    expect(forwarding.apply(LOOPBACK, true, [], out)).toBeNull();
    expect(out).toEqual({ remoteAddr: '127.0.0.1', remotePort: '51000', scheme: 'http', host: null, serverName: null, serverPort: null });
  });
});

describe('edges found by mutation testing', () => {
  test('only Host is Host, only X-Forwarded-Port is the port, whatever follows them', () => {
    expect(view([['Host', 'app.internal:8000'], ['X-Forwarded-Port', '443'], ['Accept', '*/*']])).toMatchObject({ host: 'app.internal:443', serverPort: '443' });
    expect(view([['X-Forwarded-Port', '443'], ['X-Other', '80']])).toMatchObject({ serverPort: '443' });
  });

  test('several Forwarded lines are one list; a header after them is not part of it', () => {
    expect(client([['Forwarded', 'for=192.0.2.43'], ['forwarded', 'for=198.51.100.17'], ['X-Other', 'for=203.0.113.1']])[0]).toBe('198.51.100.17');
  });

  test('every hop trusted with one X-Forwarded-For line: the hop itself', () => {
    expect(client([['X-Forwarded-For', '127.0.0.1']])).toEqual(['127.0.0.1', '']);
  });

  test('proto=wss is https and proto=ws is http; an unknown proto leaves the scheme alone', () => {
    expect(view([['Forwarded', 'for=192.0.2.1;proto=wss']]).scheme).toBe('https');
    expect(view([['Forwarded', 'for=192.0.2.1;proto=ws']], { ...LOOPBACK, scheme: 'https' }).scheme).toBe('http');
    expect(view([['Forwarded', 'for=192.0.2.1;proto=http']], { ...LOOPBACK, scheme: 'https' }).scheme).toBe('http');
    expect(view([['Forwarded', 'for=192.0.2.1;proto=gopher']], { ...LOOPBACK, scheme: 'https' }).scheme).toBe('https');
    expect(view([['Forwarded', 'for=192.0.2.1;proto=gopher'], ['X-Forwarded-Proto', 'https']]).scheme).toBe('https');
  });

  test('Forwarded for= without a port and X-Forwarded-For with one: the port comes from X-Forwarded-For', () => {
    expect(client([['Forwarded', 'for=198.51.100.9'], ['X-Forwarded-For', '198.51.100.9:4711']])).toEqual(['198.51.100.9', '4711']);
  });

  test('hops that are not an address, however close to one', () => {
    const proxies = { ...DEFAULTS, forwardedAllowIps: ['127.0.0.1', '10.0.0.0/8'] };
    const edge: Peer = { address: '10.0.0.1', port: '1', scheme: 'http' };
    for (const hop of ['[2001:db8::1', '[2001:db8::1]x', '[2001:db8::1]:', '[2001:db8::1]:99999', '[2001:db8::1]:80:80', '198.51.100.1:', '198.51.100.1:x', '198.51.100.1:80:80']) {
      // The walk stops at the trusted hop to the right of what is not an address.
      expect(client([['X-Forwarded-For', `${hop}, 10.0.0.7`]], edge, proxies), hop).toEqual(['10.0.0.7', '']);
    }
    expect(client([['X-Forwarded-For', '[2001:db8::1]:8080, 10.0.0.7']], edge, proxies)).toEqual(['2001:db8::1', '8080']);
  });
});

describe('field names: any case, and only the names themselves', () => {
  // RFC 9110 §5.1: field names are case-insensitive. The usual spelling and the lowercase one are
  // matched at once; any other spelling must still be the same field.
  const proxies = { ...DEFAULTS, forwardedAllowIps: ['127.0.0.1'] };
  test('every field read, spelt in capitals, in lowercase and in mixed case', () => {
    for (const name of ['X-FORWARDED-FOR', 'x-forwarded-for', 'x-Forwarded-FOR']) {
      expect(client([[name, '203.0.113.7']], LOOPBACK, proxies), name).toEqual(['203.0.113.7', '']);
    }
    for (const name of ['FORWARDED', 'forwarded', 'fOrWaRdEd']) {
      expect(client([[name, 'for=203.0.113.7']], LOOPBACK, proxies), name).toEqual(['203.0.113.7', '']);
    }
    for (const name of ['X-FORWARDED-HOST', 'x-forwarded-host', 'X-forwarded-Host']) {
      expect(view([[name, 'www.example.com']]).host, name).toBe('www.example.com');
    }
    for (const name of ['X-FORWARDED-PORT', 'x-forwarded-port', 'x-Forwarded-port']) {
      expect(view([[name, '8443']]).serverPort, name).toBe('8443');
    }
    for (const name of ['HOST', 'host', 'hOsT']) {
      expect(view([[name, 'app.internal:8000'], ['X-Forwarded-Port', '443']]).host, name).toBe('app.internal:443');
    }
    for (const name of ['X-FORWARDED-PROTO', 'X-forwarded-proto', 'x-forwarded-ssl', 'X-FORWARDED-SSL']) {
      const value = name.toLowerCase() === 'x-forwarded-ssl' ? 'on' : 'https';
      expect(view([[name, value]]).scheme, name).toBe('https');
    }
  });

  test('a configured scheme header with any letter, z included, matches in any case', () => {
    const settings = { ...DEFAULTS, secureSchemeHeaders: { 'X-Zscaler-Https': 'on' } };
    expect(view([['X-ZSCALER-HTTPS', 'on']], LOOPBACK, settings).scheme).toBe('https');
    expect(view([['x-zscaler-https', 'on']], LOOPBACK, settings).scheme).toBe('https');
  });

  test('a name that differs in one character, the first or a symbol, is another field', () => {
    expect(client([['Y-FORWARDED-FOR', '203.0.113.7']])[0]).toBe('127.0.0.1');
    // "^" is "~" less 0x20, as "A" is "a" less 0x20: only letters have a case.
    const settings = { ...DEFAULTS, secureSchemeHeaders: { 'X-Https~': 'on' } };
    expect(view([['X-Https^', 'on']], LOOPBACK, settings).scheme).toBe('http');
    expect(view([['X-HTTPS~', 'on']], LOOPBACK, settings).scheme).toBe('https');
  });

  test('other fields of the same lengths are not read as forwarding fields', () => {
    // 4 characters, like Host.
    expect(view([['Host', 'app.internal:8000'], ['From', 'ops@example.com'], ['X-Forwarded-Port', '443']]).host).toBe('app.internal:443');
    // 9, like Forwarded: X-Real-IP is no forwarded-element list.
    expect(client([['X-Real-IP', '203.0.113.7']])).toEqual(['127.0.0.1', '51000']);
    // 16, like X-Forwarded-Host and X-Forwarded-Port.
    expect(view([['X-Forwarded-Port', '443'], ['Content-Encoding', 'gzip']]).serverPort).toBe('443');
    // 15, like X-Forwarded-Ssl (a secure scheme header), on a TLS connection.
    const tls: Peer = { ...LOOPBACK, scheme: 'https' };
    expect(view([['Accept-Language', 'en-US']], tls).scheme).toBe('https');
  });

  test('Host alone, without X-Forwarded-Port, leaves the request its own Host', () => {
    expect(view([['Host', 'app.internal:8000']])).toMatchObject({ host: null, serverName: null, serverPort: null });
    // An empty Host (RFC 9110 §7.2: a target with no authority) gets no port either.
    expect(view([['Host', ''], ['X-Forwarded-Port', '443']])).toMatchObject({ host: null, serverPort: '443' });
  });
});

describe('secure scheme headers named like the fields tsgi reads', () => {
  // Gunicorn lets any field be a secure scheme header; the field then still does its own job too.
  test('X-Forwarded-Port: 443 can mean https and still be the port', () => {
    const settings = { ...DEFAULTS, secureSchemeHeaders: { 'X-Forwarded-Port': '443' } };
    expect(view([['X-Forwarded-Port', '443']], LOOPBACK, settings)).toMatchObject({ scheme: 'https', serverPort: '443' });
    expect(view([['X-Forwarded-Port', '8080']], LOOPBACK, settings)).toMatchObject({ scheme: 'http', serverPort: '8080' });
  });

  test('each of Host, Forwarded, X-Forwarded-For and X-Forwarded-Host', () => {
    const as = (name: string, value: string) => ({ ...DEFAULTS, secureSchemeHeaders: { [name]: value } });
    expect(view([['Host', 'secure.example']], LOOPBACK, as('Host', 'secure.example')).scheme).toBe('https');
    expect(view([['Forwarded', 'for=203.0.113.7']], LOOPBACK, as('Forwarded', 'for=203.0.113.7'))).toMatchObject({ scheme: 'https', remoteAddr: '203.0.113.7' });
    expect(view([['X-Forwarded-For', '203.0.113.7']], LOOPBACK, as('X-Forwarded-For', '203.0.113.7'))).toMatchObject({ scheme: 'https', remoteAddr: '203.0.113.7' });
    expect(view([['X-Forwarded-Host', 'secure.example']], LOOPBACK, as('X-Forwarded-Host', 'secure.example'))).toMatchObject({ scheme: 'https', host: 'secure.example', serverPort: '443' });
  });

  test('alongside an ordinary scheme header', () => {
    const settings = { ...DEFAULTS, secureSchemeHeaders: { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Port': '443' } };
    expect(view([['X-Forwarded-Port', '443']], LOOPBACK, settings).scheme).toBe('https');
    expect(refusal([['X-Forwarded-Proto', 'https'], ['X-Forwarded-Port', '80']], LOOPBACK, settings).code).toBe('TSGI_ERR_FORWARDED_CONFLICT');
  });
});

describe('X-Forwarded-For hop forms', () => {
  const proxies = { ...DEFAULTS, forwardedAllowIps: ['127.0.0.1', '10.0.0.0/8'] };
  const edge: Peer = { address: '10.0.0.1', port: '1', scheme: 'http' };

  test('a bracketed IPv4-mapped hop is shown as IPv4', () => {
    expect(client([['X-Forwarded-For', '[::ffff:198.51.100.3]:80']])).toEqual(['198.51.100.3', '80']);
    expect(client([['X-Forwarded-For', '[::ffff:198.51.100.3]']])).toEqual(['198.51.100.3', '']);
  });

  test('after "]" only ":" and a port may follow', () => {
    expect(client([['X-Forwarded-For', '[2001:db8::1]x80, 10.0.0.7']], edge, proxies)).toEqual(['10.0.0.7', '']);
  });
});

describe('Forwarded (RFC 7239) grammar', () => {
  test('several lines are one list in order: an earlier line names the client', () => {
    expect(client([['Forwarded', 'for=198.51.100.17'], ['Forwarded', 'for=127.0.0.1']])).toEqual(['198.51.100.17', '']);
    expect(client([['Forwarded', 'for=198.51.100.17, for=127.0.0.1']])).toEqual(['198.51.100.17', '']);
  });

  test('empty list elements and empty pairs are ignored (RFC 9110 §5.6.1; RFC 7239 §4)', () => {
    for (const value of ['for=198.51.100.17,', ', for=198.51.100.17', 'for=192.0.2.43, , for=198.51.100.17', 'for=192.0.2.43,,for=198.51.100.17']) {
      expect(client([['Forwarded', value]]), value).toEqual(['198.51.100.17', '']);
    }
    for (const value of ['for=198.51.100.17;;proto=https', ';for=198.51.100.17;proto=https', 'for=198.51.100.17;proto=https;']) {
      expect(view([['Forwarded', value]]), value).toMatchObject({ remoteAddr: '198.51.100.17', scheme: 'https' });
    }
  });

  test('an element with no for= stops the walk, and its proto= and host= are the ones used', () => {
    expect(view([['Forwarded', 'proto=https;host=a.example, for=127.0.0.1']])).toMatchObject({ remoteAddr: '127.0.0.1', scheme: 'https', host: 'a.example' });
    expect(view([['Forwarded', 'for=198.51.100.17, proto=https']])).toMatchObject({ remoteAddr: '127.0.0.1', remotePort: '51000', scheme: 'https', host: null });
  });

  test('a quoted-pair stands for the character after the backslash (RFC 9110 §5.6.4)', () => {
    expect(client([['Forwarded', 'for="192.0.2.\\1"']])).toEqual(['192.0.2.1', '']);
  });

  test('by= and extension parameters are read past; by= at most once; only host= is the host', () => {
    expect(view([['Forwarded', 'for=192.0.2.60;by=203.0.113.43;host=a.example']])).toMatchObject({ remoteAddr: '192.0.2.60', host: 'a.example' });
    expect(view([['Forwarded', 'for=192.0.2.60;host=a.example;by=b.example']])).toMatchObject({ host: 'a.example' });
    expect(view([['Forwarded', 'for=192.0.2.60;by=203.0.113.43;ext=1']])).toMatchObject({ remoteAddr: '192.0.2.60', host: null });
    expect(view([['Forwarded', 'for=192.0.2.60;ext=1;host=a.example']])).toMatchObject({ host: 'a.example' });
    expect(refusal([['Forwarded', 'for=192.0.2.60;by=203.0.113.43;by=203.0.113.44']]).code).toBe('TSGI_ERR_FORWARDED');
  });

  test('a node-port is digits or an obfport, nothing else (RFC 7239 §6)', () => {
    for (const node of ['192.0.2.1:abc', '192.0.2.1:x80', '192.0.2.1:80x', '192.0.2.1:']) {
      expect(client([['Forwarded', `for="${node}"`]]), node).toEqual(['127.0.0.1', '51000']);
    }
    expect(client([['Forwarded', 'for="192.0.2.1:_abc.1-x"']])).toEqual(['192.0.2.1', '']);
  });
});

describe('forwarded host and port values', () => {
  test('host:port splits at the colon, whatever the name is', () => {
    expect(view([['X-Forwarded-Host', 'a:8080']])).toMatchObject({ serverName: 'a', serverPort: '8080', host: 'a:8080' });
    expect(view([['X-Forwarded-Host', '[2001:db8::]:8080']])).toMatchObject({ serverName: '[2001:db8::]', serverPort: '8080' });
    expect(view([['X-Forwarded-Host', '[2001:db8::]']])).toMatchObject({ serverName: '[2001:db8::]', serverPort: '80' });
  });

  test('an empty port after the colon (RFC 3986 §3.2.3) is the scheme default', () => {
    expect(view([['X-Forwarded-Host', 'a.example:']])).toMatchObject({ serverName: 'a.example', serverPort: '80' });
    expect(view([['X-Forwarded-Host', 'a.example:'], ['X-Forwarded-Proto', 'https']])).toMatchObject({ serverPort: '443' });
  });

  test('a port is 0 to 65535 in at most five digits, and nothing else', () => {
    expect(view([['X-Forwarded-Port', '65535']]).serverPort).toBe('65535');
    for (const bad of ['443x', '65536', '000443']) expect(refusal([['X-Forwarded-Port', bad]]).code, bad).toBe('TSGI_ERR_FORWARDED');
  });

  test('whitespace around the last member is not part of it', () => {
    // A caller need not have trimmed the field value.
    expect(view([['X-Forwarded-Port', '443 ']]).serverPort).toBe('443');
    expect(view([['X-Forwarded-Port', '1, 443\t']]).serverPort).toBe('443');
    expect(view([['X-Forwarded-Host', 'a.example , b.example ']]).host).toBe('b.example');
  });
});
