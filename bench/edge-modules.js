// Cost per call of the pure modules the engines call per connection or per request: proxy trust
// (src/gateway/forwarded.ts), the PROXY protocol header (src/http/proxy-protocol.ts) and the
// target helpers (src/http/target.ts).
//
//   npx tsc -p tsconfig.json && node bench/edge-modules.js
//
// Each case runs ITERATIONS calls per round; the figure is the median over ROUNDS of ns per call.
// Knobs: ROUNDS (default 15), ITERATIONS (default 200000).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { median } from './lib/stats.js';

const ROOT = resolve(import.meta.dirname, '..');
const ROUNDS = Number(process.env.ROUNDS ?? 15);
const ITERATIONS = Number(process.env.ITERATIONS ?? 200000);
const load = (path) => import(pathToFileURL(resolve(ROOT, 'dist', path)).href);

const { Forwarding, emptyView } = await load('gateway/forwarded.js');
const { ProxyHeaderParser, PROXY_DONE } = await load('http/proxy-protocol.js');
const { splitTarget, decodePath } = await load('http/target.js');

// A browser's request fields (as the parser hands them over: name, value, ...).
const BROWSER = [
  'Host', 'www.example.com', 'Connection', 'keep-alive', 'User-Agent', 'Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0.0.0',
  'Accept', 'text/html,application/xhtml+xml', 'Accept-Encoding', 'gzip, deflate, br', 'Accept-Language', 'en-GB,en;q=0.9',
  'Cookie', 'session=8f2a9c1e4b7d3a6f', 'Sec-Fetch-Site', 'same-origin', 'Sec-Fetch-Mode', 'navigate', 'Referer', 'https://www.example.com/',
];
const NGINX = [...BROWSER, 'X-Forwarded-For', '203.0.113.7, 10.0.0.3', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'www.example.com'];
const RFC7239 = [...BROWSER, 'Forwarded', 'for=203.0.113.7;proto=https;host=www.example.com'];

const forwarding = new Forwarding({
  forwardedAllowIps: ['127.0.0.1', '::1', '10.0.0.0/8'],
  secureSchemeHeaders: { 'X-FORWARDED-PROTOCOL': 'ssl', 'X-FORWARDED-PROTO': 'https', 'X-FORWARDED-SSL': 'on' },
});
const out = emptyView();
const untrusted = { address: '198.51.100.20', port: '50123', scheme: 'http' };
const proxy = { address: '10.0.0.3', port: '50123', scheme: 'http' };

const HTTP = Buffer.from('GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n');
const V1 = Buffer.concat([Buffer.from('PROXY TCP4 203.0.113.7 10.0.0.3 56324 443\r\n'), HTTP]);
const V2 = Buffer.concat([
  Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21, 0x11, 0x00, 0x0c, 203, 0, 113, 7, 10, 0, 0, 3, 0xdc, 0x04, 0x01, 0xbb]),
  HTTP,
]);
const splitOut = { authority: null, path: '', query: '', fragment: null };

let sink = 0;
const CASES = [
  ['Forwarding.trusts(peer), once per connection', () => (sink += forwarding.trusts('198.51.100.20') ? 1 : 0)],
  ['apply: untrusted peer (browser fields)', () => (sink += forwarding.apply(untrusted, false, BROWSER, out) === null ? 1 : 0)],
  ['apply: trusted peer, no forwarding fields', () => (sink += forwarding.apply(proxy, true, BROWSER, out) === null ? 1 : 0)],
  ['apply: trusted, nginx X-Forwarded-* (2 hops)', () => (sink += forwarding.apply(proxy, true, NGINX, out) === null ? 1 : 0)],
  ['apply: trusted, RFC 7239 Forwarded', () => (sink += forwarding.apply(proxy, true, RFC7239, out) === null ? 1 : 0)],
  ['PROXY v1 header, new parser + feed', () => (sink += new ProxyHeaderParser('auto').feed(V1) === PROXY_DONE ? 1 : 0)],
  ['PROXY v2 header, new parser + feed', () => (sink += new ProxyHeaderParser('auto').feed(V2) === PROXY_DONE ? 1 : 0)],
  ['splitTarget /search?q=tsgi#top', () => (sink += splitTarget('/search?q=tsgi#top', splitOut).path.length)],
  ['decodePath /articles/2024/why (plain)', () => (sink += decodePath('/articles/2024/why').length)],
  ['decodePath /caf%C3%A9/na%C3%AFve', () => (sink += decodePath('/caf%C3%A9/na%C3%AFve').length)],
  ['decodePath raw UTF-8 bytes', () => (sink += decodePath('/caf\xc3\xa9/na\xc3\xafve').length)],
];

function time(fn) {
  const started = process.hrtime.bigint();
  for (let i = 0; i < ITERATIONS; i++) fn();
  return Number(process.hrtime.bigint() - started) / ITERATIONS;
}

for (const [, fn] of CASES) time(fn); // warm-up
const samples = CASES.map(() => []);
for (let round = 0; round < ROUNDS; round++) CASES.forEach(([, fn], i) => samples[i].push(time(fn)));
console.log(`ns per call, median of ${ROUNDS} rounds x ${ITERATIONS} calls:`);
CASES.forEach(([name], i) => console.log(`  ${name.padEnd(48)} ${median(samples[i]).toFixed(0).padStart(6)} ns`));
if (sink === 0) console.log('(nothing measured)');
