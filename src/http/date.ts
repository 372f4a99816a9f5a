/**
 * RFC 9110 §6.6.1: "An origin server with a clock MUST generate a Date header field in all 2xx,
 * 3xx and 4xx responses". The value changes once a second, so it is formatted once a second rather
 * than once per response.
 */
let cached = new Date().toUTCString();
let cachedAt = Date.now();

/** The IMF-fixdate for `now` (ms since the epoch; the clock when omitted). */
export function httpDate(now = Date.now()): string {
  if (now - cachedAt >= 1000) {
    cached = new Date(now).toUTCString();
    cachedAt = now - (now % 1000);
  }
  return cached;
}
