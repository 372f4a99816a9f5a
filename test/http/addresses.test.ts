/** IP addresses as numbers and compiled trust lists (--forwarded-allow-ips, --proxy-allow-from). */
import net from 'node:net';
import { describe, expect, test } from 'vitest';
import {
  AddressList,
  IPV4,
  IPV6,
  NOT_AN_ADDRESS,
  addressEntryProblem,
  formatIPv6,
  parseAddress,
  unmapIPv4,
} from '../../src/http/addresses.js';
import { prng } from './harness.js';

const out = new Uint32Array(4);
const family = (text: string): number => parseAddress(text, 0, text.length, out);

describe('parseAddress', () => {
  test('IPv4 dotted quads, without leading zeros', () => {
    for (const text of ['0.0.0.0', '127.0.0.1', '255.255.255.255', '10.20.30.40', '192.0.2.1']) {
      expect(family(text), text).toBe(IPV4);
      expect(out[0]).toBe(text.split('.').reduce((value, octet) => value * 256 + Number(octet), 0));
    }
    for (const text of ['', '1', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1.2.3.04', '1..2.3', '1.2.3.', '.1.2.3', '1.2.3.4 ', 'a.b.c.d', '1.2.3.-4']) {
      expect(family(text), JSON.stringify(text)).toBe(NOT_AN_ADDRESS);
    }
  });

  test('IPv6 text forms (RFC 4291 §2.2), with an ignored zone', () => {
    const cases: [string, number[]][] = [
      ['::', [0, 0, 0, 0]],
      ['::1', [0, 0, 0, 1]],
      ['1::', [0x10000, 0, 0, 0]],
      ['2001:db8::ff00:42:8329', [0x20010db8, 0, 0xff00, 0x00428329]],
      ['2001:0DB8:0000:0000:0000:FF00:0042:8329', [0x20010db8, 0, 0xff00, 0x00428329]],
      ['fe80::1%eth0', [0xfe800000, 0, 0, 1]],
      ['1:2:3:4:5:6:7:8', [0x10002, 0x30004, 0x50006, 0x70008]],
      ['1:2:3:4:5:6:1.2.3.4', [0x10002, 0x30004, 0x50006, 0x01020304]],
      ['64:ff9b::192.0.2.33', [0x0064ff9b, 0, 0, 0xc0000221]],
    ];
    for (const [text, words] of cases) {
      expect(family(text), text).toBe(IPV6);
      expect([...out], text).toEqual(words);
    }
    for (const text of [':', ':::', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '12345::', 'g::1', '::1.2.3', '::256.0.0.1', '1.2.3.4::', ':1::', '1:', '1::2:', '[::1]', '::1 ']) {
      expect(family(text), JSON.stringify(text)).toBe(NOT_AN_ADDRESS);
    }
  });

  test('an IPv4-mapped IPv6 address is the IPv4 address it carries', () => {
    for (const text of ['::ffff:192.0.2.1', '::FFFF:192.0.2.1', '::ffff:c000:201', '0:0:0:0:0:ffff:192.0.2.1']) {
      expect(family(text), text).toBe(IPV4);
      expect(out[0], text).toBe(0xc0000201);
    }
    expect(unmapIPv4('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(unmapIPv4('::1')).toBe('::1');
    expect(unmapIPv4('10.0.0.1')).toBe('10.0.0.1');
  });

  test('parses a range of a longer string without looking outside it', () => {
    const text = 'x 10.0.0.1, [2001:db8::1]:443';
    expect(parseAddress(text, 2, 10, out)).toBe(IPV4);
    expect(parseAddress(text, 13, 24, out)).toBe(IPV6);
    expect(parseAddress(text, 2, 11, out)).toBe(NOT_AN_ADDRESS);
  });

  test('agrees with node:net on random IPv6-like text, and formats as RFC 5952 (as the WHATWG URL parser does)', () => {
    const random = prng(5952);
    const pieces = ['0', '1', 'ff', 'ffff', '0db8', '12345', ':', '::', '.', '1.2.3.4', 'g'];
    let valid = 0;
    for (let i = 0; i < 5000; i++) {
      let text = '';
      for (let n = 1 + Math.floor(random() * 9); n > 0; n--) text += pieces[Math.floor(random() * pieces.length)];
      const got = family(text);
      const isV6 = net.isIPv6(text);
      expect(got !== NOT_AN_ADDRESS, text).toBe(isV6 || net.isIPv4(text));
      if (got === IPV6) {
        valid++;
        expect(formatIPv6(out), text).toBe(new URL(`http://[${text}]/`).hostname.slice(1, -1));
      }
    }
    expect(valid).toBeGreaterThan(100);
  });
});

describe('AddressList', () => {
  test("Gunicorn's default, 127.0.0.1 and ::1, matches loopback only", () => {
    const list = AddressList.parse(['127.0.0.1', '::1']);
    for (const address of ['127.0.0.1', '::1', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1']) expect(list.has(address), address).toBe(true);
    for (const address of ['127.0.0.2', '::2', '10.0.0.1', '::', 'localhost', '', '127.0.0.1 ']) expect(list.has(address), address).toBe(false);
  });

  test('CIDR networks, IPv4 and IPv6', () => {
    const list = AddressList.parse(['10.0.0.0/8', '192.168.1.0/24', '172.16.0.0/12', '2001:db8::/32', 'fd00::/8', '100.64.0.1/32']);
    const inside = ['10.0.0.0', '10.255.255.255', '192.168.1.77', '172.31.255.255', '2001:db8::1', '2001:db8:ffff:ffff::', 'fd12:3456::1', '100.64.0.1', '::ffff:10.1.2.3'];
    const outside = ['11.0.0.0', '9.255.255.255', '192.168.2.1', '172.32.0.0', '2001:db9::', '2001:db7:ffff::1', 'fe00::1', '100.64.0.2', '::a01:203'];
    for (const address of inside) expect(list.has(address), address).toBe(true);
    for (const address of outside) expect(list.has(address), address).toBe(false);
  });

  test('prefix lengths at the edges', () => {
    expect(AddressList.parse(['0.0.0.0/0']).has('203.0.113.9')).toBe(true);
    expect(AddressList.parse(['0.0.0.0/0']).has('2001:db8::1')).toBe(false);
    expect(AddressList.parse(['::/0']).has('2001:db8::1')).toBe(true);
    expect(AddressList.parse(['::/0']).has('203.0.113.9')).toBe(false);
    const v4 = AddressList.parse(['198.51.100.6/31']);
    expect(['198.51.100.6', '198.51.100.7'].map((a) => v4.has(a))).toEqual([true, true]);
    expect(['198.51.100.5', '198.51.100.8'].map((a) => v4.has(a))).toEqual([false, false]);
    const v6 = AddressList.parse(['2001:db8::/127', '2001:db8:8000::/33', '2001:db8:2::/65']);
    const inside = ['2001:db8::', '2001:db8::1', '2001:db8:8000::', '2001:db8:ffff:ffff::', '2001:db8:2::1', '2001:db8:2:0:7fff::'];
    expect(inside.map((a) => v6.has(a))).toEqual(inside.map(() => true));
    const outside = ['2001:db8::2', '2001:db8:7fff::', '2001:db8:2:0:8000::'];
    expect(outside.map((a) => v6.has(a))).toEqual(outside.map(() => false));
  });

  test('an IPv4-mapped network is the IPv4 network', () => {
    const list = AddressList.parse(['::ffff:10.0.0.0/104', '::ffff:192.0.2.1']);
    expect(list.has('10.9.8.7')).toBe(true);
    expect(list.has('::ffff:10.9.8.7')).toBe(true);
    expect(list.has('192.0.2.1')).toBe(true);
    expect(list.has('11.0.0.0')).toBe(false);
  });

  test('* trusts every address, but text that is no address is still no address', () => {
    const list = AddressList.parse(['*']);
    expect(list.any).toBe(true);
    for (const address of ['1.2.3.4', '::1', '2001:db8::9']) expect(list.has(address)).toBe(true);
    expect(list.has('unknown')).toBe(false);
  });

  test('an empty list trusts no one', () => {
    const list = AddressList.parse([]);
    expect(list.has('127.0.0.1')).toBe(false);
  });

  test('bad entries are refused with a one-line message that says what to write', () => {
    const bad: [string, RegExp][] = [
      ['10.0.0.1/8', /host bits set/],
      ['2001:db8::1/32', /host bits set/],
      ['10.0.0.0/33', /prefix length.*\/0 to \/32/],
      ['10.0.0.0/08', /prefix length/],
      ['10.0.0.0/', /prefix length/],
      ['::/129', /\/0 to \/128/],
      ['::ffff:10.0.0.0/95', /at least \/96/],
      ['[::1]', /without brackets/],
      ['localhost', /not an IP address/],
      ['fe80::1%eth0', /not an IP address/],
      ['10.0.0.0/8/8', /prefix length/],
      ['', /empty entry/],
    ];
    for (const [entry, reason] of bad) {
      const problem = addressEntryProblem(entry);
      expect(problem, entry).toMatch(reason);
      expect(problem, entry).not.toContain('\n');
      expect(() => AddressList.parse([entry])).toThrow(expect.objectContaining({ code: 'TSGI_ERR_CONFIG', message: problem }));
    }
    for (const entry of ['*', '10.0.0.0/8', '::1', '::/0', '0.0.0.0/0', '192.0.2.1/32']) expect(addressEntryProblem(entry), entry).toBeNull();
  });
});

describe('edges found by mutation testing', () => {
  test('only ::ffff:0:0/96 is IPv4-mapped; other addresses that end in an IPv4 address are IPv6', () => {
    // RFC 4291 §2.5.5.2 (mapped) against §2.5.5.1 (the deprecated IPv4-compatible ::a.b.c.d) and others.
    const cases: [string, number[], string][] = [
      ['::1.2.3.4', [0, 0, 0, 0x01020304], '::102:304'],
      ['1::ffff:1.2.3.4', [0x10000, 0, 0xffff, 0x01020304], '1::ffff:102:304'],
      ['::1:0:ffff:1.2.3.4', [0, 1, 0xffff, 0x01020304], '::1:0:ffff:102:304'],
    ];
    for (const [text, words, formatted] of cases) {
      expect(family(text), text).toBe(IPV6);
      expect([...out], text).toEqual(words);
      expect(formatIPv6(Uint32Array.from(words)), text).toBe(formatted);
      expect(unmapIPv4(text), text).toBe(text);
    }
    expect(formatIPv6(Uint32Array.from([0, 0, 0xffff, 0x01020304]))).toBe('1.2.3.4');
  });

  test('RFC 5952 §4.2.2 and §4.2.3: one zero group is not shortened; of equal runs the first is', () => {
    expect(formatIPv6(Uint32Array.from([0x00010000, 0x00020003, 0x00040005, 0x00060007]))).toBe('1:0:2:3:4:5:6:7');
    expect(formatIPv6(Uint32Array.from([0x00010000, 0x00000002, 0x00030000, 0x00000004]))).toBe('1::2:3:0:0:4');
  });

  test('unmapIPv4 changes only ::ffff: followed by a dotted quad', () => {
    for (const text of ['::ffff:abcd', '::ffff:', '::1.2.3.4', '::ffff:1:2']) expect(unmapIPv4(text), text).toBe(text);
  });

  test('"::" stands for one or more zero groups: seven groups and "::" are an address, eight and "::" are not', () => {
    expect(family('1:2:3::4:5:6:7')).toBe(IPV6);
    expect([...out]).toEqual([0x10002, 0x30000, 0x40005, 0x60007]);
    expect(family('1:2:3:4::5:6:7:8')).toBe(NOT_AN_ADDRESS);
  });

  test('a range ending before a hex digit, a "." or a ":" is parsed as the range alone', () => {
    expect(parseAddress('::1abc', 0, 3, out)).toBe(IPV6);
    expect([...out]).toEqual([0, 0, 0, 1]);
    expect(parseAddress('::1.2', 0, 3, out)).toBe(IPV6);
    // "1:" then ":" outside the range: a single trailing colon, not "::".
    expect(parseAddress('1::', 0, 2, out)).toBe(NOT_AN_ADDRESS);
    // A zone marker after the range is not this address's zone.
    expect(parseAddress('::1 fe80::1%eth0', 0, 3, out)).toBe(IPV6);
  });

  test('entries are trimmed, as in "10.0.0.1, ::1"', () => {
    const list = AddressList.parse([' 10.0.0.1 ', '\t::1']);
    expect(['10.0.0.1', '::1'].map((a) => list.has(a))).toEqual([true, true]);
  });

  test('an IPv4 network after an IPv6 one is checked on its own word only', () => {
    const list = AddressList.parse(['2001:db8:1:2::/64', '10.0.0.0/8']);
    expect(['2001:db8:1:2::9', '10.1.2.3'].map((a) => list.has(a))).toEqual([true, true]);
  });

  test('IPv4-mapped networks: /96 is the whole IPv4 space; host bits are those of the IPv4 network', () => {
    expect(addressEntryProblem('::ffff:0.0.0.0/96')).toBeNull();
    expect(AddressList.parse(['::ffff:0.0.0.0/96']).has('203.0.113.9')).toBe(true);
    expect(addressEntryProblem('::ffff:10.0.0.1/104')).toMatch(/host bits set/);
  });

  test('hasParsed() of what is no address is false, even for * or ::/0', () => {
    const words = new Uint32Array(4);
    expect(AddressList.parse(['*']).hasParsed(NOT_AN_ADDRESS, words)).toBe(false);
    expect(AddressList.parse(['::/0', '0.0.0.0/0']).hasParsed(NOT_AN_ADDRESS, words)).toBe(false);
  });
});
