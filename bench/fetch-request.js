// What the WHATWG Request given to a fetch app costs per request: `new Request()` against the lazy
// Request (src/gateway/interfaces/fetch-request.ts) that creates the genuine one only when more than
// method, URL, headers or signal is asked of it. In process, no sockets: the environ comes from the
// server's buildEnviron(), the app is called through fromFetch() as the worker calls it.
// Interleaved rounds; the figure is CPU microseconds per request (process.cpuUsage).
//
//   npx tsc -p tsconfig.json && node bench/fetch-request.js        ROUNDS=5 N=20000 by default
import { Hono } from 'hono';
import { buildEnviron } from '../dist/gateway/environ.js';
import { EMPTY_INPUT } from '../dist/gateway/input.js';
import { callApp } from '../dist/gateway/interfaces/app-call.js';
import { fromFetch } from '../dist/gateway/interfaces/fetch.js';
import { genuineRequest, lazyRequest } from '../dist/gateway/interfaces/fetch-request.js';
import { median } from './lib/stats.js';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const N = Number(process.env.N ?? 20000);

const hono = new Hono();
hono.get('/', (c) => c.json({ message: 'Hello, World!' }));
hono.get('/header', (c) => c.json({ agent: c.req.header('user-agent') }));

const headers = ['Host', 'localhost:8000', 'User-Agent', 'autocannon', 'Accept', '*/*', 'Accept-Encoding', 'gzip, deflate', 'Cookie', 'session=abc'];
const conn = { serverName: '127.0.0.1', serverPort: '8000', remoteAddr: '127.0.0.1', remotePort: '50000', scheme: 'http', unix: false };
const server = { scriptName: '', multiprocess: true, errors: { write() {}, flush() {} } };
const environ = (path) => buildEnviron('GET', path, 1, headers, EMPTY_INPUT, conn, server);

const apps = { lazy: fromFetch(hono, { request: 'lazy' }), genuine: fromFetch(hono, { request: 'genuine' }) };

async function request(app, path) {
  const response = await callApp(app, environ(path));
  while ((await response.next()) !== null);
}

const cases = [
  ['Request object alone', (kind) => () => (kind === 'lazy' ? lazyRequest : genuineRequest)(environ('/'))],
  ['Hono GET / (JSON)', (kind) => () => request(apps[kind], '/')],
  ['Hono GET /header (reads a header)', (kind) => () => request(apps[kind], '/header')],
];

async function cpuPerCall(fn) {
  const start = process.cpuUsage();
  for (let i = 0; i < N; i++) await fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / N;
}

const figures = {};
for (const [name, make] of cases) {
  figures[name] = { lazy: [], genuine: [] };
  for (const kind of ['lazy', 'genuine']) for (let i = 0; i < N / 4; i++) await make(kind)(); // warm-up
}
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, make] of cases) for (const kind of round % 2 === 0 ? ['lazy', 'genuine'] : ['genuine', 'lazy']) figures[name][kind].push(await cpuPerCall(make(kind)));
}
console.log(`Node ${process.version}, ${ROUNDS} interleaved rounds x ${N} requests; CPU us per request, median`);
console.log('| case | lazy | genuine new Request() | saved by lazy |\n|---|---:|---:|---:|');
for (const [name] of cases) {
  const lazy = median(figures[name].lazy);
  const genuine = median(figures[name].genuine);
  console.log(`| ${name} | ${lazy.toFixed(2)} | ${genuine.toFixed(2)} | ${(genuine - lazy).toFixed(2)} us (${((1 - lazy / genuine) * 100).toFixed(0)}%) |`);
}
