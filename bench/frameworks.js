// The framework benchmark: the same route (GET / answering a small JSON document, bench/apps/)
// in Hono, Express and Fastify, each on tsgi and on its own server behind node:cluster, 2 workers
// each, keep-alive; and the same document with no framework (a TSGI app against a bare node:http
// listener) as the reference for what the server alone costs. Rounds are interleaved (every server once per round) so a noisy neighbour
// hits all of them alike; the figure that counts is requests per server CPU-second, from /proc.
//
//   npx tsc -p tsconfig.json && node bench/frameworks.js
//   ROUNDS=1 DURATION=2 WARMUP=1 node bench/frameworks.js     # a smoke run
//   ENGINES=tsgi,node node bench/frameworks.js                 # also tsgi's node engine
//   FRAMEWORKS=hono,plain node bench/frameworks.js             # some frameworks only
//   node bench/frameworks.js --write-docs                      # also write docs/benchmarks-frameworks.md
//   node bench/frameworks.js --from bench/results/frameworks-X.json [--write-docs]   # re-render a run
//
// Knobs as bench/run.js (ROUNDS, DURATION, WARMUP, PAUSE, CONNECTIONS); results go to
// bench/results/frameworks-<timestamp>.json.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { FULL_RUN, ROOT, WORKERS, readKnobs } from './lib/config.js';
import { LoadGenerator } from './lib/load.js';
import { describeMachine } from './lib/machine.js';
import { deriveRun, snapshot } from './lib/measure.js';
import { launchServer, stopperFor } from './lib/servers.js';
import { median, ratio } from './lib/stats.js';

const EXPECTED = { message: 'Hello, World!' };
const FRAMEWORKS = [
  { id: 'hono', baseline: '@hono/node-server + node:cluster', aim: 1.5 },
  { id: 'express', baseline: 'node:http + node:cluster', aim: 1.0 },
  { id: 'fastify', baseline: 'fastify.listen() + node:cluster', aim: 1.0 },
  // No framework on either side: a TSGI app on tsgi against a bare node:http listener. It says
  // what share of each framework's ratio the server itself accounts for.
  { id: 'plain', baseline: 'node:http + node:cluster (no framework)', aim: null },
];
const ENGINES = (process.env.ENGINES ?? 'tsgi').split(',').filter(Boolean);
const ONLY = (process.env.FRAMEWORKS ?? '').split(',').filter(Boolean);

function definitions() {
  const node = process.execPath;
  const defs = [];
  for (const framework of FRAMEWORKS) {
    if (ONLY.length > 0 && !ONLY.includes(framework.id)) continue;
    for (const engine of ENGINES) {
      defs.push({
        id: `${framework.id}-tsgi-${engine}`,
        framework: framework.id,
        label: `${framework.id} on tsgi --http ${engine}`,
        command: [node, 'bin/tsgi.js', '--workers', String(WORKERS), '--bind', '127.0.0.1:0', '--http', engine, `bench/apps/${framework.id}.js:app`],
        env: {},
      });
    }
    defs.push({
      id: `${framework.id}-own`,
      framework: framework.id,
      baseline: true,
      label: `${framework.id} on ${framework.baseline}`,
      command: [node, 'bench/baseline/cluster-framework.js'],
      env: { FRAMEWORK: framework.id, WORKERS: String(WORKERS), HOST: '127.0.0.1', PORT: '0' },
    });
  }
  return defs.map((def) => ({ ...def, cwd: ROOT, workers: WORKERS }));
}

const servers = [];
const loadgen = new LoadGenerator();
const cleanup = stopperFor(servers, loadgen);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function check(server) {
  const res = await fetch(server.url);
  const body = await res.json();
  if (res.status !== 200 || JSON.stringify(body) !== JSON.stringify(EXPECTED)) throw new Error(`${server.def.id}: expected 200 ${JSON.stringify(EXPECTED)}, got ${res.status} ${JSON.stringify(body)}`);
  return { status: res.status, headers: [...res.headers.keys()] };
}

async function run(knobs, machine, server, durationS, round) {
  const neighbours = servers.filter((s) => s !== server);
  const job = { url: server.url, mode: 'keepalive', connections: knobs.connections, duration: durationS, timeout: knobs.timeoutS };
  const { started, ended, load } = await loadgen.run(job, { before: () => snapshot(server, neighbours), after: () => snapshot(server, neighbours) });
  const derived = deriveRun({ before: started, after: ended, load, nproc: machine.nproc });
  const line = `${round === 0 ? 'warm-up' : `round ${round}`}  ${server.def.label.padEnd(52)} ${String(derived.rps).padStart(9)} req/s  ${String(derived.requestsPerServerCpuS).padStart(7)} req/CPU-s  ${derived.errors + derived.non2xx} errors`;
  console.log(line);
  return { round, server: server.def.id, ...derived };
}

const DOCS = `${ROOT}/docs/benchmarks-frameworks.md`;
const argv = process.argv.slice(2);
const writeDocs = argv.includes('--write-docs');
const fromFile = argv.includes('--from') ? argv[argv.indexOf('--from') + 1] : null;

function output(results, jsonPath) {
  console.log(report(results));
  if (!writeDocs) return;
  writeFileSync(DOCS, markdown(results, jsonPath));
  console.log(`\nwrote ${relative(ROOT, DOCS)}`);
}

function markdown(results, jsonPath) {
  const k = results.knobs;
  const m = results.machine;
  const smoke = k.rounds < FULL_RUN.rounds || k.durationS < FULL_RUN.durationS || k.warmupS < FULL_RUN.warmupS;
  return `# Framework benchmarks

Generated by \`node bench/frameworks.js --write-docs\` from \`${jsonPath}\`; do not edit by hand.
${smoke ? `\n**A smoke run** (${k.rounds} round(s) of ${k.durationS} s, ${k.warmupS} s warm-up): a sanity check, not a result. Take figures from a full run (${FULL_RUN.rounds} rounds of ${FULL_RUN.durationS} s) on a quiet machine.\n` : ''}
The same route (\`GET /\` answering \`{"message":"Hello, World!"}\`, bench/apps/) in Hono, Express and
Fastify (and with no framework: \`plain\`), on tsgi and on each framework's own server behind node:cluster, ${WORKERS} workers each,
autocannon with ${k.connections} keep-alive connections, rounds interleaved. The figure that counts is
requests per server CPU-second: the utime+stime of the master and its workers from \`/proc\`, so a
server that uses less CPU per request scores higher even when the load generator is the bottleneck.

Machine: ${m.nproc} x ${m.cpuModel}, Node ${m.node}, ${m.kernel}; load average at start ${m.loadAverageAtStart.join(' ')}.
Started ${results.startedAt}.

${report(results)}

On tsgi each framework is called by its interface's runner (docs/interfaces.md): Hono by the fetch
runner (a lazy WHATWG Request, a LightResponse written to the engine with a Content-Length), Express
and Fastify by the node runner (node:http's own req/res; on \`--http tsgi\` a node app is served
through the node engine's path). The \`plain\` rows are the reference: the same document from a TSGI
app on tsgi and from a bare node:http listener, no framework on either side, so each framework's
ratio reads against what the server alone is worth on this machine.
`;
}

async function main() {
  if (fromFile) {
    output(JSON.parse(readFileSync(fromFile, 'utf8')), relative(ROOT, resolve(fromFile)));
    return;
  }
  if (!existsSync(`${ROOT}/dist/cli.js`)) throw new Error('dist/ is missing: run `npx tsc -p tsconfig.json` first');
  const knobs = readKnobs();
  const machine = describeMachine(ROOT);
  const results = { format: 'tsgi-bench-frameworks/1', startedAt: new Date().toISOString(), knobs, machine, servers: [], runs: [] };
  for (const def of definitions()) {
    const server = launchServer(def);
    servers.push(server);
    await server.ready;
    results.servers.push({ id: def.id, label: def.label, command: def.command, env: def.env, response: await check(server) });
    console.log(`started ${def.label.padEnd(52)} ${server.url}`);
  }
  await loadgen.start();
  console.log(`machine: ${machine.nproc} x ${machine.cpuModel}, Node ${machine.node}, load average ${machine.loadAverageAtStart.join(' ')}`);
  if (knobs.warmupS > 0) for (const server of servers) await run(knobs, machine, server, knobs.warmupS, 0);
  for (let round = 1; round <= knobs.rounds; round++) {
    for (const server of servers) {
      results.runs.push(await run(knobs, machine, server, knobs.durationS, round));
      await sleep(knobs.pauseS * 1000);
    }
  }
  results.finishedAt = new Date().toISOString();
  mkdirSync(`${ROOT}/bench/results`, { recursive: true });
  const path = `${ROOT}/bench/results/frameworks-${results.startedAt.replace(/[:.]/g, '-')}.json`;
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote ${relative(ROOT, path)}\n`);
  output(results, relative(ROOT, path));
}

/** The markdown table: medians over the rounds, and tsgi's ratio to the framework's own server. */
export function report(results) {
  const rows = ['| framework | server | req/s (median) | req per server CPU-s (median) | ratio to its own server | aim |', '|---|---|---:|---:|---:|---:|'];
  const stat = (id, key) => median(results.runs.filter((r) => r.server === id).map((r) => r[key]));
  for (const framework of FRAMEWORKS) {
    const own = `${framework.id}-own`;
    for (const server of results.servers.filter((s) => s.id.startsWith(`${framework.id}-`))) {
      const perCpu = stat(server.id, 'requestsPerServerCpuS');
      const r = server.id === own ? null : ratio(perCpu, stat(own, 'requestsPerServerCpuS'));
      rows.push(`| ${framework.id} | ${server.label} | ${Math.round(stat(server.id, 'rps'))} | ${Math.round(perCpu)} | ${r === null ? '' : `${r.toFixed(2)}x`} | ${server.id === own || framework.aim === null ? '' : `${framework.aim.toFixed(1)}x`} |`);
    }
  }
  return rows.join('\n');
}

main()
  .catch((err) => {
    console.error(`bench: ${err?.stack ?? err}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await loadgen.stop();
    await cleanup();
  });
