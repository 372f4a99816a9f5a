// The worker-side cost of --metrics-bind. `node bench/metrics.js [--micro-only]`
//
// 1. Micro: what one finished request costs in the worker, tsgi's counters
//    (src/worker/metrics.ts: typed arrays, RequestCounters.record) against prom-client's
//    (Counter.inc with method/status labels, Histogram.observe, two byte counters), the way its
//    cluster aggregation (AggregatorRegistry) would be fed in each worker. Reports ns per request
//    and the young-generation GCs per million requests (allocation shows up as scavenges).
// 2. End to end: hello-world keep-alive through tsgi with 2 workers, metrics off and on
//    (--metrics-bind), interleaved rounds, server CPU per request from /proc (bench/lib).
// Knobs: ROUNDS (3), DURATION (5), WARMUP (3), CONNECTIONS (64), as in bench/run.js.
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { existsSync } from 'node:fs';
import client from 'prom-client';
import { ROOT, readKnobs } from './lib/config.js';
import { LoadGenerator } from './lib/load.js';
import { deriveRun, snapshot } from './lib/measure.js';
import { launchServer, stopServer } from './lib/servers.js';
import { median } from './lib/stats.js';

if (!existsSync(`${ROOT}/dist/cli.js`)) throw new Error('dist/ is missing: run `npm run build` first');
const { RequestCounters } = await import(`${ROOT}/dist/worker/metrics.js`);

const METHODS = ['GET', 'GET', 'GET', 'POST', 'HEAD'];
const STATUSES = [200, 200, 200, 404, 304, 500];
function records(n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    out.push({ environ: null, method: METHODS[i % METHODS.length], target: '/', protocol: 'HTTP/1.1', remoteAddr: '127.0.0.1', status: STATUSES[i % STATUSES.length], responseHeaders: [], bytesSent: 13, bytesReceived: 0, startedAt: 0, durationMs: (i % 50) / 10, outcome: 'ok' });
  }
  return out;
}

function promClientRecorder() {
  const registry = new client.Registry();
  const requests = new client.Counter({ name: 'req_total', help: 'h', labelNames: ['method', 'status'], registers: [registry] });
  const duration = new client.Histogram({ name: 'req_seconds', help: 'h', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] });
  const bytesIn = new client.Counter({ name: 'in_total', help: 'h', registers: [registry] });
  const bytesOut = new client.Counter({ name: 'out_total', help: 'h', registers: [registry] });
  return (r) => {
    requests.inc({ method: r.method, status: r.status });
    duration.observe(r.durationMs / 1000);
    bytesIn.inc(r.bytesReceived);
    bytesOut.inc(r.bytesSent);
  };
}

async function timeIt(label, fn, sample, iterations) {
  let scavenges = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if ((e.detail?.kind ?? e.kind) === constants.NODE_PERFORMANCE_GC_MINOR) scavenges++;
  });
  obs.observe({ entryTypes: ['gc'] });
  for (let i = 0; i < 200_000; i++) fn(sample[i % sample.length]);
  scavenges = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn(sample[i % sample.length]);
  const ns = Number(process.hrtime.bigint() - t0) / iterations;
  // GC entries are delivered asynchronously.
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  return { label, ns, scavengesPerMillion: (scavenges * 1e6) / iterations };
}

async function micro() {
  const sample = records(1000);
  const counters = new RequestCounters({ sampleDurations: false });
  const rows = [];
  for (let round = 0; round < 3; round++) {
    rows.push(await timeIt('tsgi RequestCounters.record', (r) => counters.record(r), sample, 2_000_000));
    rows.push(await timeIt('prom-client inc/observe', promClientRecorder(), sample, 2_000_000));
  }
  console.log('micro: per finished request, in the worker (3 interleaved rounds, median)');
  for (const label of [...new Set(rows.map((r) => r.label))]) {
    const mine = rows.filter((r) => r.label === label);
    console.log(`  ${label.padEnd(30)} ${median(mine.map((r) => r.ns)).toFixed(1).padStart(7)} ns   ${median(mine.map((r) => r.scavengesPerMillion)).toFixed(1).padStart(6)} scavenges / 1M requests`);
  }
}

async function endToEnd() {
  const knobs = { ...readKnobs(), rounds: Number(process.env.ROUNDS ?? 3), durationS: Number(process.env.DURATION ?? 5), warmupS: Number(process.env.WARMUP ?? 3) };
  const node = process.execPath;
  const def = (id, extra) => ({
    id,
    label: id,
    command: [node, 'bin/tsgi.js', '--workers', '2', '--bind', '127.0.0.1:0', ...extra, 'examples/hello:app'],
    env: {},
    cwd: ROOT,
    workers: 2,
  });
  const defs = [def('metrics-off', []), def('metrics-on', ['--metrics-bind', '127.0.0.1:0'])];
  const servers = [];
  const loadgen = new LoadGenerator();
  try {
    for (const d of defs) {
      const s = launchServer(d);
      servers.push(s);
      await s.ready;
    }
    await loadgen.start();
    const runs = [];
    const once = async (server, durationS) => {
      const job = { url: server.url, mode: 'keepalive', connections: knobs.connections, duration: durationS, timeout: 10 };
      const neighbours = servers.filter((s) => s !== server);
      const { started, ended, load } = await loadgen.run(job, { before: () => snapshot(server, neighbours), after: () => snapshot(server, neighbours) });
      return deriveRun({ before: started, after: ended, load, nproc: 2 });
    };
    for (const s of servers) if (knobs.warmupS > 0) await once(s, knobs.warmupS);
    for (let round = 1; round <= knobs.rounds; round++) {
      // Alternate which goes first, so neither always runs on a warmer machine.
      const order = round % 2 === 1 ? servers : [...servers].reverse();
      for (const s of order) {
        const r = await once(s, knobs.durationS);
        runs.push({ id: s.def.id, round, ...r });
        console.log(`  round ${round} ${s.def.id.padEnd(12)} ${String(r.rps).padStart(9)} req/s  ${String(r.serverCpuUsPerRequest).padStart(6)} µs server CPU/request  errors ${r.errors}`);
        await new Promise((res) => setTimeout(res, 1000));
      }
    }
    const med = (id, key) => median(runs.filter((r) => r.id === id).map((r) => r[key]));
    const off = med('metrics-off', 'serverCpuUsPerRequest');
    const on = med('metrics-on', 'serverCpuUsPerRequest');
    console.log(`end to end (median of ${knobs.rounds}): metrics off ${off} µs, on ${on} µs server CPU per request: on/off = ${(on / off).toFixed(3)}`);
  } finally {
    await loadgen.stop();
    for (const s of servers) await stopServer(s);
  }
}

await micro();
if (!process.argv.includes('--micro-only')) await endToEnd();
