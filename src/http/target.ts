/**
 * RFC 9112 §3.2: the four request-target forms, each allowed only where the RFC allows it.
 * Anything else is refused rather than guessed at.
 */

// RFC 3986 §3.3: pchar = unreserved / pct-encoded / sub-delims / ":" / "@"
const PCHAR = "[A-Za-z0-9\\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2}";
// origin-form = absolute-path [ "?" query ];  query = *( pchar / "/" / "?" )
const ORIGIN_FORM = new RegExp(`^(?:/(?:${PCHAR})*)+(?:\\?(?:${PCHAR}|[/?])*)?$`);
// RFC 3986 §3.2.2 host: IP-literal / IPv4address / reg-name; port = *DIGIT
const HOST = `(?:\\[[0-9A-Fa-f:.]+\\]|(?:[A-Za-z0-9\\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+)`;
const AUTHORITY_FORM = new RegExp(`^${HOST}:[0-9]{1,5}$`);
// absolute-form, limited to the schemes an origin server answers for (RFC 9110 §4.2). RFC 9110
// §4.2.4: userinfo is deprecated and "should be treated as an error", so it is not accepted.
const ABSOLUTE_FORM = new RegExp(
  `^[Hh][Tt][Tt][Pp][Ss]?://${HOST}(?::[0-9]*)?(?:/(?:${PCHAR})*)*(?:\\?(?:${PCHAR}|[/?])*)?$`,
);

/** Returns null when the target is acceptable for this method, else why it is not. */
export function checkRequestTarget(method: string, target: string): string | null {
  const first = target.charCodeAt(0);
  if (first === 0x2f /* / */) {
    return ORIGIN_FORM.test(target) ? null : 'invalid characters in the request-target';
  }
  if (target === '*') {
    return method === 'OPTIONS' ? null : 'the asterisk-form request-target is only allowed with OPTIONS';
  }
  if (method === 'CONNECT') {
    return AUTHORITY_FORM.test(target) ? null : 'CONNECT needs an authority-form request-target (host:port)';
  }
  if (ABSOLUTE_FORM.test(target)) return null;
  if (AUTHORITY_FORM.test(target)) return 'the authority-form request-target is only allowed with CONNECT';
  return target === '' ? 'empty request-target' : 'invalid request-target';
}
