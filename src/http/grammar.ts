/**
 * The ABNF of RFC 9110 / RFC 9112 / RFC 3986 that the request parser needs, compiled once into
 * regular expressions and byte tables. This is the one place the grammar is written: the parser's
 * fast and slow paths, the node engine's checks and the response-header checks all use it. Every
 * pattern is anchored and built so that no input can make it backtrack more than linearly (the
 * alternatives inside each repetition start with disjoint characters).
 *
 * The strings tested here are latin1 decodings of the received bytes, so one character is one
 * byte and `\x80-\xff` stands for obs-text.
 */

// RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
//                          "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
const TCHAR = "!#$%&'*+\\-.^_`|~0-9A-Za-z";
// RFC 9110 §5.5: field-vchar = VCHAR / obs-text; field-content allows SP and HTAB between them.
// So a field value with its OWS is any run of HTAB, SP, VCHAR and obs-text: no CTL, no DEL.
const FIELD_CHAR = '\\t\\x20-\\x7e\\x80-\\xff';
// What a request-target may hold on the request-line: visible characters and obs-text, never SP
// or a control. The target's own grammar (below) is checked once the line is split.
const TARGET_CHAR = '\\x21-\\x7e\\x80-\\xff';

// The grammar of a request head, written once. Every head regex below is built from these sources,
// so the fast path (WELL_FORMED_HEAD over a whole head, FIELD_LINES over a section) and the
// line-by-line slow path that names what is wrong (REQUEST_LINE, FIELD_LINE) accept exactly the
// same lines. The slow path's procedural checks only explain a line these refused; they never
// decide validity.
//
// RFC 9112 §5: field-line = field-name ":" OWS field-value OWS. A line that starts with SP or
// HTAB (obs-fold, RFC 9112 §5.2) cannot match: the name needs a tchar. Nor can whitespace before
// the colon (RFC 9112 §5.1).
const FIELD_LINE_SOURCE = `[${TCHAR}]+:[${FIELD_CHAR}]*`;
// RFC 9112 §3: request-line = method SP request-target SP HTTP-version; method = token
// (RFC 9110 §9.1); tsgi speaks HTTP/1.1 and HTTP/1.0 only (RFC 9112 §2.3).
const REQUEST_LINE_SOURCE = `[${TCHAR}]+ [${TARGET_CHAR}]+ HTTP/1\\.[01]`;

/** RFC 9110 §5.6.2: token = 1*tchar */
export const TOKEN = new RegExp(`^[${TCHAR}]+$`);

/** A field value, OWS included: HTAB / SP / VCHAR / obs-text only (no CR, LF, NUL or other CTL). */
export const FIELD_VALUE = new RegExp(`^[${FIELD_CHAR}]*$`);

/** One field line, without its CRLF. */
export const FIELD_LINE = new RegExp(`^${FIELD_LINE_SOURCE}$`);

/** A whole run of field lines, each with its CRLF, so a well-formed section costs one regex run. */
export const FIELD_LINES = new RegExp(`^(?:${FIELD_LINE_SOURCE}\\r\\n)*$`);

/**
 * FIELD_LINES followed by the empty line, sticky, so it can start after the request-line (set
 * lastIndex) and stop at the end of the head without slicing the decoded string.
 */
export const FIELD_LINES_AT = new RegExp(`(?:${FIELD_LINE_SOURCE}\\r\\n)*\\r\\n`, 'y');

/** One request-line, without its CRLF; the target's own form is checked apart (checkTarget). */
export const REQUEST_LINE = new RegExp(`^${REQUEST_LINE_SOURCE}$`);

/**
 * A whole head: the request-line, the field lines, then the empty line. Sticky: it runs from the
 * start of a decoded buffer and stops at the first empty line, where its lastIndex lands. A head
 * that fails it is invalid, or not complete yet; the slow path finds out which line and why.
 */
export const WELL_FORMED_HEAD = new RegExp(`${REQUEST_LINE_SOURCE}\\r\\n(?:${FIELD_LINE_SOURCE}\\r\\n)*\\r\\n`, 'y');

// RFC 3986 §2: unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
//              sub-delims = "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "="
//              pct-encoded = "%" HEXDIG HEXDIG
const UNRESERVED_SUB_DELIMS = "A-Za-z0-9\\-._~!$&'()*+,;=";
const PCT_ENCODED = '%[0-9A-Fa-f]{2}';

// The path, query and fragment of a request-target. RFC 3986 §3.3-§3.5 allow pchar, "/" and "?"
// there, but real clients also send the visible characters RFC 3986 leaves out (" < > \ ^ ` { | })
// and raw bytes 0x80-0xFF (a UTF-8 path from a client that does not percent-encode), and
// Gunicorn, h11 and node:http serve them. None of them can change where a request ends, so tsgi
// accepts them too. What stays refused: SP and controls (they end or break the request-line), and
// a "%" that does not start a pct-encoded octet, whose meaning differs from one decoder to the
// next (a classic way to make a proxy and an app disagree on a path). "#" starts the fragment
// (RFC 3986 §3.5): RFC 9112 §3.2 leaves it out of a request-target, but clients send one, so it is
// accepted, and kept out of the path and the query.
const PATH_CHAR = '\\x21\\x22\\x24\\x26-\\x7e\\x80-\\xff'; // visible and obs-text but "#" and "%"
const PATH_QUERY = `(?:[${PATH_CHAR}]|${PCT_ENCODED})*`;
const FRAGMENT = `(?:#(?:[#${PATH_CHAR}]|${PCT_ENCODED})*)?`;

/** RFC 9112 §3.2.1: origin-form = absolute-path [ "?" query ], widened as described above. */
export const ORIGIN_FORM = new RegExp(`^/${PATH_QUERY}${FRAGMENT}$`);
/** The common case of ORIGIN_FORM: no "%" and no "#"; tested first because it is cheaper. */
export const ORIGIN_FORM_PLAIN = new RegExp(`^/[${PATH_CHAR}]*$`);

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
// RFC 3986 §3.3: path-abempty = *( "/" segment ), then [ "?" query ], then the fragment, all
// widened as for the origin-form.
const PATH_ABEMPTY_QUERY = new RegExp(`^(?:[/?]${PATH_QUERY})?${FRAGMENT}$`);

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
    if (c === 0x2f /* / */ || c === 0x3f /* ? */ || c === 0x23 /* # */) {
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
