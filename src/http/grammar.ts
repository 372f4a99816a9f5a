/**
 * The ABNF of RFC 9110 / RFC 9112 / RFC 3986 that the request parser needs, compiled once into
 * regular expressions and byte tables. Every pattern is anchored and built so that no input can
 * make it backtrack more than linearly (the alternatives inside each repetition start with
 * disjoint characters).
 *
 * The strings tested here are latin1 decodings of the received bytes, so one character is one
 * byte and `\x80-\xff` stands for obs-text.
 */

// RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
//                          "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
const TCHAR = "!#$%&'*+\\-.^_`|~0-9A-Za-z";
/** RFC 9110 §5.6.2: token = 1*tchar */
export const TOKEN = new RegExp(`^[${TCHAR}]+$`);

// RFC 9110 §5.5: field-vchar = VCHAR / obs-text; field-content allows SP and HTAB between them.
// So after OWS is stripped, a valid value is any run of HTAB, SP, VCHAR and obs-text: no CTL.
const FIELD_CHAR = '\\t\\x20-\\x7e\\x80-\\xff';
/** A field value, OWS included: HTAB / SP / VCHAR / obs-text only (no CR, LF, NUL or other CTL). */
export const FIELD_VALUE = new RegExp(`^[${FIELD_CHAR}]*$`);

/**
 * RFC 9112 §5: field-line = field-name ":" OWS field-value OWS, each followed by CRLF.
 * Matches a whole run of field lines at once, so a well-formed section costs one regex run. A
 * line that starts with SP or HTAB (obs-fold, RFC 9112 §5.2) cannot match: the name needs a tchar.
 */
export const FIELD_LINES = new RegExp(`^(?:[${TCHAR}]+:[${FIELD_CHAR}]*\\r\\n)*$`);

/**
 * A whole head in its common, well-formed shape: method SP target SP "HTTP/1.0"|"HTTP/1.1" CRLF,
 * where the target is any run of visible characters (its own grammar is checked apart), then the
 * field lines, then the empty line. Sticky: it runs from the start of a decoded buffer and stops
 * at the first empty line, where its lastIndex lands. A head that fails it may still be valid
 * (or invalid in a way worth naming); the slower path decides.
 */
export const WELL_FORMED_HEAD = new RegExp(
  `[${TCHAR}]+ [\\x21-\\x7e\\x80-\\xff]+ HTTP/1\\.[01]\\r\\n(?:[${TCHAR}]+:[${FIELD_CHAR}]*\\r\\n)*\\r\\n`,
  'y',
);

// RFC 3986 §2: unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
//              sub-delims = "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "="
//              pct-encoded = "%" HEXDIG HEXDIG
const UNRESERVED_SUB_DELIMS = "A-Za-z0-9\\-._~!$&'()*+,;=";
const PCT_ENCODED = '%[0-9A-Fa-f]{2}';
// RFC 3986 §3.3: pchar = unreserved / pct-encoded / sub-delims / ":" / "@"
// RFC 3986 §3.4: query = *( pchar / "/" / "?" )
// A path segment run and a query share every character except that the path stops at "?", so
// "/", "?" and pchar together describe path-and-query once the first "/" is in place.
const PATH_QUERY_CHAR = `[${UNRESERVED_SUB_DELIMS}:@/?]|${PCT_ENCODED}`;

/** RFC 9112 §3.2.1: origin-form = absolute-path [ "?" query ]; absolute-path = 1*( "/" segment ) */
export const ORIGIN_FORM = new RegExp(`^/(?:${PATH_QUERY_CHAR})*$`);
/** The common case of ORIGIN_FORM without percent-encoding; tested first because it is cheaper. */
export const ORIGIN_FORM_PLAIN = new RegExp(`^/[${UNRESERVED_SUB_DELIMS}:@/?]*$`);

/**
 * RFC 3986 §3.2.2: reg-name = *( unreserved / pct-encoded / sub-delims ), which also covers
 * IPv4address. IP-literal = "[" ( IPv6address / IPvFuture ) "]"; the IPv6 part is checked by
 * isIPv6() because its ABNF does not fit a readable regex. port = *DIGIT (RFC 3986 §3.2.3).
 */
const HOST_PORT = new RegExp(
  `^(?:\\[([0-9A-Fa-f:.]*)\\]|\\[v[0-9A-Fa-f]+\\.[${UNRESERVED_SUB_DELIMS}:]+\\]|(?:[${UNRESERVED_SUB_DELIMS}]|${PCT_ENCODED})*)(:[0-9]*)?$`,
);

/** HOST_PORT for a host that is not an IP-literal: the common case, without captures. */
const REG_NAME_PORT = new RegExp(`^(?:[${UNRESERVED_SUB_DELIMS}]|${PCT_ENCODED})*(?::[0-9]*)?$`);

/**
 * RFC 9112 §3.2: Host = uri-host [ ":" port ]. An empty value is valid (a target without an
 * authority). Returns whether `value` is a valid Host field value.
 */
export function isHostValue(value: string): boolean {
  if (value.charCodeAt(0) !== 0x5b /* [ */) return REG_NAME_PORT.test(value);
  const m = HOST_PORT.exec(value);
  if (m === null) return false;
  return m[1] === undefined || isIPv6(m[1]);
}

/**
 * RFC 9112 §3.2.3: authority-form = uri-host ":" port, used only by CONNECT. tsgi also requires a
 * non-empty host and port: a tunnel to "nowhere" is never meaningful.
 */
export function isAuthorityForm(target: string): boolean {
  const m = HOST_PORT.exec(target);
  if (m === null || m[2] === undefined || m[2].length < 2) return false;
  if (m[2].length === target.length) return false; // empty host
  return m[1] === undefined || isIPv6(m[1]);
}

// RFC 9112 §3.2.2: absolute-form = absolute-URI. tsgi serves only the http and https schemes
// (RFC 9110 §4.2); "A sender MUST NOT generate an "http" URI with an empty host identifier. A
// recipient that processes such a URI reference MUST reject it as invalid" (RFC 9110 §4.2.1).
const ABSOLUTE_PREFIX = /^[Hh][Tt][Tt][Pp][Ss]?:\/\//;
// RFC 3986 §3.3: path-abempty = *( "/" segment ), then [ "?" query ]
const PATH_ABEMPTY_QUERY = new RegExp(`^(?:[/?](?:${PATH_QUERY_CHAR})*)?$`);

/**
 * Whether `target` is an absolute-form http(s) URI that tsgi accepts. RFC 9110 §4.2.4: userinfo
 * is deprecated and a recipient "SHOULD ... treat its presence as an error", so "@" in the
 * authority is refused.
 */
export function isAbsoluteForm(target: string): boolean {
  const m = ABSOLUTE_PREFIX.exec(target);
  if (m === null) return false;
  const authorityStart = m[0].length;
  let authorityEnd = target.length;
  for (let i = authorityStart; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === 0x2f /* / */ || c === 0x3f /* ? */) {
      authorityEnd = i;
      break;
    }
  }
  const authority = target.slice(authorityStart, authorityEnd);
  if (authority.length === 0 || authority.charCodeAt(0) === 0x3a /* : (empty host) */) return false;
  if (!isHostValue(authority)) return false;
  return PATH_ABEMPTY_QUERY.test(target.slice(authorityEnd));
}

// RFC 3986 §3.2.2: dec-octet = DIGIT / %x31-39 DIGIT / "1" 2DIGIT / "2" %x30-34 DIGIT / "25" %x30-35
const DEC_OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])';
const IPV4 = new RegExp(`^${DEC_OCTET}(?:\\.${DEC_OCTET}){3}$`);
const H16 = /^[0-9A-Fa-f]{1,4}$/;

/**
 * RFC 3986 §3.2.2 IPv6address: eight h16 groups separated by ":", the last two of which may be an
 * IPv4address, with at most one "::" standing for one or more zero groups.
 */
export function isIPv6(text: string): boolean {
  const gap = text.indexOf('::');
  if (gap === -1) return countGroups(text, true) === 8;
  if (text.indexOf('::', gap + 1) !== -1) return false;
  const head = text.slice(0, gap);
  const tail = text.slice(gap + 2);
  const before = head === '' ? 0 : countGroups(head, false);
  const after = tail === '' ? 0 : countGroups(tail, true);
  return before >= 0 && after >= 0 && before + after <= 7;
}

/** Counts the 16-bit groups in a ":"-separated run, or -1 when it is malformed. */
function countGroups(run: string, mayEndWithIPv4: boolean): number {
  const parts = run.split(':');
  let groups = 0;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (H16.test(part)) groups += 1;
    else if (mayEndWithIPv4 && i === parts.length - 1 && IPV4.test(part)) groups += 2;
    else return -1;
  }
  return groups;
}

/**
 * RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
 * chunk-ext-name = token; chunk-ext-val = token / quoted-string.
 * RFC 9110 §5.6.4: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
 *   qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
 *   quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
 * RFC 9110 §5.6.3: a recipient "MUST parse for such bad whitespace [BWS] and remove it", so BWS
 * is accepted around ";" and "=", but a chunk-size followed by whitespace alone is not a chunk-ext.
 */
const QUOTED_STRING = '"(?:[\\t \\x21\\x23-\\x5b\\x5d-\\x7e\\x80-\\xff]|\\\\[\\t \\x21-\\x7e\\x80-\\xff])*"';
export const CHUNK_EXT = new RegExp(
  `^(?:[ \\t]*;[ \\t]*[${TCHAR}]+(?:[ \\t]*=[ \\t]*(?:[${TCHAR}]+|${QUOTED_STRING}))?)*$`,
);

/**
 * RFC 9110 §10.1.4: transfer-coding = token *( OWS ";" OWS transfer-parameter )
 * transfer-parameter = token BWS "=" BWS ( token / quoted-string )
 */
export const TRANSFER_CODING = new RegExp(
  `^([${TCHAR}]+)((?:[ \\t]*;[ \\t]*[${TCHAR}]+[ \\t]*=[ \\t]*(?:[${TCHAR}]+|${QUOTED_STRING}))*)$`,
);

/** RFC 9110 §8.6: Content-Length = 1*DIGIT */
export const DIGITS = /^[0-9]+$/;

/** RFC 9112 §2.1 HTTP-version = HTTP-name "/" DIGIT "." DIGIT, case-sensitive. */
export const HTTP_VERSION_SHAPE = /^HTTP\/[0-9]\.[0-9]$/;

/** HEXDIG value per byte, 255 for bytes that are not hex digits (RFC 5234 HEXDIG, either case). */
export const HEX_VALUE: Uint8Array = (() => {
  const table = new Uint8Array(256).fill(255);
  for (let i = 0; i < 10; i++) table[0x30 + i] = i;
  for (let i = 0; i < 6; i++) {
    table[0x41 + i] = 10 + i;
    table[0x61 + i] = 10 + i;
  }
  return table;
})();

/** True for SP and HTAB, the characters of OWS (RFC 9110 §5.6.3). */
export function isOWS(code: number): boolean {
  return code === 0x20 || code === 0x09;
}
