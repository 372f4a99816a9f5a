// node:cluster as a Node user runs it without tsgi: a primary forks WORKERS workers, each of which
// calls `listen(port, host)` and serves; the primary restarts a worker that dies, and stops them
// all on SIGTERM/SIGINT. It logs the same JSON lines as the tsgi master ("Listening at: ...",
// "Worker ready (pid: N)") so the bench waits for every kind of server the same way.
import cluster from 'node:cluster';

export function log(msg) {
  process.stderr.write(`${JSON.stringify({ time: Date.now(), pid: process.pid, role: cluster.isPrimary ? 'primary' : 'worker', msg })}\n`);
}

/**
 * Runs the cluster; `listen(port, host)` is called in each worker and must start its server.
 * `scheme` is what the "Listening at" line says (https for a TLS server).
 */
export function runCluster(listen, { scheme = 'http' } = {}) {
  const WORKERS = Number(process.env.WORKERS ?? 2);
  const PORT = Number(process.env.PORT ?? 0);
  const HOST = process.env.HOST ?? '127.0.0.1';
  if (!cluster.isPrimary) {
    Promise.resolve(listen(PORT, HOST)).catch((err) => {
      log(`cannot listen on ${HOST}:${PORT}: ${err.message}`);
      process.exit(1);
    });
    return;
  }
  // Must be set before the first fork. Left alone, Node uses SCHED_RR everywhere but Windows.
  if (process.env.SCHED === 'none') cluster.schedulingPolicy = cluster.SCHED_NONE;
  const policy = cluster.schedulingPolicy === cluster.SCHED_NONE ? 'SCHED_NONE' : 'SCHED_RR';
  let announced = false;
  let stopping = false;

  cluster.on('listening', (worker, address) => {
    if (!announced) {
      announced = true;
      log(`Listening at: ${scheme}://${address.address}:${address.port} (${process.pid})`);
      log(`Scheduling policy: ${policy}`);
    }
    log(`Worker ready (pid: ${worker.process.pid})`);
  });
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers).length === 0) process.exit();
      return;
    }
    if (!announced) {
      // No worker ever listened (port in use, say): a new one would fail the same way.
      log(`Worker (pid: ${worker.process.pid}) exited (${signal ?? code}) before listening; stopping`);
      process.exitCode = 1;
      stop();
      return;
    }
    log(`Worker (pid: ${worker.process.pid}) exited (${signal ?? code}); starting a new one`);
    cluster.fork();
  });
  const stop = () => {
    if (stopping) return;
    stopping = true;
    const workers = Object.values(cluster.workers);
    if (workers.length === 0) process.exit();
    for (const worker of workers) worker.process.kill('SIGTERM');
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  for (let i = 0; i < WORKERS; i++) cluster.fork();
}
