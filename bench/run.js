// tsgi benchmark harness: `npm run bench` (prints) or `node bench/run.js --write-docs` (also
// writes docs/benchmarks.md). `node bench/run.js --from bench/results/X.json [--write-docs]`
// re-renders a saved run without measuring. Knobs: ROUNDS, DURATION, WARMUP, PAUSE, CONNECTIONS,
// BASE_PORT (see bench/README.md).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { BASELINE_ID, BODY, MODES, ROOT, WORKERS, readKnobs, serverDefinitions } from './lib/config.js';
import { LoadGenerator } from './lib/load.js';
import { describeMachine } from './lib/machine.js';
import { deriveRun, snapshot } from './lib/measure.js';
import { probe } from './lib/probe.js';
import { formatRunLine, renderConsole, renderMarkdown } from './lib/report.js';
import { launchServer, stopServer, survivors } from './lib/servers.js';

const DOCS_PATH = `${ROOT}/docs/benchmarks.md`;
const RESULTS_DIR = `${ROOT}/bench/results`;

const argv = process.argv.slice(2);
const writeDocs = argv.includes('--write-docs');
const fromIndex = argv.indexOf('--from');
const fromFile = fromIndex >= 0 ? argv[fromIndex + 1] : null;

const servers = [];
const loadgen = new LoadGenerator();
let cleanupPromise = null;

/** Stops the load generator and every server by PID; safe to call more than once. */
function cleanup() {
  cleanupPromise ??= (async () => {
    loadgen.kill();
    const killed = [];
    for (const server of servers) killed.push(...(await stopServer(server)));
    if (killed.length > 0) console.error(`bench: had to SIGKILL pids ${killed.join(', ')}`);
    const left = servers.flatMap(survivors);
    if (left.length > 0) console.error(`bench: WARNING: pids still alive after stop: ${left.join(', ')}`);
  })();
  return cleanupPromise;
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    console.error(`\nbench: ${signal}; stopping the servers`);
    cleanup().finally(() => process.exit(130));
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function output(results, jsonPath) {
  console.log(renderConsole(results));
  if (writeDocs) {
    writeFileSync(DOCS_PATH, renderMarkdown(results, { jsonPath }));
    console.log(`\nwrote ${relative(ROOT, DOCS_PATH)}`);
  }
}

async function measureOnce(results, server, mode, durationS, round) {
  const neighbours = servers.filter((s) => s !== server);
  const job = { url: server.url, mode: mode.id, connections: results.knobs.connections, duration: durationS, timeout: results.knobs.timeoutS };
  const { started, ended, load } = await loadgen.run(job, {
    before: () => snapshot(server, neighbours),
    after: () => snapshot(server, neighbours),
  });
  return { round, mode: mode.id, server: server.def.id, ...deriveRun({ before: started, after: ended, load, nproc: results.machine.nproc }) };
}

async function measure() {
  if (!existsSync(`${ROOT}/dist/cli.js`)) throw new Error('dist/ is missing: run `npx tsc -p tsconfig.json` first');
  const knobs = readKnobs();
  const defs = serverDefinitions(knobs);
  // A baseline this machine cannot run (Bun without its binary) drops out of every mode.
  const modes = MODES.map((mode) => ({ ...mode, servers: mode.servers.filter((id) => defs.some((d) => d.id === id)) }));
  const results = {
    format: 'tsgi-bench/1',
    startedAt: new Date().toISOString(),
    finishedAt: null,
    knobs,
    workers: WORKERS,
    baselineId: BASELINE_ID,
    machine: describeMachine(ROOT),
    modes,
    servers: [],
    warmups: [],
    runs: [],
  };

  for (const def of defs) {
    const server = launchServer(def);
    servers.push(server);
    await server.ready;
    const response = await probe(server.url, BODY);
    const { master, workers } = server.processes();
    results.servers.push({ id: def.id, label: def.label, command: def.command, env: def.env, url: server.url, pids: { master, workers }, probe: response });
    console.log(`started ${def.label.padEnd(34)} ${server.url}  master ${master}, workers ${workers.join(', ')}  (responses: ${response.keepalive.bytes} B keep-alive, ${response.close.bytes} B close)`);
  }
  await loadgen.start();
  const m = results.machine;
  console.log(`machine: ${m.nproc} x ${m.cpuModel}, ${m.memTotalGiB} GiB, Node ${m.node}, ${m.kernel}, load average ${m.loadAverageAtStart.join(' ')}`);
  console.log(`load generator pid ${loadgen.pid}; ${knobs.rounds} round(s) x ${knobs.durationS} s, warm-up ${knobs.warmupS} s, ${knobs.connections} connections\n`);

  const byId = new Map(servers.map((s) => [s.def.id, s]));
  if (knobs.warmupS > 0) {
    for (const mode of modes) {
      for (const id of mode.servers) {
        const run = await measureOnce(results, byId.get(id), mode, knobs.warmupS, 0);
        results.warmups.push(run);
        console.log(formatRunLine(results, run));
        await sleep(knobs.pauseS * 1000);
      }
    }
  }
  for (let round = 1; round <= knobs.rounds; round++) {
    for (const mode of modes) {
      for (const id of mode.servers) {
        const run = await measureOnce(results, byId.get(id), mode, knobs.durationS, round);
        results.runs.push(run);
        console.log(formatRunLine(results, run));
        await sleep(knobs.pauseS * 1000);
      }
    }
  }
  results.finishedAt = new Date().toISOString();

  mkdirSync(RESULTS_DIR, { recursive: true });
  const jsonPath = `${RESULTS_DIR}/${results.startedAt.replace(/[:.]/g, '-')}.json`;
  writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote ${relative(ROOT, jsonPath)}`);
  return { results, jsonPath: relative(ROOT, jsonPath) };
}

async function main() {
  if (fromFile) {
    const results = JSON.parse(readFileSync(fromFile, 'utf8'));
    output(results, relative(ROOT, resolve(fromFile)));
    return;
  }
  let measured;
  try {
    measured = await measure();
  } finally {
    await loadgen.stop();
    await cleanup();
  }
  output(measured.results, measured.jsonPath);
}

main().catch(async (err) => {
  console.error(`bench: ${err?.stack ?? err}`);
  await cleanup();
  process.exit(1);
});
