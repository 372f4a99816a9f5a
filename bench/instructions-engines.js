// Instructions per request on either engine (the node engine with its ledger included), counted by callgrind: a TSGI `Hello, World!` app on an
// engine created in this process, driven over a real loopback connection by a client in the same
// process (one keep-alive connection, one request at a time, so every request is one read of its
// own, the common case; a fake socket would not do for the node engine, whose llhttp reads real
// sockets in C++). The same script is counted with 0, N and 2N requests:
// - perRequest: (count(N) - count(0)) / N, start-up excluded, warm-up (JIT) included;
// - steadyState: (count(2N) - count(N)) / N, the cost of a request once the code is warm.
// Both include the client's share, which is the same code in every run.
//
//   npx tsc -p tsconfig.json
//   node bench/instructions-engines.js --callgrind [--engine node|tsgi] [--dist DIR] [--requests N]
//
// --callgrind runs the counts under `valgrind --tool=callgrind` with `node --single-threaded
// --predictable`; without it the script only drives N requests (what callgrind runs). --dist
// points at another build (say, of main in a temporary copy) to compare two trees in one run.
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import net from 'node:net';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at === -1 ? fallback : args[at + 1];
};
const ENGINE = option('--engine', 'node');
const DIST = resolve(option('--dist', resolve(import.meta.dirname, '..', 'dist')));
const REQUESTS = Number(option('--requests', process.env.REQUESTS ?? 2000));
const REQUEST = Buffer.from('GET /hello HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench/1\r\nAccept: */*\r\n\r\n', 'latin1');

if (args.includes('--callgrind')) {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-callgrind-'));
  const count = (n) => {
    const out = join(dir, `cg.${n}`);
    execFileSync(
      'valgrind',
      ['--tool=callgrind', `--callgrind-out-file=${out}`, process.execPath, '--single-threaded', '--predictable', import.meta.filename, '--engine', ENGINE, '--dist', DIST, '--requests', String(n)],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const totals = /^(?:summary|totals): (\d+)/m.exec(readFileSync(out, 'utf8'));
    return Number(totals[1]);
  };
  try {
    const base = count(0);
    const once = count(REQUESTS);
    const twice = count(2 * REQUESTS);
    console.log(
      JSON.stringify({ engine: ENGINE, dist: DIST, requests: REQUESTS, perRequest: Math.round((once - base) / REQUESTS), steadyState: Math.round((twice - once) / REQUESTS) }),
    );
  } finally {
    for (const f of readdirSync(dir)) rmSync(join(dir, f));
    rmSync(dir, { recursive: true });
  }
} else {
  await drive();
}

async function drive() {
  const { NodeEngine } = await import(pathToFileURL(join(DIST, 'engines/node.js')).href);
  const { TsgiEngine } = await import(pathToFileURL(join(DIST, 'engines/tsgi.js')).href);
  const { DEFAULT_LIMITS } = await import(pathToFileURL(join(DIST, 'http/events.js')).href);
  const noop = () => {};
  const log = { info: noop, warn: noop, error: noop, debug: noop, fatal: noop, trace: noop, child: () => log };
  const app = (environ, startResponse) => {
    startResponse('200 OK', [['Content-Type', 'text/plain']]);
    return ['Hello, World!'];
  };
  const Engine = ENGINE === 'node' ? NodeEngine : TsgiEngine;
  const engine = new Engine({
    app,
    log,
    server: { scriptName: '', multiprocess: true, errors: { write: noop, writeLines: noop, flush: noop } },
    limits: DEFAULT_LIMITS,
    keepalive: 5,
    backlog: 511,
  });
  const listener = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => listener.once('listening', r));
  const port = listener.address().port;
  // The engine listens on the bound handle, as a worker does with the master's.
  const handle = listener._handle;
  listener._handle = null;
  await engine.listen(handle);
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise((r) => socket.once('connect', r));
  let answered = 0;
  await new Promise((resolve) => {
    if (REQUESTS === 0) return resolve();
    let pending = '';
    socket.on('data', (d) => {
      pending += d.toString('latin1');
      // One response per request: its body ends the bytes received.
      while (pending.includes('Hello, World!')) {
        pending = pending.slice(pending.indexOf('Hello, World!') + 13);
        if (++answered === REQUESTS) return resolve();
        socket.write(REQUEST);
      }
    });
    socket.write(REQUEST);
  });
  socket.destroy();
  engine.destroy();
  if (answered !== REQUESTS) throw new Error(`answered ${answered} of ${REQUESTS} requests`);
  if (process.env.VERBOSE) console.error(`${ENGINE}: ${answered} requests answered`);
}
