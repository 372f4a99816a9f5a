/**
 * What the app sees of the client when tsgi runs behind proxies it trusts (`--forwarded-allow-ips`,
 * `--secure-scheme-headers`): the client's address and port, the URL scheme, and the host and port
 * the client asked for, from `X-Forwarded-For`, `X-Forwarded-Host`, `X-Forwarded-Port`, the secure
 * scheme headers (`X-Forwarded-Proto` and friends) and RFC 7239 `Forwarded`.
 *
 * From a peer that is not trusted, none of these headers means anything: they reach the app as
 * plain `HTTP_*` fields and the connection's own facts stand. That is also the fast path: one
 * boolean, computed once per connection, and no look at the headers.
 *
 * The rules, each as Gunicorn (scheme) or uvicorn (client address) applies it:
 * - Unix-socket peers are trusted (Gunicorn: "UNIX sockets always trusted"); `*` trusts everyone.
 * - Each secure scheme header present decides the scheme: `https` when its value equals the
 *   configured one (case-sensitive), else `http`. Two that disagree, from a trusted peer, are
 *   refused with 400, as Gunicorn 22+ refuses them (InvalidSchemeHeaders).
 * - The client is the right-most X-Forwarded-For hop that is not itself a trusted proxy: every
 *   proxy appends the address it received the request from, so hops left of the first untrusted
 *   one were written by someone tsgi cannot vouch for. When every hop is trusted, the left-most.
 *   A hop that is not an IP address (`unknown`, an obfuscated name, garbage) stops the walk: the
 *   client is then the nearest trusted hop to its right, which is the last party known to be real.
 * - `Forwarded` (RFC 7239) is read the same way over its `for=` parameters; the element chosen
 *   also gives `proto=` and `host=`. When it and X-Forwarded-* both speak, they must agree (on the
 *   client, the scheme and the host), or the request is refused: a proxy appends to one of them,
 *   and the other may have come from the client; tsgi does not guess which.
 * - X-Forwarded-Host and X-Forwarded-Port: the right-most value (what the nearest proxy set).
 *   A malformed one is refused.
 */
import type { HttpParseError } from '../errors.js';
import { parseError } from '../http/errors.js';
import { AddressList, IPV4, NOT_AN_ADDRESS, formatIPv4, formatIPv6, parseAddress, unmapIPv4, type AddressFamily } from '../http/addresses.js';
import { isHostValue, isOWS } from '../http/grammar.js';

export interface ForwardingSettings {
  /** `--forwarded-allow-ips`: addresses and CIDR networks of trusted proxies, or `*`. */
  forwardedAllowIps: readonly string[];
  /** `--secure-scheme-headers`: header name → the value that means https. */
  secureSchemeHeaders: Readonly<Record<string, string>>;
}

/** The connection as the socket reports it. */
export interface Peer {
  /** The peer's IP address; '' for a unix socket. */
  address: string;
  /** The peer's port as digits; '' for a unix socket. */
  port: string;
  /** 'https' when tsgi terminated TLS on this connection. */
  scheme: 'http' | 'https';
}

/** What the app sees. Fields that are null leave the request's own value (Host, the socket's). */
export interface ForwardedView {
  /** REMOTE_ADDR: an IP address ('' on a unix socket without forwarding headers). */
  remoteAddr: string;
  /** REMOTE_PORT: digits, or '' when the proxy did not say. */
  remotePort: string;
  /** tsgi.url_scheme */
  scheme: 'http' | 'https';
  /** HTTP_HOST as the client sent it to the first proxy, or null to keep the request's Host. */
  host: string | null;
  /** SERVER_NAME, or null to keep the environ's. */
  serverName: string | null;
  /** SERVER_PORT, or null to keep the environ's. */
  serverPort: string | null;
}

export function emptyView(): ForwardedView {
  return { remoteAddr: '', remotePort: '', scheme: 'http', host: null, serverName: null, serverPort: null };
}

interface SchemeHeader {
  lower: string;
  /** The usual spelling (X-Forwarded-Proto), compared first. */
  usual: string;
  https: string;
}

const words = new Uint32Array(4);

/** One parsed RFC 7239 forwarded-element: the parameters tsgi reads. */
interface ForwardedElement {
  for: string | null;
  proto: string | null;
  host: string | null;
}

export class Forwarding {
  readonly trusted: AddressList;
  private readonly schemeHeaders: SchemeHeader[];
  /** Bit n set: some secure scheme header name is n characters long (31: 31 or more), so most fields skip the list. */
  private readonly schemeLengths: number;
  /** The same for every name apply() reads: a field of another length is passed over at once. */
  private readonly lengths: number;
  /** A secure scheme header is configured with the name of another field apply() reads. */
  private readonly schemeOverlap: boolean;

  /** Compiles the settings once; throws a TsgiError (TSGI_ERR_CONFIG) for a bad address entry. */
  constructor(settings: ForwardingSettings) {
    this.trusted = AddressList.parse(settings.forwardedAllowIps);
    this.schemeHeaders = Object.entries(settings.secureSchemeHeaders).map(([name, https]) => ({ lower: name.toLowerCase(), usual: usualSpelling(name), https }));
    this.schemeLengths = this.schemeHeaders.reduce((bits, header) => bits | lengthBit(header.lower.length), 0);
    this.lengths = this.schemeLengths | lengthBit(4) | lengthBit(9) | lengthBit(15) | lengthBit(16);
    this.schemeOverlap = this.schemeHeaders.some((header) => ['host', 'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-port'].includes(header.lower));
  }

  /**
   * Whether this peer's forwarding headers are believed. Call once per connection: a unix socket
   * ('' address) is trusted, as in Gunicorn.
   */
  trusts(address: string): boolean {
    return address === '' || this.trusted.has(address);
  }

  /**
   * Fills `out` with what the app sees of a request from `peer` with these header fields (flat:
   * name, value, ...). `trusted` is trusts(peer.address). Returns the refusal (400) when a trusted
   * peer's headers conflict or are malformed, else null.
   */
  apply(peer: Peer, trusted: boolean, headers: readonly string[], out: ForwardedView): HttpParseError | null {
    out.remoteAddr = unmapIPv4(peer.address);
    out.remotePort = peer.port;
    out.scheme = peer.scheme;
    out.host = null;
    out.serverName = null;
    out.serverPort = null;
    if (!trusted) return null;

    let xff: string | null = null;
    let forwarded: string | null = null;
    let xfHost: string | null = null;
    let xfPort: string | null = null;
    let host: string | null = null;
    let scheme: 'http' | 'https' | null = null;
    const schemeHeaders = this.schemeHeaders;
    const schemeLengths = this.schemeLengths;
    const lengths = this.lengths;
    const schemeOverlap = this.schemeOverlap;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      const length = name.length;
      const bit = lengthBit(length);
      if ((lengths & bit) === 0) continue;
      const value = headers[i + 1]!;
      // A field that is one of these is no secure scheme header (unless one is configured so).
      switch (length) {
        case 4:
          if (sameName(name, 'Host', 'host')) {
            host = value;
            if (!schemeOverlap) continue;
          }
          break;
        case 9:
          if (sameName(name, 'Forwarded', 'forwarded')) {
            forwarded = forwarded === null ? value : `${forwarded},${value}`;
            if (!schemeOverlap) continue;
          }
          break;
        case 15:
          if (sameName(name, 'X-Forwarded-For', 'x-forwarded-for')) {
            xff = xff === null ? value : `${xff},${value}`;
            if (!schemeOverlap) continue;
          }
          break;
        case 16:
          if (sameName(name, 'X-Forwarded-Host', 'x-forwarded-host')) {
            xfHost = value;
            if (!schemeOverlap) continue;
          } else if (sameName(name, 'X-Forwarded-Port', 'x-forwarded-port')) {
            xfPort = value;
            if (!schemeOverlap) continue;
          }
          break;
      }
      if ((schemeLengths & bit) === 0) continue;
      for (let s = 0; s < schemeHeaders.length; s++) {
        const header = schemeHeaders[s]!;
        if (length !== header.lower.length || !sameName(name, header.usual, header.lower)) continue;
        const said = value === header.https ? 'https' : 'http';
        if (scheme !== null && said !== scheme) return conflict('the secure scheme headers disagree on http or https');
        scheme = said;
      }
    }
    if (scheme !== null) out.scheme = scheme;

    // The client: from X-Forwarded-For, from Forwarded, or from both when they agree.
    const peerAddr = out.remoteAddr;
    const peerPort = out.remotePort;
    if (xff !== null) this.walkXForwardedFor(xff, out);
    let forwardedHost: string | null = null;
    if (forwarded !== null) {
      const elements = parseForwarded(forwarded);
      if (elements === null) return malformed('the Forwarded header is not a list of forwarded-elements (RFC 7239 §4)');
      const byXff = out.remoteAddr;
      const byXffPort = out.remotePort;
      out.remoteAddr = peerAddr;
      out.remotePort = peerPort;
      const element = this.walkForwarded(elements, out);
      if (xff !== null) {
        if (out.remoteAddr !== byXff) return conflict('Forwarded for= and X-Forwarded-For name different clients');
        if (out.remotePort === '') out.remotePort = byXffPort;
      }
      // RFC 7239 §5.4: proto= is the scheme of the request the proxy received.
      const proto = element.proto?.toLowerCase() ?? null;
      const said = proto === 'https' || proto === 'wss' ? 'https' : proto === 'http' || proto === 'ws' ? 'http' : null;
      if (said !== null) {
        if (scheme !== null && said !== scheme) return conflict('Forwarded proto= and the secure scheme headers disagree on http or https');
        out.scheme = said;
      }
      forwardedHost = element.host;
    }

    // X-Forwarded-Host / -Port: the value the nearest proxy set is the right-most one.
    if (xfHost !== null) xfHost = lastListMember(xfHost);
    if (xfPort !== null) xfPort = lastListMember(xfPort);
    if (forwardedHost !== null && xfHost !== null && forwardedHost !== xfHost) {
      return conflict('Forwarded host= and X-Forwarded-Host name different hosts');
    }
    const clientHost = forwardedHost ?? xfHost;
    if (clientHost !== null && (clientHost === '' || !isHostValue(clientHost))) {
      return malformed('the forwarded host is not a valid host[:port]');
    }
    if (xfPort !== null && !isPort(xfPort)) return malformed('X-Forwarded-Port is not a port number');
    if (clientHost !== null) {
      const [name, port] = splitHostPort(clientHost);
      out.serverName = name;
      out.serverPort = xfPort ?? port ?? (out.scheme === 'https' ? '443' : '80');
      out.host = xfPort === null ? clientHost : `${name}:${xfPort}`;
    } else if (xfPort !== null) {
      out.serverPort = xfPort;
      if (host !== null && host !== '') out.host = `${splitHostPort(host)[0]}:${xfPort}`;
    }
    return null;
  }

  /**
   * Walks X-Forwarded-For from the right, from the peer in out.remoteAddr: each hop replaces the
   * candidate until one is not trusted; a hop that is no address ends the walk before it.
   */
  private walkXForwardedFor(list: string, out: ForwardedView): void {
    let end = list.length;
    while (end > 0) {
      let comma = end - 1;
      while (comma >= 0 && list.charCodeAt(comma) !== 0x2c /* , */) comma--;
      let from = comma + 1;
      let to = end;
      end = comma === -1 ? 0 : comma;
      while (from < to && isOWS(list.charCodeAt(from))) from++;
      while (to > from && isOWS(list.charCodeAt(to - 1))) to--;
      if (from === to) continue; // RFC 9110 §5.6.1: empty list elements are ignored
      const family = parseHop(list, from, to);
      if (family === NOT_AN_ADDRESS) return;
      out.remoteAddr = hopAddress;
      out.remotePort = hopPort;
      if (!this.trusted.hasParsed(family, words)) return;
    }
  }

  /** The same walk over Forwarded's for= parameters; returns the element it stopped at. */
  private walkForwarded(elements: readonly ForwardedElement[], out: ForwardedView): ForwardedElement {
    for (let i = elements.length - 1; i >= 0; i--) {
      const element = elements[i]!;
      const family = element.for === null ? NOT_AN_ADDRESS : parseNode(element.for);
      if (family === NOT_AN_ADDRESS) return element;
      out.remoteAddr = hopAddress;
      out.remotePort = hopPort;
      if (!this.trusted.hasParsed(family, words) || i === 0) return element;
    }
    return elements[0]!;
  }
}

// The hop parseHop() and parseNode() found last: its address as the app sees it and its port
// (its words are in `words`). Module state instead of a result object: the walk allocates nothing
// but the address string it keeps.
let hopAddress = '';
let hopPort = '';

/**
 * An X-Forwarded-For hop: `IPv4`, `IPv4:port`, `IPv6`, `[IPv6]` or `[IPv6]:port` (proxies differ),
 * in list[from, to). Returns its family (NOT_AN_ADDRESS when it is none of them).
 */
function parseHop(list: string, from: number, to: number): AddressFamily {
  let port = '';
  let end = to;
  // IPv6 text (an IPv4-mapped address among it), not a dotted quad.
  let mapped = true;
  if (list.charCodeAt(from) === 0x5b /* [ */) {
    const close = list.indexOf(']', from);
    if (close === -1 || close >= to) return NOT_AN_ADDRESS;
    if (close + 1 < to) {
      if (list.charCodeAt(close + 1) !== 0x3a /* : */) return NOT_AN_ADDRESS;
      port = list.slice(close + 2, to);
      if (!isPort(port)) return NOT_AN_ADDRESS;
    }
    from += 1;
    end = close;
  } else {
    let first = -1;
    let colons = 0;
    for (let i = from; i < to; i++) {
      if (list.charCodeAt(i) === 0x3a /* : */ && colons++ === 0) first = i;
    }
    if (colons === 1) {
      // One colon: IPv4:port (an IPv6 address has at least two).
      port = list.slice(first + 1, to);
      if (!isPort(port)) return NOT_AN_ADDRESS;
      end = first;
    }
    mapped = colons > 1;
  }
  const family = parseAddress(list, from, end, words);
  if (family === NOT_AN_ADDRESS) return family;
  // A dotted quad that parsed is already canonical; IPv6 (and IPv4-mapped) text is written out again.
  if (family === IPV4) {
    hopAddress = mapped ? formatIPv4(words[0]!) : list.slice(from, end);
  } else {
    hopAddress = formatIPv6(words);
  }
  hopPort = port;
  return family;
}

/**
 * RFC 7239 §6: node = nodename [ ":" node-port ]; nodename = IPv4address / "[" IPv6address "]" /
 * "unknown" / obfnode. NOT_AN_ADDRESS for "unknown" and obfuscated names, which identify no address.
 */
function parseNode(node: string): AddressFamily {
  if (node.charCodeAt(0) === 0x5b /* [ */) return parseHop(node, 0, node.length);
  const colon = node.indexOf(':');
  if (colon !== -1 && !/^(?:[0-9]{1,5}|_[A-Za-z0-9._-]+)$/.test(node.slice(colon + 1))) return NOT_AN_ADDRESS;
  const family = parseAddress(node, 0, colon === -1 ? node.length : colon, words);
  if (family !== IPV4) return NOT_AN_ADDRESS; // an IPv6 nodename must be bracketed
  hopAddress = colon === -1 ? node : node.slice(0, colon);
  hopPort = colon === -1 || node.charCodeAt(colon + 1) === 0x5f /* _ obfport */ ? '' : node.slice(colon + 1);
  return family;
}

// RFC 9110 §5.6.2 token and §5.6.4 quoted-string, as RFC 7239 §4 uses them:
// forwarded-element = [ forwarded-pair ] *( ";" [ forwarded-pair ] )
// forwarded-pair = token "=" value; value = token / quoted-string
const PAIR = /[ \t]*([!#$%&'*+\-.^_`|~0-9A-Za-z]+)=(?:([!#$%&'*+\-.^_`|~0-9A-Za-z]+)|"((?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*)")[ \t]*/y;

/**
 * Parses `Forwarded` = 1#forwarded-element (RFC 7239 §4). Whitespace is tolerated around ";" and
 * "," (proxies write "for=a; proto=b"). Each parameter at most once per element (§4: "Each
 * parameter MUST NOT occur more than once per forwarded-element"). Null when malformed.
 */
function parseForwarded(value: string): ForwardedElement[] | null {
  const elements: ForwardedElement[] = [];
  let element: ForwardedElement = { for: null, proto: null, host: null };
  let seen = 0;
  let i = 0;
  const n = value.length;
  for (;;) {
    while (i < n && isOWS(value.charCodeAt(i))) i++;
    const c = value.charCodeAt(i);
    if (i < n && c !== 0x2c /* , */ && c !== 0x3b /* ; */) {
      PAIR.lastIndex = i;
      const m = PAIR.exec(value);
      if (m === null) return null;
      i = PAIR.lastIndex;
      const name = m[1]!.toLowerCase();
      const text = m[2] ?? m[3]!.replace(/\\(.)/g, '$1');
      const bit = name === 'for' ? 1 : name === 'proto' ? 2 : name === 'host' ? 4 : name === 'by' ? 8 : 0;
      if (bit !== 0) {
        if ((seen & bit) !== 0) return null;
        seen |= bit;
      }
      if (name === 'for') element.for = text;
      else if (name === 'proto') element.proto = text;
      else if (name === 'host') element.host = text;
    }
    if (i >= n) break;
    const sep = value.charCodeAt(i++);
    if (sep === 0x2c) {
      if (seen !== 0 || element.for !== null) elements.push(element);
      element = { for: null, proto: null, host: null };
      seen = 0;
    } else if (sep !== 0x3b) {
      return null;
    }
  }
  if (seen !== 0) elements.push(element);
  return elements.length === 0 ? null : elements;
}

/** The last member of a comma-separated list, without OWS. */
function lastListMember(list: string): string {
  const comma = list.lastIndexOf(',');
  let from = comma + 1;
  let to = list.length;
  while (from < to && isOWS(list.charCodeAt(from))) from++;
  while (to > from && isOWS(list.charCodeAt(to - 1))) to--;
  return from === 0 && to === list.length ? list : list.slice(from, to);
}

/** RFC 3986 §3.2.3 port, as a TCP port: 1 to 5 digits, at most 65535. */
function isPort(text: string): boolean {
  return /^[0-9]{1,5}$/.test(text) && Number(text) <= 65535;
}

/** host[:port] (a valid Host value) → [host, port or null]. */
function splitHostPort(host: string): [string, string | null] {
  const close = host.charCodeAt(0) === 0x5b /* [ */ ? host.indexOf(']') : -1;
  const colon = host.indexOf(':', close + 1);
  if (colon === -1) return [host, null];
  return [host.slice(0, colon), colon + 1 === host.length ? null : host.slice(colon + 1)];
}

/** The bit of a name's length in a mask of lengths (bit 31: 31 characters or more). */
function lengthBit(length: number): number {
  return 1 << (length < 31 ? length : 31);
}

/** X-FORWARDED-PROTO → X-Forwarded-Proto: how clients and proxies usually spell a field name. */
function usualSpelling(name: string): string {
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => dash + letter.toUpperCase());
}

/**
 * Case-insensitive (ASCII) comparison of a field name with a lowercase name; `usual` is its usual
 * spelling, which most senders use, so a plain comparison settles most fields.
 */
function sameName(name: string, usual: string, lower: string): boolean {
  if (name === usual || name === lower) return true;
  if (name.length !== lower.length) return false;
  // From the end: names that share a prefix (X-Forwarded-) differ there.
  for (let i = lower.length - 1; i >= 0; i--) {
    const a = name.charCodeAt(i);
    const b = lower.charCodeAt(i);
    if (a !== b && (a + 0x20 !== b || b < 0x61 || b > 0x7a)) return false;
  }
  return true;
}

function conflict(problem: string): HttpParseError {
  return parseError('TSGI_ERR_FORWARDED_CONFLICT', `${problem}; have the trusted proxy overwrite these headers, not pass the client's on`);
}

function malformed(problem: string): HttpParseError {
  return parseError('TSGI_ERR_FORWARDED', `${problem}; fix what the proxy in front sends`);
}
