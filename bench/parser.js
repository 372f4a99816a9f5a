// Micro-benchmark of the sans-IO request parser: a typical browser GET head, and a pipelined batch
// of small API requests in one buffer, parsed the way a keep-alive connection parses them (one
// parser, HEAD, END, PAUSED, startNextRequest()).
//
//   node bench/parser.js                          # dist/ only
//   node bench/parser.js --baseline /tmp/old/dist # dist/ against another build, interleaved
//
// Each round runs every (build, case) pair once, in alternating order; the figure is the median
// of the rounds, in nanoseconds per request. Knobs: ROUNDS (default 61), ITERATIONS (requests per
// run, default 20000), PROCESSES (per build, default 3).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { median } from './lib/stats.js';

const ROOT = resolve(import.meta.dirname, '..');
const argv = process.argv.slice(2);
const baselineAt = argv.indexOf('--baseline');
const builds = [{ name: 'dist', dir: resolve(ROOT, 'dist') }];
if (baselineAt !== -1) builds.unshift({ name: 'baseline', dir: resolve(argv[baselineAt + 1]) });

const ROUNDS = Number(process.env.ROUNDS ?? 61);
const ITERATIONS = Number(process.env.ITERATIONS ?? 20000);
// Two processes of the same code settle at speeds several percent apart (JIT decisions differ),
// so each build runs in several processes and every one of them takes part in every round.
const PROCESSES = Number(process.env.PROCESSES ?? 3);

// What Chrome 126 sends for a page load (cookies shortened), 16 fields, about 800 bytes.
const BROWSER_GET =
  'GET /articles/2024/06/why-pre-fork?ref=home&utm_source=newsletter HTTP/1.1\r\n' +
  'Host: www.example.com\r\n' +
  'Connection: keep-alive\r\n' +
  'sec-ch-ua: "Not/A)Brand";v="8", "Chromium";v="126", "Google Chrome";v="126"\r\n' +
  'sec-ch-ua-mobile: ?0\r\n' +
  'sec-ch-ua-platform: "Linux"\r\n' +
  'Upgrade-Insecure-Requests: 1\r\n' +
  'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36\r\n' +
  'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7\r\n' +
  'Sec-Fetch-Site: same-origin\r\n' +
  'Sec-Fetch-Mode: navigate\r\n' +
  'Sec-Fetch-User: ?1\r\n' +
  'Sec-Fetch-Dest: document\r\n' +
  'Referer: https://www.example.com/\r\n' +
  'Accept-Encoding: gzip, deflate, br, zstd\r\n' +
  'Accept-Language: en-GB,en;q=0.9,de;q=0.8\r\n' +
  'Cookie: session=8f2a9c1e4b7d3a6f; theme=dark; _ga=GA1.1.123456789.1718000000\r\n' +
  '\r\n';

// A small API request as load generators and service clients send it, 32 of them in one buffer.
const API_GET = 'GET /api/v1/items/42 HTTP/1.1\r\nHost: api.internal:8000\r\nUser-Agent: bench/1.0\r\nAccept: application/json\r\n\r\n';
const PIPELINE_DEPTH = 32;

const CASES = [
  { name: 'browser GET head', buffer: Buffer.from(BROWSER_GET, 'latin1'), requests: 1 },
  { name: `pipelined batch (${PIPELINE_DEPTH} GETs)`, buffer: Buffer.from(API_GET.repeat(PIPELINE_DEPTH), 'latin1'), requests: PIPELINE_DEPTH },
];

const HEAD = 1;
const END = 3;
const PAUSED = 4;

/** Parses `buffer` `times` times on one parser; returns ns per request. */
function run(Parser, { buffer, requests }, times) {
  const parser = new Parser();
  let seen = 0;
  const feeds = Math.max(1, Math.round(times / requests));
  const started = process.hrtime.bigint();
  for (let i = 0; i < feeds; i++) {
    parser.feed(buffer);
    for (let r = 0; r < requests; r++) {
      if (parser.next() !== HEAD) throw new Error(`no HEAD: ${parser.error?.message}`);
      seen += parser.head.headers.length;
      if (parser.next() !== END) throw new Error('no END');
      if (parser.next() !== PAUSED) throw new Error('no PAUSED');
      parser.startNextRequest();
    }
  }
  const ns = Number(process.hrtime.bigint() - started);
  if (seen === 0) throw new Error('nothing parsed');
  return ns / (feeds * requests);
}

// Each build runs in its own child process, so that no call site sees two parser classes (which
// would slow whichever build runs second); the parent only orders the rounds.
if (process.argv.includes('--child')) {
  const dir = argv[argv.indexOf('--child') + 1];
  const { RequestParser } = await import(pathToFileURL(resolve(dir, 'http/parser.js')).href);
  // Warm-up: reach the optimising tier on every case before the first measured round.
  for (const c of CASES) run(RequestParser, c, ITERATIONS);
  process.on('message', (index) => process.send(run(RequestParser, CASES[index], ITERATIONS)));
  process.send('ready');
} else {
  const { fork } = await import('node:child_process');
  const start = (build) =>
    new Promise((ready, fail) => {
      const child = fork(import.meta.filename, ['--child', build.dir], { stdio: 'inherit' });
      child.once('message', () => ready(child));
      child.once('error', fail);
    });
  const children = [];
  for (const build of builds) {
    build.children = [];
    for (let i = 0; i < PROCESSES; i++) build.children.push(await start(build));
    children.push(...build.children);
  }
  const measure = (child, index) =>
    new Promise((done) => {
      child.once('message', done);
      child.send(index);
    });
  try {
    const samples = new Map(builds.flatMap((b) => CASES.map((c) => [`${b.name}|${c.name}`, []])));
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? builds : [...builds].reverse();
      for (let index = 0; index < CASES.length; index++) {
        for (let p = 0; p < PROCESSES; p++) {
          for (const build of order) samples.get(`${build.name}|${CASES[index].name}`).push(await measure(build.children[p], index));
        }
      }
    }
    console.log(`parser micro-bench: median of ${ROUNDS} interleaved rounds x ${PROCESSES} processes per build, ${ITERATIONS} requests per run, ns per request`);
    for (const c of CASES) {
      const cells = builds.map((b) => ({ name: b.name, m: median(samples.get(`${b.name}|${c.name}`)) }));
      const line = cells.map(({ name, m }) => `${name} ${m.toFixed(0)} ns`).join('   ');
      const ratio = cells.length === 2 ? `   (dist / baseline ${(cells[1].m / cells[0].m).toFixed(3)})` : '';
      console.log(`  ${c.name.padEnd(28)} ${line}${ratio}`);
    }
  } finally {
    for (const child of children) child.kill();
  }
}
