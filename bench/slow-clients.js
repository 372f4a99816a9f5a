// Slow clients against a normal one, on loopback: COUNT connections trickle a request head one byte
// a second and never finish it, while a normal client is served by the same 2 workers. Reports the
// normal client's latency before and during (p50, p99, max; keep-alive and a new connection per
// request), when the slow connections were cut (from each one's connect; --header-timeout counts
// from there) and what they got, and the workers' CPU while they were held.
//
//   npx tsc -p tsconfig.json && node bench/slow-clients.js
//
// Knobs: SLOW (default "1000,5000"; 5000 needs the file-descriptor limit to allow it), ENGINES
// (default "tsgi,node"), HEADER_TIMEOUT (seconds, default 10), TRICKLE_MS (default 1000),
// BASELINE_S (default 3). Every run stops by itself (the slow clients give up HEADER_TIMEOUT + 15 s
// after they start) and every server is stopped by PID. Raw figures go to bench/results/.
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { resolve } from 'node:path';
import { launchServer, stopServer } from './lib/servers.js';
import { readPidStat, CLK_TCK } from './lib/procfs.js';

const ROOT = resolve(import.meta.dirname, '..');
const SLOW = (process.env.SLOW ?? '1000,5000').split(',').map(Number);
const ENGINES = (process.env.ENGINES ?? 'tsgi,node').split(',');
const HEADER_TIMEOUT = Number(process.env.HEADER_TIMEOUT ?? 10);
const TRICKLE_MS = Number(process.env.TRICKLE_MS ?? 1000);
const BASELINE_S = Number(process.env.BASELINE_S ?? 3);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** `latencies`: [ms, when it started (ms since `origin`)] pairs. */
function summary(latencies) {
  const sorted = latencies.map(([ms]) => ms).sort((a, b) => a - b);
  const worst = latencies.reduce((w, l) => (w === null || l[0] > w[0] ? l : w), null);
  return { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? null, maxAtS: worst === null ? null : worst[1] / 1000 };
}

/** GET / until `done()`, one at a time; keepAlive false opens a connection per request (paced). */
function normalClient(port, keepAlive, done, origin = performance.now()) {
  const agent = new http.Agent({ keepAlive, maxSockets: 1 });
  const latencies = [];
  let errors = 0;
  const one = () =>
    new Promise((resolveOne) => {
      const t = performance.now();
      const req = http.get({ host: '127.0.0.1', port, path: '/', agent, timeout: 30_000 }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) latencies.push([performance.now() - t, t - origin]);
          else errors++;
          resolveOne();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => {
        errors++;
        resolveOne();
      });
    });
  return (async () => {
    while (!done()) {
      await one();
      if (!keepAlive) await sleep(20);
    }
    agent.destroy();
    return { ...summary(latencies), errors };
  })();
}

function workerCpu(server) {
  const { workers } = server.processes();
  let ticks = 0;
  for (const pid of workers) ticks += readPidStat(pid)?.cpuTicks ?? 0;
  return ticks / CLK_TCK;
}

async function measure(engine, slow) {
  const server = launchServer({
    id: `tsgi-${engine}`,
    cwd: ROOT,
    workers: 2,
    command: [process.execPath, 'bin/tsgi.js', '--http', engine, '--workers', '2', '-b', '127.0.0.1:0', '--header-timeout', String(HEADER_TIMEOUT), '--worker-connections', String(slow + 200), 'examples/hello:app'],
  });
  try {
    await server.ready;
    const port = server.port;
    let stop = false;
    const until = Date.now() + BASELINE_S * 1000;
    const [baseKeep, baseNew] = await Promise.all([normalClient(port, true, () => Date.now() > until), normalClient(port, false, () => Date.now() > until)]);

    const child = fork(resolve(import.meta.dirname, 'lib/slow-child.js'), [String(port), String(slow), String(TRICKLE_MS), String(HEADER_TIMEOUT * 1000 + 15_000)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const report = new Promise((resolveReport, reject) => {
      child.on('message', (m) => {
        if (m.started === undefined) resolveReport(m);
      });
      child.on('exit', (code) => (code !== 0 ? reject(new Error(`slow clients exited with ${code}`)) : undefined));
    });
    const cpuBefore = workerCpu(server);
    const wallBefore = performance.now();
    const during = Promise.all([normalClient(port, true, () => stop), normalClient(port, false, () => stop)]);
    const slowReport = await report;
    const cpuS = workerCpu(server) - cpuBefore;
    const wallS = (performance.now() - wallBefore) / 1000;
    stop = true;
    const [duringKeep, duringNew] = await during;
    const cut = slowReport.cutMs;
    return {
      engine,
      slow,
      baseline: { keepAlive: baseKeep, newConnection: baseNew },
      during: { keepAlive: duringKeep, newConnection: duringNew },
      slowClients: { ...slowReport, cutMs: undefined, cut: { n: cut.length, min: cut[0] ?? null, p50: percentile(cut, 50), p99: percentile(cut, 99), max: cut.at(-1) ?? null } },
      workerCpuS: cpuS,
      wallS,
    };
  } finally {
    await stopServer(server);
  }
}

const f = (ms) => (ms === null ? '-' : ms < 10 ? ms.toFixed(2) : ms.toFixed(0));
const results = [];
for (const slow of SLOW) {
  for (const engine of ENGINES) {
    const r = await measure(engine, slow);
    results.push(r);
    const s = r.slowClients;
    console.log(`\n${engine} engine, ${slow} slow connections (--header-timeout ${HEADER_TIMEOUT}, one byte per ${TRICKLE_MS} ms each):`);
    for (const [name, key] of [['keep-alive:    ', 'keepAlive'], ['new connection:', 'newConnection']]) {
      const before = r.baseline[key];
      const during = r.during[key];
      console.log(`  normal client, ${name} before p50 ${f(before.p50)} ms p99 ${f(before.p99)} ms | during p50 ${f(during.p50)} ms p99 ${f(during.p99)} ms max ${f(during.max)} ms at ${during.maxAtS?.toFixed(1)} s (${during.n} requests, ${during.errors} errors)`);
    }
    console.log(`  slow connections: ${s.opened} opened (${s.failed} failed to connect), ${s.cut.n} cut after ${f(s.cut.min)} / ${f(s.cut.p50)} / ${f(s.cut.p99)} / ${f(s.cut.max)} ms (min / p50 / p99 / max from connect), ${s.got408} got 408, ${s.closedSilently} closed silently, ${s.stillOpen} still open`);
    console.log(`  workers' CPU while they were held: ${r.workerCpuS.toFixed(2)} s over ${r.wallS.toFixed(1)} s`);
  }
}
mkdirSync(resolve(ROOT, 'bench/results'), { recursive: true });
const file = resolve(ROOT, `bench/results/slow-clients-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ headerTimeout: HEADER_TIMEOUT, trickleMs: TRICKLE_MS, results }, null, 2));
console.log(`\nraw figures: ${file}`);
