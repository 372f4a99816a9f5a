/**
 * The PROXY protocol parser against HAProxy's specification (proxy-protocol.txt): its examples,
 * every family and command, TLVs and CRC32C, every refusal; each whole, byte by byte and cut at
 * random points, with the first HTTP bytes following.
 */
import { describe, expect, test } from 'vitest';
import {
  PP2_TYPE_ALPN,
  PP2_TYPE_AUTHORITY,
  PP2_TYPE_CRC32C,
  PP2_TYPE_NOOP,
  PP2_TYPE_UNIQUE_ID,
  PROXY_CLOSED,
  PROXY_DONE,
  PROXY_ERROR,
  PROXY_NEED_DATA,
  ProxyHeaderParser,
  V1_MAX_LENGTH,
  V2_MAX_LENGTH,
  crc32c,
  startsWithProxyHeader,
  type ProxyHeader,
  type ProxyProtocolMode,
} from '../../src/http/proxy-protocol.js';
import { byteByByte, randomSplits, whole } from './harness.js';

const HTTP = Buffer.from('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n', 'latin1');

interface Outcome {
  event: number;
  header: ProxyHeader | null;
  /** The bytes after the header: `rest` plus everything fed after it. */
  after: string;
  message: string | null;
}

function run(mode: ProxyProtocolMode, pieces: Buffer[], end = false): Outcome {
  const parser = new ProxyHeaderParser(mode);
  let event: number = PROXY_NEED_DATA;
  let after = '';
  for (const piece of pieces) {
    if (event === PROXY_DONE) {
      after += piece.toString('latin1');
      continue;
    }
    event = parser.feed(piece);
    if (event === PROXY_DONE) after += parser.rest.toString('latin1');
    if (event === PROXY_ERROR) break;
  }
  if (end && event === PROXY_NEED_DATA) event = parser.feedEnd();
  return { event, header: parser.header, after, message: parser.error?.message ?? null };
}

const SPLITS: [string, (buf: Buffer) => Buffer[]][] = [
  ['whole', whole],
  ['byte by byte', byteByByte],
  ['random split (seed 3)', (buf) => randomSplits(buf, 3)],
  ['random split (seed 17)', (buf) => randomSplits(buf, 17)],
];

/** Parses `header` followed by HTTP bytes every way; expects the same header and `after` each time. */
function parsesAllWays(mode: ProxyProtocolMode, header: Buffer): ProxyHeader {
  let first: ProxyHeader | null = null;
  for (const following of [Buffer.alloc(0), HTTP]) {
    for (const [how, split] of SPLITS) {
      const outcome = run(mode, split(Buffer.concat([header, following])));
      expect(outcome.message, how).toBeNull();
      expect(outcome.event, how).toBe(PROXY_DONE);
      expect(outcome.after, how).toBe(following.toString('latin1'));
      first ??= outcome.header;
      expect(outcome.header, how).toEqual(first);
    }
  }
  return first!;
}

/** Refused every way, without waiting for more bytes, with the same message. */
function refusedAllWays(mode: ProxyProtocolMode, bytes: Buffer): string {
  let message: string | null = null;
  for (const [how, split] of SPLITS) {
    const outcome = run(mode, split(Buffer.concat([bytes, HTTP])));
    expect(outcome.event, how).toBe(PROXY_ERROR);
    expect(outcome.message, how).not.toContain('\n');
    message ??= outcome.message;
    expect(outcome.message, how).toBe(message);
  }
  return message!;
}

const v1 = (line: string): Buffer => Buffer.from(line, 'latin1');

describe('version 1 (text)', () => {
  test("the specification's examples", () => {
    expect(parsesAllWays('v1', v1('PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n'))).toEqual({
      version: 1,
      command: 'PROXY',
      family: 'TCP4',
      sourceAddress: '255.255.255.255',
      sourcePort: '65535',
      destinationAddress: '255.255.255.255',
      destinationPort: '65535',
      tlvs: [],
    });
    const max = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
    const tcp6 = parsesAllWays('v1', v1(`PROXY TCP6 ${max} ${max} 65535 65535\r\n`));
    expect(tcp6).toMatchObject({ family: 'TCP6', sourceAddress: max, destinationAddress: max });
    expect(parsesAllWays('v1', v1('PROXY UNKNOWN\r\n'))).toMatchObject({ family: 'UNKNOWN', sourceAddress: '', sourcePort: '' });
    // The longest line the specification allows: 107 bytes with its CRLF.
    const longest = v1(`PROXY UNKNOWN ${max} ${max} 65535 65535\r\n`);
    expect(longest.length).toBe(V1_MAX_LENGTH);
    expect(parsesAllWays('v1', longest)).toMatchObject({ family: 'UNKNOWN' });
  });

  test('a typical header, and IPv6 written as REMOTE_ADDR shows it', () => {
    expect(parsesAllWays('auto', v1('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n'))).toMatchObject({
      sourceAddress: '192.168.0.1',
      sourcePort: '56324',
      destinationAddress: '192.168.0.11',
      destinationPort: '443',
    });
    expect(parsesAllWays('v1', v1('PROXY TCP6 2001:DB8:0::1 ::1 0 8080\r\n'))).toMatchObject({ sourceAddress: '2001:db8::1', sourcePort: '0', destinationAddress: '::1' });
    expect(parsesAllWays('v1', v1('PROXY TCP6 ::ffff:198.51.100.7 ::1 1 2\r\n')).sourceAddress).toBe('198.51.100.7');
  });

  const bad: [string, string, RegExp][] = [
    ['a bare LF', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n', /bare LF/],
    ['two spaces', 'PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n', /five fields/],
    ['a missing port', 'PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n', /five fields/],
    ['an extra field', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n', /five fields/],
    ['a trailing space', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n', /five fields/],
    ['a leading zero in a port', 'PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n', /source port/],
    ['a port above 65535', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n', /destination port/],
    ['a leading zero in an address', 'PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n', /source address that is not IPv4/],
    ['IPv6 under TCP4', 'PROXY TCP4 ::1 5.6.7.8 1 2\r\n', /not IPv4/],
    ['IPv4 under TCP6', 'PROXY TCP6 1.2.3.4 ::1 1 2\r\n', /not IPv6/],
    ['a zone', 'PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n', /not IPv6/],
    ['an unknown protocol', 'PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n', /protocol other than/],
    ['UDP', 'PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n', /protocol other than/],
    ['lowercase', 'proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n', /does not start with a PROXY protocol header/],
    ['no space after PROXY', 'PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n', /does not start with "PROXY "/],
  ];
  for (const [what, line, reason] of bad) {
    test(`refuses ${what}`, () => expect(refusedAllWays('v1', v1(line))).toMatch(reason));
  }

  test('refuses a line without CRLF within 107 bytes, at byte 107 however it arrives', () => {
    const line = v1(`PROXY UNKNOWN ${'x'.repeat(200)}\r\n`);
    expect(refusedAllWays('auto', line)).toMatch(/no CRLF within 107 bytes/);
    const parser = new ProxyHeaderParser('v1');
    for (let i = 0; i < V1_MAX_LENGTH - 1; i++) expect(parser.feed(line.subarray(i, i + 1))).toBe(PROXY_NEED_DATA);
    expect(parser.feed(line.subarray(V1_MAX_LENGTH - 1, V1_MAX_LENGTH))).toBe(PROXY_ERROR);
  });
});

/** Builds a v2 header: command (0 LOCAL, 1 PROXY), family/transport byte, address block, TLVs. */
function v2(command: number, familyTransport: number, addresses: Buffer, tlvs: [number, Buffer][] = [], { crc = false, version = 2 } = {}): Buffer {
  const tlvBytes = tlvs.map(([type, value]) => Buffer.concat([Buffer.from([type, value.length >> 8, value.length & 255]), value]));
  if (crc) tlvBytes.push(Buffer.from([PP2_TYPE_CRC32C, 0, 4, 0, 0, 0, 0]));
  const body = Buffer.concat([addresses, ...tlvBytes]);
  const head = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, (version << 4) | command, familyTransport, body.length >> 8, body.length & 255]);
  const header = Buffer.concat([head, body]);
  if (crc) {
    const value = (crc32c(0xffffffff, header, 0, header.length) ^ 0xffffffff) >>> 0;
    header.writeUInt32BE(value, header.length - 4);
  }
  return header;
}

function inet(src: string, dst: string, sport: number, dport: number): Buffer {
  const b = Buffer.alloc(12);
  src.split('.').forEach((o, i) => (b[i] = Number(o)));
  dst.split('.').forEach((o, i) => (b[4 + i] = Number(o)));
  b.writeUInt16BE(sport, 8);
  b.writeUInt16BE(dport, 10);
  return b;
}

function inet6(src: number[], dst: number[], sport: number, dport: number): Buffer {
  const b = Buffer.alloc(36);
  src.forEach((g, i) => b.writeUInt16BE(g, 2 * i));
  dst.forEach((g, i) => b.writeUInt16BE(g, 16 + 2 * i));
  b.writeUInt16BE(sport, 32);
  b.writeUInt16BE(dport, 34);
  return b;
}

function unix(src: string, dst: string): Buffer {
  const b = Buffer.alloc(216);
  b.write(src, 0, 'utf8');
  b.write(dst, 108, 'utf8');
  return b;
}

describe('version 2 (binary)', () => {
  test('PROXY over TCP/IPv4 (0x21 0x11)', () => {
    expect(parsesAllWays('v2', v2(1, 0x11, inet('192.0.2.1', '198.51.100.2', 56324, 443)))).toEqual({
      version: 2,
      command: 'PROXY',
      family: 'TCP4',
      sourceAddress: '192.0.2.1',
      sourcePort: '56324',
      destinationAddress: '198.51.100.2',
      destinationPort: '443',
      tlvs: [],
    });
  });

  test('PROXY over TCP/IPv6 (0x21 0x21), IPv4-mapped shown as IPv4', () => {
    const header = parsesAllWays('auto', v2(1, 0x21, inet6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0, 1], 40000, 8443)));
    expect(header).toMatchObject({ family: 'TCP6', sourceAddress: '2001:db8::1', sourcePort: '40000', destinationAddress: '::1', destinationPort: '8443' });
    const mapped = parsesAllWays('v2', v2(1, 0x21, inet6([0, 0, 0, 0, 0, 0xffff, 0xc633, 0x6407], [0, 0, 0, 0, 0, 0, 0, 1], 1, 2)));
    expect(mapped.sourceAddress).toBe('198.51.100.7');
  });

  test('PROXY over a unix stream socket (0x21 0x31)', () => {
    expect(parsesAllWays('v2', v2(1, 0x31, unix('/run/client.sock', '/run/haproxy.sock')))).toMatchObject({
      family: 'UNIX',
      sourceAddress: '/run/client.sock',
      sourcePort: '',
      destinationAddress: '/run/haproxy.sock',
    });
  });

  test('LOCAL (a health check): the connection keeps its own addresses, whatever the family byte says', () => {
    expect(parsesAllWays('v2', v2(0, 0x00, Buffer.alloc(0)))).toMatchObject({ command: 'LOCAL', family: 'UNKNOWN', sourceAddress: '' });
    expect(parsesAllWays('v2', v2(0, 0x11, inet('10.0.0.1', '10.0.0.2', 1, 2)))).toMatchObject({ command: 'LOCAL', family: 'UNKNOWN' });
  });

  test('PROXY with AF_UNSPEC: the addresses are unknown', () => {
    expect(parsesAllWays('v2', v2(1, 0x00, Buffer.alloc(0)))).toMatchObject({ command: 'PROXY', family: 'UNKNOWN', sourceAddress: '' });
  });

  test('TLVs come out in order, as views; a correct CRC32C passes', () => {
    const tlvs: [number, Buffer][] = [
      [PP2_TYPE_ALPN, Buffer.from('http/1.1')],
      [PP2_TYPE_AUTHORITY, Buffer.from('www.example.com')],
      [PP2_TYPE_NOOP, Buffer.alloc(3)],
      [PP2_TYPE_UNIQUE_ID, Buffer.from('abc123')],
    ];
    const header = parsesAllWays('v2', v2(1, 0x11, inet('192.0.2.1', '192.0.2.2', 1, 2), tlvs, { crc: true }));
    expect(header.tlvs.map((t) => [t.type, t.value.toString('latin1')])).toEqual([
      [PP2_TYPE_ALPN, 'http/1.1'],
      [PP2_TYPE_AUTHORITY, 'www.example.com'],
      [PP2_TYPE_NOOP, '\0\0\0'],
      [PP2_TYPE_UNIQUE_ID, 'abc123'],
      [PP2_TYPE_CRC32C, expect.any(String)],
    ]);
  });

  test('the largest header the specification allows (16 + 65535 bytes)', () => {
    const padding: [number, Buffer][] = [[PP2_TYPE_NOOP, Buffer.alloc(0xffff - 12 - 3)]];
    const header = v2(1, 0x11, inet('192.0.2.1', '192.0.2.2', 1, 2), padding);
    expect(header.length).toBe(V2_MAX_LENGTH);
    for (const [how, split] of SPLITS.filter(([how]) => how !== 'byte by byte')) {
      expect(run('v2', split(Buffer.concat([header, HTTP]))).after, how).toBe(HTTP.toString('latin1'));
    }
  });

  const ok = inet('192.0.2.1', '192.0.2.2', 1, 2);
  const bad: [string, Buffer, RegExp][] = [
    ['a wrong signature byte', Buffer.concat([Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x55]), Buffer.alloc(30)]), /wrong signature/],
    ['version 1 in the binary form', v2(1, 0x11, ok, [], { version: 1 }), /version 1, not 2/],
    ['version 3', v2(1, 0x11, ok, [], { version: 3 }), /version 3, not 2/],
    ['command 2', v2(2, 0x11, ok), /command 2/],
    ['family 4', v2(1, 0x41, ok), /undefined address family/],
    ['transport 3', v2(1, 0x13, ok), /undefined address family/],
    ['a datagram', v2(1, 0x12, ok), /datagram/],
    ['a family without transport', v2(1, 0x10, ok), /no transport/],
    ['a length shorter than the addresses', v2(1, 0x21, ok), /shorter than its address block \(36 bytes\)/],
    ['a truncated TLV', v2(1, 0x11, Buffer.concat([ok, Buffer.from([0x04, 0x00])])), /middle of a TLV/],
    ['a TLV longer than the header', v2(1, 0x11, Buffer.concat([ok, Buffer.from([0x04, 0x00, 0x09, 1])])), /longer than the header/],
    ['a CRC32C TLV of 3 bytes', v2(1, 0x11, ok, [[PP2_TYPE_CRC32C, Buffer.alloc(3)]]), /not 4 bytes/],
  ];
  for (const [what, bytes, reason] of bad) {
    test(`refuses ${what}`, () => expect(refusedAllWays('v2', bytes)).toMatch(reason));
  }

  test('refuses a header whose CRC32C does not match', () => {
    const header = v2(1, 0x11, ok, [[PP2_TYPE_ALPN, Buffer.from('h2')]], { crc: true });
    header[17] ^= 1; // one bit of the source address
    expect(refusedAllWays('v2', header)).toMatch(/CRC32C/);
  });

  test('CRC32C is the Castagnoli CRC (RFC 3720 check value)', () => {
    expect((crc32c(0xffffffff, Buffer.from('123456789'), 0, 9) ^ 0xffffffff) >>> 0).toBe(0xe3069283);
  });
});

describe('modes and the start of a connection', () => {
  const header1 = v1('PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\n');
  const header2 = v2(1, 0x11, inet('192.0.2.1', '192.0.2.2', 1, 2));

  test('auto takes either version; v1 and v2 only their own', () => {
    expect(parsesAllWays('auto', header1).version).toBe(1);
    expect(parsesAllWays('auto', header2).version).toBe(2);
    expect(refusedAllWays('v2', header1)).toMatch(/v1 header but --proxy-protocol is v2/);
    expect(refusedAllWays('v1', header2)).toMatch(/v2 header but --proxy-protocol is v1/);
  });

  test('a connection that starts with HTTP instead is refused at its first byte', () => {
    for (const mode of ['v1', 'v2', 'auto'] as const) {
      const parser = new ProxyHeaderParser(mode);
      expect(parser.feed(Buffer.from('G'))).toBe(PROXY_ERROR);
      expect(parser.error).toMatchObject({ code: 'TSGI_ERR_PROXY_PROTOCOL' });
      expect(parser.error!.message).toMatch(/does not start with a PROXY protocol header/);
    }
    expect(refusedAllWays('auto', Buffer.from('PUT / HTTP/1.1\r\n'))).toMatch(/does not start with "PROXY "/);
  });

  test('the end of input: before any byte a clean close (a TCP health check), inside a header an error', () => {
    expect(run('auto', [], true).event).toBe(PROXY_CLOSED);
    expect(run('auto', [header1.subarray(0, 10)], true)).toMatchObject({ event: PROXY_ERROR, message: expect.stringMatching(/closed in the middle/) });
    expect(run('auto', [header2.subarray(0, 20)], true).event).toBe(PROXY_ERROR);
  });

  test('after the header, the parser stays done and hands nothing more', () => {
    const parser = new ProxyHeaderParser('auto');
    expect(parser.feed(Buffer.concat([header1, HTTP]))).toBe(PROXY_DONE);
    expect(parser.rest.toString('latin1')).toBe(HTTP.toString('latin1'));
    expect(parser.feed(HTTP)).toBe(PROXY_DONE);
    expect(parser.feedEnd()).toBe(PROXY_DONE);
  });

  test('a header that arrives whole is parsed where it lies: rest is a view of the fed buffer', () => {
    const fed = Buffer.concat([header2, HTTP]);
    const parser = new ProxyHeaderParser('v2');
    expect(parser.feed(fed)).toBe(PROXY_DONE);
    expect(parser.rest.buffer).toBe(fed.buffer);
    expect(parser.rest.byteOffset).toBe(fed.byteOffset + header2.length);
    expect(parser.header!.tlvs).toEqual([]);
  });
});

describe('startsWithProxyHeader (for peers not allowed to send one)', () => {
  test('tells a PROXY header from HTTP, and waits when it cannot tell yet', () => {
    expect(startsWithProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4'))).toBe(true);
    expect(startsWithProxyHeader(Buffer.from('PROXY UNKNOWN\r\n'))).toBe(true);
    expect(startsWithProxyHeader(Buffer.from('PROXY / HTTP/1.1\r\n'))).toBe(false); // the method PROXY
    expect(startsWithProxyHeader(Buffer.from('GET / HTTP/1.1'))).toBe(false);
    expect(startsWithProxyHeader(Buffer.from('PROX'))).toBeNull();
    expect(startsWithProxyHeader(Buffer.from('PROXY TCP'))).toBeNull();
    expect(startsWithProxyHeader(Buffer.alloc(0))).toBeNull();
    expect(startsWithProxyHeader(Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00]))).toBeNull();
    expect(startsWithProxyHeader(v2(1, 0x11, inet('1.2.3.4', '1.2.3.5', 1, 2)))).toBe(true);
    expect(startsWithProxyHeader(Buffer.from('\r\nGET / HTTP/1.1\r\n'))).toBe(false); // an empty line first
  });
});

describe('edges found by mutation testing', () => {
  const unknown = (version: 1 | 2, command: 'PROXY' | 'LOCAL'): ProxyHeader => ({
    version,
    command,
    family: 'UNKNOWN',
    sourceAddress: '',
    sourcePort: '',
    destinationAddress: '',
    destinationPort: '',
    tlvs: [],
  });

  test('UNKNOWN, LOCAL and AF_UNSPEC headers name the command and nothing else', () => {
    expect(parsesAllWays('v1', v1('PROXY UNKNOWN\r\n'))).toEqual(unknown(1, 'PROXY'));
    expect(parsesAllWays('v1', v1('PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n'))).toEqual(unknown(1, 'PROXY'));
    expect(parsesAllWays('v2', v2(0, 0x00, Buffer.alloc(0)))).toEqual(unknown(2, 'LOCAL'));
    expect(parsesAllWays('v2', v2(1, 0x00, Buffer.alloc(0)))).toEqual(unknown(2, 'PROXY'));
  });

  test('"PROXY UNKNOWNx" is no UNKNOWN header', () => {
    expect(refusedAllWays('v1', v1('PROXY UNKNOWNX 1.2.3.4 5.6.7.8 1 2\r\n'))).toMatch(/protocol other than/);
  });

  test('a v1 destination that is not an address is refused', () => {
    expect(refusedAllWays('v1', v1('PROXY TCP4 192.0.2.1 nothost 1 2\r\n'))).toMatch(/destination address that is not IPv4/);
    expect(refusedAllWays('v1', v1('PROXY TCP6 ::1 1.2.3.4 1 2\r\n'))).toMatch(/destination address that is not IPv6/);
  });

  test('v2 TCP6 and UNIX headers in full', () => {
    expect(parsesAllWays('v2', v2(1, 0x21, inet6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0, 1], 40000, 8443)))).toEqual({
      version: 2,
      command: 'PROXY',
      family: 'TCP6',
      sourceAddress: '2001:db8::1',
      sourcePort: '40000',
      destinationAddress: '::1',
      destinationPort: '8443',
      tlvs: [],
    });
    expect(parsesAllWays('v2', v2(1, 0x31, unix('/run/client.sock', '/run/haproxy.sock')))).toEqual({
      version: 2,
      command: 'PROXY',
      family: 'UNIX',
      sourceAddress: '/run/client.sock',
      sourcePort: '',
      destinationAddress: '/run/haproxy.sock',
      destinationPort: '',
      tlvs: [],
    });
  });

  test('a unix path that fills its 108 bytes ends there, not at the next NUL', () => {
    const long = `/run/${'s'.repeat(103)}`;
    expect(long.length).toBe(108);
    expect(parsesAllWays('v2', v2(1, 0x31, unix(long, '/b')))).toMatchObject({ sourceAddress: long, destinationAddress: '/b' });
    // Both paths full: there is no NUL at all.
    const other = `/var/${'d'.repeat(103)}`;
    expect(parsesAllWays('v2', v2(1, 0x31, unix(long, other)))).toMatchObject({ sourceAddress: long, destinationAddress: other });
  });

  test('LOCAL is accepted whatever its family and transport byte', () => {
    expect(parsesAllWays('v2', v2(0, 0xff, Buffer.alloc(0)))).toEqual(unknown(2, 'LOCAL'));
  });

  test('an empty TLV at the very end of the header is a TLV', () => {
    const header = parsesAllWays('v2', v2(1, 0x11, inet('192.0.2.1', '192.0.2.2', 1, 2), [[PP2_TYPE_NOOP, Buffer.alloc(0)]]));
    expect(header.tlvs.map((t) => [t.type, t.value.length])).toEqual([[PP2_TYPE_NOOP, 0]]);
  });

  test('a TLV one byte longer than what is left of the header is refused', () => {
    const header = v2(1, 0x11, inet('192.0.2.1', '192.0.2.2', 1, 2), [[PP2_TYPE_NOOP, Buffer.alloc(2)]]);
    header.writeUInt16BE(3, 16 + 12 + 1);
    expect(refusedAllWays('v2', header)).toMatch(/longer than the header/);
  });

  test('two CRC32C TLVs are refused', () => {
    const header = v2(1, 0x11, inet('192.0.2.1', '192.0.2.2', 1, 2), [[PP2_TYPE_CRC32C, Buffer.alloc(4)]], { crc: true });
    expect(refusedAllWays('v2', header)).toMatch(/two CRC32C/);
  });

  test('an empty buffer is nothing: no byte to tell a header by, and the parser waits', () => {
    expect(startsWithProxyHeader(Buffer.alloc(0))).toBeNull();
    const parser = new ProxyHeaderParser('v1');
    expect(parser.feed(Buffer.alloc(0))).toBe(PROXY_NEED_DATA);
    expect(parser.feed(v1('PROXY UNKNOWN\r\n'))).toBe(PROXY_DONE);
  });
});
