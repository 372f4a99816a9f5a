// What naming the blocking request costs: `node bench/watchdog.js`.
//
// With --timeout (the default, 30 s) each worker records every request it hands to the app in
// shared memory, and a watchdog thread reads it when the event loop stops (src/worker/
// current-request.ts, watchdog-thread.ts). Three measurements:
//
// 1. end to end: server CPU per request, keep-alive hello, one worker, tsgi with --timeout 0
//    (no record, no thread) against --timeout 30 (both), interleaved rounds;
// 2. the record alone, in a loop (ns per request), the same target each time and a new one;
// 3. for comparison, what the rejected design costs: one IPC message per request (process.send
//    of a heartbeat-sized message from a forked child).
//
// Knobs: ROUNDS (5), DURATION (8 s), WARMUP (3 s), CONNECTIONS (32), PAUSE (1 s).
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ROOT } from './lib/config.js';
import { LoadGenerator } from './lib/load.js';
import { deriveRun, snapshot } from './lib/measure.js';
import { launchServer, stopServer } from './lib/servers.js';
import { median, range } from './lib/stats.js';
import { readFileSync } from 'node:fs';

const knob = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);
const ROUNDS = knob('ROUNDS', 5);
const DURATION = knob('DURATION', 8);
const WARMUP = knob('WARMUP', 3);
const CONNECTIONS = knob('CONNECTIONS', 32);
const PAUSE = knob('PAUSE', 1);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const variants = [
  { id: 'timeout-0', label: 'tsgi --timeout 0 (no record, no watchdog)', timeout: '0' },
  { id: 'timeout-30', label: 'tsgi --timeout 30 (record + watchdog thread)', timeout: '30' },
];

function rssMiB(pid) {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : null;
}

async function endToEnd() {
  const servers = [];
  const loadgen = new LoadGenerator();
  try {
    for (const v of variants) {
      const server = launchServer({
        id: v.id,
        label: v.label,
        command: [process.execPath, 'bin/tsgi.js', '--workers', '1', '--bind', '127.0.0.1:0', '--timeout', v.timeout, 'examples/hello:app'],
        env: { TSGI_LOG_FORMAT: 'json' },
        cwd: ROOT,
        workers: 1,
      });
      servers.push(server);
      await server.ready;
    }
    await loadgen.start();
    const runs = new Map(variants.map((v) => [v.id, []]));
    const once = async (server, seconds) => {
      const neighbours = servers.filter((s) => s !== server);
      const job = { url: server.url, mode: 'keepalive', connections: CONNECTIONS, duration: seconds, timeout: 10 };
      const { started, ended, load } = await loadgen.run(job, { before: () => snapshot(server, neighbours), after: () => snapshot(server, neighbours) });
      return deriveRun({ before: started, after: ended, load, nproc: 2 });
    };
    if (WARMUP > 0) for (const server of servers) await once(server, WARMUP);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const server of servers) {
        const run = await once(server, DURATION);
        runs.get(server.def.id).push(run);
        console.log(`round ${round} ${server.def.label.padEnd(46)} ${String(run.rps).padStart(8)} req/s  ${run.serverCpuUsPerRequest} µs server CPU/request  (${run.errors} errors)`);
        await sleep(PAUSE * 1000);
      }
    }
    const rss = servers.map((s) => ({ id: s.def.id, mib: s.processes().workers.map(rssMiB) }));
    return { runs, rss };
  } finally {
    await loadgen.stop();
    for (const server of servers) await stopServer(server);
  }
}

async function recordLoop() {
  const { CurrentRequest } = await import(new URL('../dist/worker/current-request.js', import.meta.url));
  const board = new CurrentRequest();
  const targets = Array.from({ length: 64 }, (_, i) => `/items/${i}?page=${i * 7}`);
  const N = 5_000_000;
  const time = (fn) => {
    for (let i = 0; i < 200_000; i++) fn(i);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) fn(i);
    return Number(process.hrtime.bigint() - t0) / N;
  };
  const now = Date.now();
  const same = time(() => board.record('GET', '/', now));
  const varied = time((i) => board.record('GET', targets[i & 63], now));
  const withClock = time(() => board.record('GET', '/', Date.now()));
  return { same, varied, withClock };
}

async function ipcPerRequest() {
  const child = fork(fileURLToPath(import.meta.url), ['--ipc-child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const result = await new Promise((resolve) => child.on('message', (m) => m.done && resolve(m)));
  child.kill();
  return result;
}

if (process.argv.includes('--ipc-child')) {
  // The message the worker used to send per request, without the rss read.
  const msg = { type: 'heartbeat', rss: 58_000_000, requests: 123456, serving: [{ method: 'GET', target: '/', ms: 0 }] };
  const N = 100_000;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) process.send(msg);
  const wallNs = Number(process.hrtime.bigint() - t0) / N;
  const cpu = process.cpuUsage(cpu0);
  await new Promise((resolve) => setTimeout(resolve, 100));
  process.send({ done: true, wallNsPerSend: wallNs, cpuNsPerSend: ((cpu.user + cpu.system) * 1000) / N });
} else {
  const { runs, rss } = await endToEnd();
  const micro = await recordLoop();
  const ipc = await ipcPerRequest();
  console.log('\nserver CPU per request (µs), median of rounds [range]:');
  const medians = {};
  for (const v of variants) {
    const values = runs.get(v.id).map((r) => r.serverCpuUsPerRequest);
    medians[v.id] = median(values);
    const r = range(values);
    console.log(`  ${v.label.padEnd(46)} ${medians[v.id].toFixed(2)}  [${r.min.toFixed(2)} .. ${r.max.toFixed(2)}]`);
  }
  const delta = medians['timeout-30'] - medians['timeout-0'];
  console.log(`  difference: ${delta.toFixed(2)} µs per request (${((delta / medians['timeout-0']) * 100).toFixed(1)}%)`);
  console.log('\nworker RSS after the rounds (MiB):');
  for (const { id, mib } of rss) console.log(`  ${id.padEnd(12)} ${mib.map((m) => m?.toFixed(1)).join(', ')}`);
  console.log('\nCurrentRequest.record() alone:');
  console.log(`  same target every time     ${micro.same.toFixed(1)} ns`);
  console.log(`  64 different targets       ${micro.varied.toFixed(1)} ns`);
  console.log(`  same target, Date.now()    ${micro.withClock.toFixed(1)} ns`);
  console.log('\none IPC heartbeat per request, for comparison (process.send of the heartbeat message):');
  console.log(`  ${(ipc.cpuNsPerSend / 1000).toFixed(2)} µs CPU per message in the sender alone (the master pays to read it too)`);
}
