/**
 * The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2), sans-IO: the bytes a
 * connection starts with go in, the addresses of the client the proxy relays come out, with the
 * bytes that followed the header (the start of the first HTTP request).
 *
 * Strict, as the specification asks of a receiver: a header that is not exactly well formed is an
 * error with a one-line message (TSGI_ERR_PROXY_PROTOCOL), and so is a connection that does not
 * start with one ("the receiver MUST be configured to only receive the protocol described in this
 * specification and MUST not try to guess whether the protocol header is present or not").
 * Bounded: it never holds more than the largest header the specification allows (107 bytes for
 * version 1, 16 + 65535 for version 2); a header that arrives whole in one buffer is parsed where
 * it lies, without a copy.
 */
import { TsgiError } from '../errors.js';
import { IPV4, IPV6, formatIPv4, formatIPv6, parseAddress } from './addresses.js';

export type ProxyProtocolMode = 'v1' | 'v2' | 'auto';

/** What feed() and feedEnd() return. */
export const PROXY_NEED_DATA = 0; // the header is not complete yet: feed more
export const PROXY_DONE = 1; // `header` and `rest` are set
export const PROXY_ERROR = 2; // `error` says why; close the connection
export const PROXY_CLOSED = 3; // the peer closed before sending a byte (a TCP health check)
export type ProxyEvent = typeof PROXY_NEED_DATA | typeof PROXY_DONE | typeof PROXY_ERROR | typeof PROXY_CLOSED;

/** One type-length-value field of a version 2 header (§2.2.1-§2.2.7), value as a view. */
export interface ProxyTlv {
  type: number;
  value: Buffer;
}

export interface ProxyHeader {
  version: 1 | 2;
  /** PROXY: a relayed connection. LOCAL (v2): the proxy's own connection, e.g. a health check. */
  command: 'PROXY' | 'LOCAL';
  /**
   * TCP4, TCP6 or UNIX: the addresses below are the relayed client's and the proxy's. UNKNOWN (v1
   * UNKNOWN, v2 AF_UNSPEC, or any LOCAL header): the receiver uses the connection's own addresses.
   */
  family: 'TCP4' | 'TCP6' | 'UNIX' | 'UNKNOWN';
  /** The client: an IP address (IPv4-mapped shown as IPv4), a unix socket path, or ''. */
  sourceAddress: string;
  /** The client's port as digits, or '' (UNIX, UNKNOWN). */
  sourcePort: string;
  /** The address the client connected to on the proxy. */
  destinationAddress: string;
  destinationPort: string;
  /** Version 2 TLVs in the order received (PP2_TYPE_NOOP and a verified CRC32C included). */
  tlvs: ProxyTlv[];
}

/** PP2_TYPE_* (§2.2). */
export const PP2_TYPE_ALPN = 0x01;
export const PP2_TYPE_AUTHORITY = 0x02;
export const PP2_TYPE_CRC32C = 0x03;
export const PP2_TYPE_NOOP = 0x04;
export const PP2_TYPE_UNIQUE_ID = 0x05;
export const PP2_TYPE_SSL = 0x20;
export const PP2_TYPE_NETNS = 0x30;

/** §2.1: "a receiver ... MUST not try to parse more than 107 bytes" for version 1. */
export const V1_MAX_LENGTH = 107;
/** §2.2: a 16-byte fixed part and up to 65535 bytes of addresses and TLVs. */
export const V2_MAX_LENGTH = 16 + 0xffff;

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** §2.2: the 12-byte signature \x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A. */
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const EMPTY = Buffer.alloc(0);

const words = new Uint32Array(4);

export class ProxyHeaderParser {
  /** After PROXY_DONE: the header. */
  header: ProxyHeader | null = null;
  /** After PROXY_DONE: the bytes that followed the header (a view; possibly empty). */
  rest: Buffer = EMPTY;
  /** After PROXY_ERROR: why. */
  error: TsgiError | null = null;

  /** Bytes of a header that is not complete yet; always fewer than its maximum length. */
  private held: Buffer | null = null;
  private state: ProxyEvent = PROXY_NEED_DATA;
  /** Set by a parse that returned PROXY_DONE: the header's length in bytes. */
  private headerLength = 0;

  constructor(readonly mode: ProxyProtocolMode) {}

  /** Takes the next bytes of the connection. Keeps a reference to `data`; never writes into it. */
  feed(data: Buffer): ProxyEvent {
    if (this.state !== PROXY_NEED_DATA || data.length === 0) return this.state;
    if (this.held === null) {
      // The common case: the whole header in the first buffer, parsed where it lies.
      const event = this.parse(data);
      if (event === PROXY_NEED_DATA) this.held = data;
      else if (event === PROXY_DONE) this.rest = data.subarray(this.headerLength);
      return event;
    }
    // Join only the bytes that can still belong to the header; the rest stays in `data`.
    let buf = this.held;
    let taken = 0;
    for (;;) {
      const take = Math.min(this.room(buf) - buf.length, data.length - taken);
      if (take <= 0) break;
      buf = Buffer.concat([buf, data.subarray(taken, taken + take)]);
      taken += take;
      const event = this.parse(buf);
      if (event === PROXY_DONE) {
        this.held = null;
        this.rest = data.subarray(taken - (buf.length - this.headerLength));
        return event;
      }
      if (event === PROXY_ERROR) return event;
      // A v2 header learns its length at byte 16: join again if more of it is in `data`.
      if (taken === data.length) break;
    }
    this.held = buf;
    return PROXY_NEED_DATA;
  }

  /** The peer closed its side. */
  feedEnd(): ProxyEvent {
    if (this.state !== PROXY_NEED_DATA) return this.state;
    if (this.held === null) {
      this.state = PROXY_CLOSED;
      return PROXY_CLOSED;
    }
    return this.fail('the connection closed in the middle of the PROXY protocol header');
  }

  /** The most bytes the header starting in `buf` can have, as far as `buf` tells. */
  private room(buf: Buffer): number {
    if (buf[0] !== V2_SIGNATURE[0]) return V1_MAX_LENGTH;
    return buf.length < 16 ? 16 : 16 + buf.readUInt16BE(14);
  }

  /** Parses the header at the start of `buf`: done, an error, or not complete yet. */
  private parse(buf: Buffer): ProxyEvent {
    const first = buf[0];
    if (first === 0x50 /* P */ && this.mode !== 'v2') return this.parseV1(buf);
    if (first === 0x0d && this.mode !== 'v1') return this.parseV2(buf);
    const other = first === 0x50 ? 'v1' : first === 0x0d ? 'v2' : null;
    if (other !== null && startsWithProxyHeader(buf) !== false) {
      return this.fail(`the connection starts with a PROXY protocol ${other} header but --proxy-protocol is ${this.mode}; make the two match`);
    }
    return this.fail(`the connection does not start with a PROXY protocol header (--proxy-protocol ${this.mode}); have the proxy send one`);
  }

  // --- version 1 (§2.1) ------------------------------------------------------------------------

  private parseV1(buf: Buffer): ProxyEvent {
    const prefix = Math.min(buf.length, V1_PREFIX.length);
    if (buf.compare(V1_PREFIX, 0, prefix, 0, prefix) !== 0) return this.failV1('does not start with "PROXY "');
    const lf = (buf.length > V1_MAX_LENGTH ? buf.subarray(0, V1_MAX_LENGTH) : buf).indexOf(0x0a);
    if (lf === -1) {
      if (buf.length >= V1_MAX_LENGTH) return this.failV1(`has no CRLF within ${V1_MAX_LENGTH} bytes`);
      return PROXY_NEED_DATA;
    }
    if (buf[lf - 1] !== 0x0d) return this.failV1('ends with a bare LF; end it with CRLF');
    const line = buf.toString('latin1', V1_PREFIX.length, lf - 1);
    this.headerLength = lf + 1;
    // "PROXY UNKNOWN": "the receiver must ignore anything presented before the CRLF is found".
    if (line === 'UNKNOWN' || line.startsWith('UNKNOWN ')) return this.done(unknownHeader(1, 'PROXY'));
    const parts = line.split(' ');
    const protocol = parts[0];
    if (protocol !== 'TCP4' && protocol !== 'TCP6') return this.failV1('names a protocol other than TCP4, TCP6 or UNKNOWN');
    if (parts.length !== 5) return this.failV1('does not have exactly five fields separated by single spaces');
    const family = protocol === 'TCP4' ? IPV4 : IPV6;
    const source = v1Address(parts[1]!, family);
    const destination = v1Address(parts[2]!, family);
    if (source === null) return this.failV1(`has a source address that is not ${protocol === 'TCP4' ? 'IPv4' : 'IPv6'}`);
    if (destination === null) return this.failV1(`has a destination address that is not ${protocol === 'TCP4' ? 'IPv4' : 'IPv6'}`);
    if (!isV1Port(parts[3]!)) return this.failV1('has a source port that is not 0 to 65535 without leading zeros');
    if (!isV1Port(parts[4]!)) return this.failV1('has a destination port that is not 0 to 65535 without leading zeros');
    return this.done({
      version: 1,
      command: 'PROXY',
      family: protocol,
      sourceAddress: source,
      sourcePort: parts[3]!,
      destinationAddress: destination,
      destinationPort: parts[4]!,
      tlvs: [],
    });
  }

  private failV1(problem: string): ProxyEvent {
    return this.fail(`the PROXY protocol v1 header ${problem}`);
  }

  // --- version 2 (§2.2) ------------------------------------------------------------------------

  private parseV2(buf: Buffer): ProxyEvent {
    const prefix = Math.min(buf.length, V2_SIGNATURE.length);
    if (buf.compare(V2_SIGNATURE, 0, prefix, 0, prefix) !== 0) return this.failV2('has a wrong signature');
    if (buf.length < 16) return PROXY_NEED_DATA;
    // §2.2: "The highest four bits contains the version ... receivers must only accept this value
    // (\x2)"; the lowest four bits: \x0 LOCAL, \x1 PROXY, other values "must be dropped".
    const versionCommand = buf[12]!;
    if (versionCommand >> 4 !== 2) return this.failV2(`has version ${versionCommand >> 4}, not 2`);
    const command = versionCommand & 0x0f;
    if (command > 1) return this.failV2(`has command ${command}, neither LOCAL (0) nor PROXY (1)`);
    const familyTransport = buf[13]!;
    const addressFamily = familyTransport >> 4;
    const transport = familyTransport & 0x0f;
    const length = buf.readUInt16BE(14);
    if (command === 1) {
      // §2.2: "Other values are unspecified and must not be emitted ... and must be rejected as
      // invalid by receivers." An HTTP connection is a stream: DGRAM cannot describe it.
      if (addressFamily > 3 || transport > 2) return this.failV2(`has an undefined address family and transport byte 0x${familyTransport.toString(16)}`);
      if (transport === 2) return this.failV2('describes a datagram (UDP) connection, not a stream');
      if (addressFamily !== 0 && transport !== 1) return this.failV2('has an address family but no transport; send STREAM (1)');
      const needed = ADDRESS_LENGTH[addressFamily]!;
      if (length < needed) return this.failV2(`has length ${length}, shorter than its address block (${needed} bytes)`);
    }
    const total = 16 + length;
    if (buf.length < total) return PROXY_NEED_DATA;
    this.headerLength = total;

    // §2.2: with LOCAL, "the receiver must accept this connection as valid and must use the real
    // connection endpoints and discard the protocol block including the family which is ignored".
    if (command === 0) return this.done(unknownHeader(2, 'LOCAL'));
    const addressLength = ADDRESS_LENGTH[addressFamily]!;
    const tlvs: ProxyTlv[] = [];
    let crcAt = -1;
    for (let p = 16 + addressLength; p < total; ) {
      if (total - p < 3) return this.failV2('ends in the middle of a TLV');
      const type = buf[p]!;
      const size = buf.readUInt16BE(p + 1);
      if (p + 3 + size > total) return this.failV2(`has a TLV 0x${type.toString(16)} longer than the header`);
      if (type === PP2_TYPE_CRC32C) {
        if (size !== 4) return this.failV2('has a CRC32C TLV that is not 4 bytes');
        if (crcAt !== -1) return this.failV2('has two CRC32C TLVs');
        crcAt = p + 3;
      }
      tlvs.push({ type, value: buf.subarray(p + 3, p + 3 + size) });
      p += 3 + size;
    }
    // §2.2.3: "the receiver MUST ... compute the CRC32c checksum of the PROXY protocol header ...
    // [with the checksum field] replaced with 32-bits of 0x00 ... If the values don't match, the
    // receiver MUST drop the connection."
    if (crcAt !== -1) {
      let crc = crc32c(0xffffffff, buf, 0, crcAt);
      crc = crc32c(crc, ZERO4, 0, 4);
      crc = crc32c(crc, buf, crcAt + 4, total);
      if (((crc ^ 0xffffffff) >>> 0) !== buf.readUInt32BE(crcAt)) return this.failV2('fails its CRC32C checksum');
    }

    if (addressFamily === 0) return this.done({ ...unknownHeader(2, 'PROXY'), tlvs });
    const a = 16;
    if (addressFamily === 1) {
      return this.done({
        version: 2,
        command: 'PROXY',
        family: 'TCP4',
        sourceAddress: formatIPv4(buf.readUInt32BE(a)),
        destinationAddress: formatIPv4(buf.readUInt32BE(a + 4)),
        sourcePort: String(buf.readUInt16BE(a + 8)),
        destinationPort: String(buf.readUInt16BE(a + 10)),
        tlvs,
      });
    }
    if (addressFamily === 2) {
      for (let w = 0; w < 4; w++) words[w] = buf.readUInt32BE(a + 4 * w);
      const sourceAddress = formatIPv6(words);
      for (let w = 0; w < 4; w++) words[w] = buf.readUInt32BE(a + 16 + 4 * w);
      return this.done({
        version: 2,
        command: 'PROXY',
        family: 'TCP6',
        sourceAddress,
        destinationAddress: formatIPv6(words),
        sourcePort: String(buf.readUInt16BE(a + 32)),
        destinationPort: String(buf.readUInt16BE(a + 34)),
        tlvs,
      });
    }
    // §2.2: AF_UNIX: two 108-byte paths, "unix socket path, NUL-padded".
    return this.done({
      version: 2,
      command: 'PROXY',
      family: 'UNIX',
      sourceAddress: unixPath(buf, a),
      sourcePort: '',
      destinationAddress: unixPath(buf, a + 108),
      destinationPort: '',
      tlvs,
    });
  }

  private failV2(problem: string): ProxyEvent {
    return this.fail(`the PROXY protocol v2 header ${problem}`);
  }

  // --- outcome ---------------------------------------------------------------------------------

  private done(header: ProxyHeader): ProxyEvent {
    this.header = header;
    this.state = PROXY_DONE;
    return PROXY_DONE;
  }

  private fail(message: string): ProxyEvent {
    this.error = new TsgiError('TSGI_ERR_PROXY_PROTOCOL', message);
    this.state = PROXY_ERROR;
    this.held = null;
    return PROXY_ERROR;
  }
}

/** Bytes of the address block per v2 address family: UNSPEC, INET, INET6, UNIX (§2.2). */
const ADDRESS_LENGTH = [0, 12, 36, 216];
const ZERO4 = Buffer.alloc(4);

function unknownHeader(version: 1 | 2, command: 'PROXY' | 'LOCAL'): ProxyHeader {
  return { version, command, family: 'UNKNOWN', sourceAddress: '', sourcePort: '', destinationAddress: '', destinationPort: '', tlvs: [] };
}

/** A v1 address of `family`, as REMOTE_ADDR shows it, or null. */
function v1Address(text: string, family: typeof IPV4 | typeof IPV6): string | null {
  // TCP6 with an IPv4-mapped address parses as IPv4; it is still written in IPv6 text.
  const parsed = parseAddress(text, 0, text.length, words);
  if (parsed === 0 || text.indexOf('%') !== -1) return null;
  const isV6Text = text.indexOf(':') !== -1;
  if (family === IPV4) return isV6Text ? null : text;
  return isV6Text ? (parsed === IPV4 ? formatIPv4(words[0]!) : formatIPv6(words)) : null;
}

/** §2.1: ports are "a decimal integer in the range [0..65535] inclusive", "heading zeroes are not permitted". */
function isV1Port(text: string): boolean {
  return /^(?:0|[1-9][0-9]{0,4})$/.test(text) && Number(text) <= 65535;
}

function unixPath(buf: Buffer, at: number): string {
  const end = buf.indexOf(0, at);
  return buf.toString('utf8', at, end === -1 || end > at + 108 ? at + 108 : end);
}

/**
 * Whether a connection's first bytes are the start of a PROXY protocol header: true, false, or
 * null when too few bytes have arrived to tell. For peers that are not allowed to send one: an
 * HTTP request may use the method PROXY, but never with a target TCP4, TCP6 or UNKNOWN.
 */
export function startsWithProxyHeader(data: Buffer): boolean | null {
  if (data.length === 0) return null;
  if (data[0] === 0x0d) {
    const n = Math.min(data.length, V2_SIGNATURE.length);
    if (data.compare(V2_SIGNATURE, 0, n, 0, n) !== 0) return false;
    return n === V2_SIGNATURE.length ? true : null;
  }
  for (const start of V1_STARTS) {
    const n = Math.min(data.length, start.length);
    if (data.compare(start, 0, n, 0, n) === 0) return n === start.length ? true : null;
  }
  return false;
}

const V1_STARTS = ['PROXY TCP4 ', 'PROXY TCP6 ', 'PROXY UNKNOWN'].map((text) => Buffer.from(text, 'latin1'));

// CRC-32C (Castagnoli, RFC 3720 §B.4), reflected polynomial 0x82F63B78, one table.
const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** Continues a CRC-32C over buf[from, to); start with 0xffffffff, finish with ^ 0xffffffff. */
export function crc32c(crc: number, buf: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) crc = CRC32C_TABLE[(crc ^ buf[i]!) & 0xff]! ^ (crc >>> 8);
  return crc >>> 0;
}
