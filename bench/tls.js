// The TLS benchmark: tsgi serving https itself (--certfile, both engines) against node:https behind
// node:cluster, 2 workers each, the hello app, autocannon over TLS with keep-alive and with a new
// connection (a full TLS handshake) per request. Rounds are interleaved (every server once per mode
// per round); the figure that counts is requests per server CPU-second, from /proc. The
// certificate is an ECDSA P-256 one made by openssl for the run.
//
//   npx tsc -p tsconfig.json && node bench/tls.js
//   ROUNDS=1 DURATION=2 WARMUP=1 node bench/tls.js      # a smoke run
//   node bench/tls.js --from bench/results/tls-X.json   # re-render a saved run
//
// Knobs as bench/run.js (ROUNDS, DURATION, WARMUP, PAUSE, CONNECTIONS); results go to
// bench/results/tls-<timestamp>.json. Every server is stopped by PID at the end, on error and on
// SIGINT/SIGTERM.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { FULL_RUN, ROOT, WORKERS, readKnobs } from './lib/config.js';
import { LoadGenerator } from './lib/load.js';
import { describeMachine } from './lib/machine.js';
import { deriveRun, snapshot } from './lib/measure.js';
import { launchServer, stopperFor } from './lib/servers.js';
import { median, ratio } from './lib/stats.js';

const BASELINE = 'https-cluster-rr';
const MODES = [
  { id: 'keepalive', label: 'keep-alive', servers: ['tsgi-tsgi', 'tsgi-node', 'https-cluster-rr'] },
  { id: 'close', label: 'new connection per request', servers: ['tsgi-tsgi', 'tsgi-node', 'https-cluster-rr', 'https-cluster-none'] },
];

function certificate() {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-bench-tls-'));
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', 'key.pem', '-out', 'cert.pem'],
    { cwd: dir, stdio: 'ignore', timeout: 60_000 },
  );
  return { dir, cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
}

function definitions(files) {
  const node = process.execPath;
  const tsgi = (engine) => ({
    id: `tsgi-${engine}`,
    label: `tsgi --http ${engine} --certfile`,
    command: [node, 'bin/tsgi.js', '--workers', String(WORKERS), '--bind', '127.0.0.1:0', '--http', engine, '--certfile', files.cert, '--keyfile', files.key, 'examples/hello:app'],
    env: {},
  });
  const cluster = (sched) => ({
    id: `https-cluster-${sched ?? 'rr'}`,
    label: `node:https + cluster (${sched === 'none' ? 'SCHED_NONE' : 'default, RR'})`,
    command: [node, 'bench/baseline/cluster-https.js'],
    env: { WORKERS: String(WORKERS), HOST: '127.0.0.1', PORT: '0', CERT: files.cert, KEY: files.key, ...(sched ? { SCHED: sched } : {}) },
  });
  return [tsgi('tsgi'), tsgi('node'), cluster(null), cluster('none')].map((def) => ({ ...def, cwd: ROOT, workers: WORKERS }));
}

const servers = [];
const loadgen = new LoadGenerator();
let files = null;
const cleanup = stopperFor(servers, loadgen, () => files !== null && rmSync(files.dir, { recursive: true, force: true }));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function run(knobs, machine, server, mode, durationS, round) {
  const neighbours = servers.filter((s) => s !== server);
  const job = { url: server.url, mode: mode.id, connections: knobs.connections, duration: durationS, timeout: knobs.timeoutS };
  const { started, ended, load } = await loadgen.run(job, { before: () => snapshot(server, neighbours), after: () => snapshot(server, neighbours) });
  const derived = deriveRun({ before: started, after: ended, load, nproc: machine.nproc });
  console.log(
    `${round === 0 ? 'warm-up' : `round ${round}`}  ${mode.label.padEnd(27)} ${server.def.label.padEnd(36)} ${String(derived.rps).padStart(8)} req/s  ${String(derived.requestsPerServerCpuS).padStart(7)} req/CPU-s  p99 ${derived.latencyMs?.p99 ?? '-'} ms  ${derived.errors + derived.non2xx} errors`,
  );
  return { round, mode: mode.id, server: server.def.id, ...derived };
}

function report(results) {
  const lines = [];
  const k = results.knobs;
  const smoke = k.rounds < FULL_RUN.rounds || k.durationS < FULL_RUN.durationS || k.warmupS < FULL_RUN.warmupS;
  if (smoke) lines.push(`A smoke run (${k.rounds} round(s) of ${k.durationS} s): a sanity check, not a result.\n`);
  lines.push('| mode | server | req/s | req per server CPU-s | vs node:https + cluster | p99 ms | errors |');
  lines.push('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const mode of MODES) {
    const of = (id, key) => median(results.runs.filter((r) => r.mode === mode.id && r.server === id).map((r) => r[key]));
    const base = of(BASELINE, 'requestsPerServerCpuS');
    for (const id of mode.servers) {
      const label = results.servers.find((s) => s.id === id)?.label ?? id;
      const perCpu = of(id, 'requestsPerServerCpuS');
      const vs = ratio(perCpu, base);
      const errors = results.runs.filter((r) => r.mode === mode.id && r.server === id).reduce((n, r) => n + r.errors + r.non2xx, 0);
      lines.push(`| ${mode.label} | ${label} | ${Math.round(of(id, 'rps') ?? 0)} | ${Math.round(perCpu ?? 0)} | ${vs === null ? '-' : `${vs.toFixed(2)}x`} | ${median(results.runs.filter((r) => r.mode === mode.id && r.server === id).map((r) => r.latencyMs?.p99)) ?? '-'} | ${errors} |`);
    }
  }
  return lines.join('\n');
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv.includes('--from')) {
    console.log(report(JSON.parse(readFileSync(argv[argv.indexOf('--from') + 1], 'utf8'))));
    return;
  }
  if (!existsSync(`${ROOT}/dist/cli.js`)) throw new Error('dist/ is missing: run `npx tsc -p tsconfig.json` first');
  const knobs = readKnobs();
  const machine = describeMachine(ROOT);
  files = certificate();
  const results = { format: 'tsgi-bench-tls/1', startedAt: new Date().toISOString(), knobs, machine, servers: [], runs: [] };
  for (const def of definitions(files)) {
    const server = launchServer(def);
    servers.push(server);
    await server.ready;
    if (!server.url.startsWith('https://')) throw new Error(`${def.id} does not serve https: ${server.url}`);
    results.servers.push({ id: def.id, label: def.label, command: def.command });
    console.log(`started ${def.label.padEnd(36)} ${server.url}`);
  }
  await loadgen.start();
  console.log(`machine: ${machine.nproc} x ${machine.cpuModel}, Node ${machine.node}, load average ${machine.loadAverageAtStart.join(' ')}`);
  const byId = new Map(servers.map((s) => [s.def.id, s]));
  if (knobs.warmupS > 0) for (const mode of MODES) for (const id of mode.servers) await run(knobs, machine, byId.get(id), mode, knobs.warmupS, 0);
  for (let round = 1; round <= knobs.rounds; round++) {
    for (const mode of MODES) {
      for (const id of mode.servers) {
        results.runs.push(await run(knobs, machine, byId.get(id), mode, knobs.durationS, round));
        await sleep(knobs.pauseS * 1000);
      }
    }
  }
  results.finishedAt = new Date().toISOString();
  mkdirSync(`${ROOT}/bench/results`, { recursive: true });
  const jsonPath = `${ROOT}/bench/results/tls-${results.startedAt.replace(/[:.]/g, '-')}.json`;
  writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\n${report(results)}\n\nwrote ${relative(ROOT, resolve(jsonPath))}`);
}

try {
  await main();
} catch (err) {
  console.error(`bench: ${err?.stack ?? err}`);
  process.exitCode = 1;
} finally {
  await loadgen.stop();
  await cleanup();
}
