// The load generator process. It runs autocannon (programmatic API) on request from the bench,
// one run at a time, and reports autocannon's result together with its own CPU time for exactly
// that run. Running it in its own process keeps the bench's bookkeeping out of the load
// generator's CPU figure and lets the bench kill a stuck run by PID.
import autocannon from 'autocannon';
import { oneRequestPerConnection } from './one-request-per-connection.js';

function optionsFor(job) {
  const options = {
    url: job.url,
    connections: job.connections,
    pipelining: 1,
    duration: job.duration,
    timeout: job.timeout,
  };
  if (job.mode === 'close') {
    options.headers = { connection: 'close' };
    options.setupClient = oneRequestPerConnection;
  }
  return options;
}

function summarise(result) {
  return {
    requests: result.requests.total,
    sent: result.requests.sent,
    durationS: result.duration,
    bytes: result.throughput.total,
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max, mean: result.latency.mean },
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    mismatches: result.mismatches,
    statusCodeStats: result.statusCodeStats,
  };
}

process.on('message', async (job) => {
  if (job.type !== 'run') return;
  // The previous run's garbage is collected now, not during this run.
  globalThis.gc?.();
  const cpuBefore = process.cpuUsage();
  const wallBefore = process.hrtime.bigint();
  try {
    const result = await autocannon(optionsFor(job));
    const cpu = process.cpuUsage(cpuBefore);
    const wallS = Number(process.hrtime.bigint() - wallBefore) / 1e9;
    process.send({ type: 'result', id: job.id, result: summarise(result), cpuS: (cpu.user + cpu.system) / 1e6, cpuUserS: cpu.user / 1e6, cpuSystemS: cpu.system / 1e6, wallS });
  } catch (err) {
    process.send({ type: 'failed', id: job.id, message: String(err?.stack ?? err) });
  }
});

process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready', pid: process.pid });
