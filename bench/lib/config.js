// What is measured: the servers, the two load modes, and the knobs (environment variables).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');

export const BODY = 'Hello, World!';
export const WORKERS = 2;
/** The server every ratio is taken against: what a Node user gets without tsgi. */
export const BASELINE_ID = 'cluster-rr';

function numberFromEnv(name, fallback, { min = 0, integer = false } = {}) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new Error(`${name}=${JSON.stringify(raw)} is not ${integer ? 'an integer' : 'a number'} >= ${min}`);
  }
  return value;
}

export function readKnobs() {
  return {
    rounds: numberFromEnv('ROUNDS', 5, { min: 1, integer: true }),
    durationS: numberFromEnv('DURATION', 8, { min: 1, integer: true }),
    warmupS: numberFromEnv('WARMUP', 5, { min: 0, integer: true }),
    pauseS: numberFromEnv('PAUSE', 1, { min: 0 }),
    connections: numberFromEnv('CONNECTIONS', 64, { min: 1, integer: true }),
    /** 0: every server on an ephemeral port; otherwise BASE_PORT, BASE_PORT+1, ... */
    basePort: numberFromEnv('BASE_PORT', 0, { min: 0, integer: true }),
    /** autocannon's per-request timeout, seconds. */
    timeoutS: 10,
  };
}

/** The knob values the lead's published run uses; anything shorter is marked as a smoke run. */
export const FULL_RUN = { rounds: 5, durationS: 8, warmupS: 5 };

export function serverDefinitions(knobs) {
  const port = (index) => (knobs.basePort === 0 ? 0 : knobs.basePort + index);
  const node = process.execPath;
  const tsgi = (engine, index) => ({
    command: [node, 'bin/tsgi.js', '--workers', String(WORKERS), '--bind', `127.0.0.1:${port(index)}`, '--http', engine, 'examples/hello:app'],
    env: {},
  });
  const cluster = (sched, index) => ({
    command: [node, 'bench/baseline/cluster-http.js'],
    env: { WORKERS: String(WORKERS), HOST: '127.0.0.1', PORT: String(port(index)), ...(sched ? { SCHED: sched } : {}) },
  });
  const baseline = (file, index) => ({
    command: [node, `bench/baseline/${file}`],
    env: { WORKERS: String(WORKERS), HOST: '127.0.0.1', PORT: String(port(index)) },
  });
  const defs = [
    { id: 'tsgi-tsgi', label: 'tsgi --http tsgi', ...tsgi('tsgi', 0) },
    { id: 'tsgi-node', label: 'tsgi --http node', ...tsgi('node', 1) },
    { id: 'cluster-rr', label: 'node:http + cluster (default, RR)', ...cluster(null, 2) },
    { id: 'cluster-none', label: 'node:http + cluster (SCHED_NONE)', ...cluster('none', 3) },
    { id: 'net-bound', label: 'node:net canned response + cluster (the Node bound)', ...baseline('net-canned.js', 4) },
  ];
  if (bunRuns()) defs.push({ id: 'bun', label: 'Bun.serve x2 (reusePort)', ...baseline('bun-serve.js', 5) });
  return defs.map((def) => ({ ...def, cwd: ROOT, workers: WORKERS }));
}

/**
 * The load modes and which servers each one measures, in the order a round runs them. The
 * SCHED_NONE row only matters with Connection: close, where the RR primary accepting every
 * connection is the bottleneck (tsgi's master hands the socket to the workers, as SCHED_NONE does).
 */
export const MODES = [
  { id: 'keepalive', label: 'keep-alive', servers: ['tsgi-tsgi', 'tsgi-node', 'cluster-rr', 'net-bound', 'bun'] },
  { id: 'close', label: 'Connection: close', servers: ['tsgi-tsgi', 'tsgi-node', 'cluster-rr', 'cluster-none', 'net-bound', 'bun'] },
];

/** Bun.serve is measured when the `bun` devDependency's binary runs on this machine. */
function bunRuns() {
  try {
    const bin = createRequire(import.meta.url).resolve('bun/bin/bun.exe');
    return spawnSync(bin, ['--version'], { timeout: 10_000 }).status === 0;
  } catch {
    return false;
  }
}
