/**
 * IP addresses as numbers, and lists of trusted addresses and networks compiled once for matching
 * on every connection or hop: `--forwarded-allow-ips` and `--proxy-allow-from`.
 *
 * Parsing works on a range of a string and writes into a caller's array, so matching a peer or an
 * X-Forwarded-For hop allocates nothing. An IPv4 address is one 32-bit word; an IPv6 address is four.
 * An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, RFC 4291 §2.5.5.2), which is how a dual-stack
 * socket reports an IPv4 peer, counts as the IPv4 address it carries.
 */
import { TsgiError } from '../errors.js';

export const NOT_AN_ADDRESS = 0;
export const IPV4 = 4;
export const IPV6 = 6;
export type AddressFamily = typeof NOT_AN_ADDRESS | typeof IPV4 | typeof IPV6;

const groups = new Uint16Array(8);

/**
 * Parses text[from, to) as an IPv4 dotted quad (RFC 3986 §3.2.2 IPv4address: no leading zeros, so
 * that "010.0.0.1" cannot mean octal 8 to one reader and decimal 10 to another) or RFC 4291 IPv6
 * text, with an optional zone ("%eth0", RFC 6874) that is ignored. Writes the address into `out`
 * (IPv4 into out[0], IPv6 into out[0..3], most significant word first) and returns its family.
 */
export function parseAddress(text: string, from: number, to: number, out: Uint32Array): AddressFamily {
  if (to - from < 2) return NOT_AN_ADDRESS;
  if (parseIPv4(text, from, to, out)) return IPV4;
  const zone = text.indexOf('%', from);
  if (zone !== -1 && zone < to) to = zone;
  if (!parseIPv6(text, from, to)) return NOT_AN_ADDRESS;
  for (let i = 0; i < 4; i++) out[i] = ((groups[2 * i]! << 16) | groups[2 * i + 1]!) >>> 0;
  if (out[0] === 0 && out[1] === 0 && out[2] === 0xffff) {
    out[0] = out[3]!;
    return IPV4;
  }
  return IPV6;
}

/**
 * text[from, to) as an IPv4address into out[0]; false when it is not one. The value is kept in
 * 32-bit integer arithmetic (the typed array makes it unsigned), so no number is boxed.
 */
function parseIPv4(text: string, from: number, to: number, out: Uint32Array): boolean {
  let value = 0;
  let octets = 0;
  let i = from;
  while (i < to) {
    const start = i;
    let octet = 0;
    for (; i < to; i++) {
      const c = text.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
      octet = octet * 10 + (c - 0x30);
      if (octet > 255 || (i > start && text.charCodeAt(start) === 0x30)) return false;
    }
    if (i === start) return false;
    value = (value << 8) | octet;
    octets++;
    if (i === to) break;
    if (text.charCodeAt(i) !== 0x2e /* . */ || octets === 4) return false;
    i++;
    if (i === to) return false;
  }
  if (octets !== 4) return false;
  out[0] = value;
  return true;
}

const v4scratch = new Uint32Array(1);

/** text[from, to) as an IPv6address (RFC 4291 §2.2) into `groups`; false when it is not one. */
function parseIPv6(text: string, from: number, to: number): boolean {
  let n = 0;
  let gap = -1;
  let i = from;
  if (text.charCodeAt(i) === 0x3a /* : */) {
    if (text.charCodeAt(i + 1) !== 0x3a) return false;
    gap = 0;
    i += 2;
  }
  while (i < to) {
    const start = i;
    let value = 0;
    for (; i < to && i - start < 5; i++) {
      const digit = hexDigit(text.charCodeAt(i));
      if (digit === -1) break;
      value = value * 16 + digit;
    }
    if (i < to && text.charCodeAt(i) === 0x2e /* . */) {
      // The last 32 bits may be written as an IPv4address.
      if (!parseIPv4(text, start, to, v4scratch) || n > 6) return false;
      const v4 = v4scratch[0]!;
      groups[n++] = v4 >>> 16;
      groups[n++] = v4 & 0xffff;
      i = to;
      break;
    }
    if (i === start || i - start > 4 || n === 8) return false;
    groups[n++] = value;
    if (i === to) break;
    if (text.charCodeAt(i) !== 0x3a) return false;
    i++;
    if (text.charCodeAt(i) === 0x3a && i < to) {
      if (gap !== -1) return false;
      gap = n;
      i++;
    } else if (i === to) {
      return false; // a single trailing ":"
    }
  }
  if (gap === -1) return n === 8;
  if (n > 7) return false;
  // "::" stands for as many zero groups as are missing: move the groups after it to the end.
  const tail = n - gap;
  for (let k = 1; k <= tail; k++) groups[8 - k] = groups[n - k]!;
  for (let k = gap; k < 8 - tail; k++) groups[k] = 0;
  return true;
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/** The dotted-quad text of an IPv4 address given as a 32-bit number. */
export function formatIPv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

/**
 * The RFC 5952 text of the IPv6 address in words[0..3]: lowercase hex without leading zeros, the
 * longest run of two or more zero groups (the first of equal ones) written as "::". An
 * IPv4-mapped address is written as its IPv4 address, as REMOTE_ADDR shows it.
 */
export function formatIPv6(words: Uint32Array): string {
  if (words[0] === 0 && words[1] === 0 && words[2] === 0xffff) return formatIPv4(words[3]!);
  for (let i = 0; i < 4; i++) {
    groups[2 * i] = words[i]! >>> 16;
    groups[2 * i + 1] = words[i]! & 0xffff;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  let text = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      text += i === 0 ? '::' : ':';
      i += bestLength - 1;
      continue;
    }
    text += groups[i]!.toString(16);
    if (i < 7) text += ':';
  }
  return text;
}

/** The address text of an IPv4-mapped IPv6 address in its IPv4 form; any other text as it is. */
export function unmapIPv4(address: string): string {
  // Node reports a dual-stack socket's IPv4 peer as "::ffff:a.b.c.d".
  if (address.length > 7 && address.charCodeAt(0) === 0x3a && address.startsWith('::ffff:') && address.indexOf('.', 7) !== -1) {
    return address.slice(7);
  }
  return address;
}

const scratch = new Uint32Array(4);

/**
 * A list of trusted addresses and networks: `*` (everything), IP addresses, and CIDR networks
 * (`10.0.0.0/8`, `2001:db8::/32`), as Gunicorn's `forwarded_allow_ips` takes them. Compiled once:
 * `has()` compares numbers and allocates nothing.
 */
export class AddressList {
  /** True when the list holds `*`. */
  readonly any: boolean;
  /** The entries as written, for messages and --print-config. */
  readonly entries: readonly string[];
  /** IPv4 networks: [network, mask] pairs. */
  private readonly v4: Uint32Array;
  /** IPv6 networks: four words of network, then four words of mask, per entry. */
  private readonly v6: Uint32Array;

  private constructor(entries: readonly string[], any: boolean, v4: number[], v6: number[]) {
    this.entries = entries;
    this.any = any;
    this.v4 = Uint32Array.from(v4);
    this.v6 = Uint32Array.from(v6);
  }

  /** Compiles `entries`; throws a TsgiError (TSGI_ERR_CONFIG) naming the first bad one. */
  static parse(entries: readonly string[]): AddressList {
    let any = false;
    const v4: number[] = [];
    const v6: number[] = [];
    for (const raw of entries) {
      const entry = raw.trim();
      const problem = addressEntryProblem(entry);
      if (problem !== null) throw new TsgiError('TSGI_ERR_CONFIG', problem);
      if (entry === '*') {
        any = true;
        continue;
      }
      const slash = entry.indexOf('/');
      const family = parseAddress(entry, 0, slash === -1 ? entry.length : slash, scratch);
      const mapped = family === IPV4 && entry.indexOf(':') !== -1;
      let prefix = slash === -1 ? (family === IPV4 && !mapped ? 32 : 128) : Number(entry.slice(slash + 1));
      if (mapped) prefix -= 96; // ::ffff:a.b.c.d/104 is a.b.c.d/8
      if (family === IPV4) {
        v4.push(scratch[0]!, maskWord(prefix, 0));
      } else {
        for (let w = 0; w < 4; w++) v6.push(scratch[w]!);
        for (let w = 0; w < 4; w++) v6.push(maskWord(prefix, w));
      }
    }
    return new AddressList(entries, any, v4, v6);
  }

  /** Whether the address `text` (whole string) is in the list. Text that is no address is not. */
  has(text: string): boolean {
    return this.hasRange(text, 0, text.length);
  }

  /** Whether the address text[from, to) is in the list, without slicing it out. */
  hasRange(text: string, from: number, to: number): boolean {
    if (this.any) return parseAddress(text, from, to, scratch) !== NOT_AN_ADDRESS;
    const family = parseAddress(text, from, to, scratch);
    return family === NOT_AN_ADDRESS ? false : this.hasParsed(family, scratch);
  }

  /** Whether an address already parsed by parseAddress() into `words` is in the list. */
  hasParsed(family: AddressFamily, words: Uint32Array): boolean {
    if (this.any) return family !== NOT_AN_ADDRESS;
    if (family === IPV4) {
      const v4 = this.v4;
      const address = words[0]!;
      for (let i = 0; i < v4.length; i += 2) if (((address & v4[i + 1]!) >>> 0) === v4[i]) return true;
      return false;
    }
    if (family !== IPV6) return false;
    const v6 = this.v6;
    for (let i = 0; i < v6.length; i += 8) {
      if (
        ((words[0]! & v6[i + 4]!) >>> 0) === v6[i] &&
        ((words[1]! & v6[i + 5]!) >>> 0) === v6[i + 1] &&
        ((words[2]! & v6[i + 6]!) >>> 0) === v6[i + 2] &&
        ((words[3]! & v6[i + 7]!) >>> 0) === v6[i + 3]
      ) {
        return true;
      }
    }
    return false;
  }
}

/** The mask of a /prefix network for its 32-bit word number `word`. */
function maskWord(prefix: number, word: number): number {
  const bits = Math.min(32, Math.max(0, prefix - 32 * word));
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/**
 * What is wrong with one entry of an address list, in one line that says what to write, or null
 * when it is valid: `*`, an IP address, or a network with its host bits clear (as Python's
 * `ipaddress.ip_network`, which Gunicorn uses, demands).
 */
export function addressEntryProblem(entry: string): string | null {
  if (entry === '*') return null;
  if (entry === '') return 'an empty entry; list addresses or networks separated by commas';
  if (entry.charCodeAt(0) === 0x5b /* [ */) {
    return `"${entry}" is bracketed; write an IPv6 address without brackets (::1, 2001:db8::/32)`;
  }
  const slash = entry.indexOf('/');
  const family = parseAddress(entry, 0, slash === -1 ? entry.length : slash, scratch);
  if (family === NOT_AN_ADDRESS || entry.indexOf('%') !== -1) {
    return `"${entry}" is not an IP address or network; write an address (10.0.0.1, ::1), a network (10.0.0.0/8, fd00::/8) or *`;
  }
  if (slash === -1) return null;
  const text = entry.slice(slash + 1);
  const mapped = family === IPV4 && entry.indexOf(':') !== -1;
  const max = family === IPV4 && !mapped ? 32 : 128;
  if (!/^(0|[1-9][0-9]{0,2})$/.test(text) || Number(text) > max || (mapped && Number(text) < 96)) {
    return `"${entry}" has a bad prefix length; use /0 to /${max}${mapped ? ' (at least /96 for an IPv4-mapped network)' : ''}`;
  }
  const prefix = Number(text) - (mapped ? 96 : 0);
  const words = family === IPV4 ? 1 : 4;
  for (let w = 0; w < words; w++) {
    if ((scratch[w]! & ~maskWord(prefix, w)) !== 0) {
      return `"${entry}" has host bits set; write the network address (the address with the last ${max - Number(text)} bits zero)`;
    }
  }
  return null;
}
