// Starts the servers under test, knows every PID that belongs to each (the master and its
// workers), and stops them by PID. Nothing here ever signals a process by name.
import { spawn } from 'node:child_process';
import { childPids, isAlive, readPidStat } from './procfs.js';

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const LOG_TAIL_LINES = 200;

/**
 * Variables that would change a server's configuration behind the command line's back: tsgi reads
 * TSGI_* and (as Gunicorn does) PORT and WEB_CONCURRENCY; node:cluster reads
 * NODE_CLUSTER_SCHED_POLICY. They are removed so each server runs exactly the command shown.
 */
function cleanEnvironment(extra) {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (name.startsWith('TSGI_') || ['PORT', 'WEB_CONCURRENCY', 'NODE_CLUSTER_SCHED_POLICY', 'NODE_OPTIONS'].includes(name)) {
      delete env[name];
    }
  }
  return { ...env, ...extra };
}

/** The message of a log line: pino JSON lines carry it in `msg`; anything else is the line. */
function messageOf(line) {
  try {
    const parsed = JSON.parse(line);
    if (parsed && typeof parsed.msg === 'string') return parsed.msg;
  } catch {
    // Not JSON.
  }
  return line;
}

export class RunningServer {
  constructor(def, child) {
    this.def = def;
    this.child = child;
    this.pid = child.pid;
    this.startTime = readPidStat(child.pid)?.startTime;
    this.url = null;
    this.port = null;
    /** Every worker PID ever seen, with its start time, so a stop can reach all of them. */
    this.workers = new Map();
    this.readyWorkers = new Set();
    this.logTail = [];
    this.exit = null;
    /** Set by launchServer(): resolves when the server listens and all workers are ready. */
    this.ready = null;
  }

  /** The master and its current children: the processes whose CPU a run is charged. */
  processes() {
    const live = isAlive(this.pid, this.startTime) ? childPids(this.pid) : [];
    for (const pid of live) {
      if (!this.workers.has(pid)) this.workers.set(pid, readPidStat(pid)?.startTime);
    }
    return { master: this.pid, workers: live.sort((a, b) => a - b) };
  }

  recordLine(line) {
    this.logTail.push(line);
    if (this.logTail.length > LOG_TAIL_LINES) this.logTail.shift();
    const msg = messageOf(line);
    const listening = /^Listening at: (https?:\/\/[^\s]+)/.exec(msg);
    if (listening && this.url === null) {
      this.url = `${listening[1]}/`;
      this.port = Number(new URL(this.url).port);
    }
    const ready = /^Worker ready \(pid: (\d+)\)/.exec(msg);
    if (ready) this.readyWorkers.add(Number(ready[1]));
  }

  isReady() {
    return this.url !== null && this.readyWorkers.size >= this.def.workers;
  }
}

/**
 * Spawns one server. The RunningServer is returned at once, so the caller can track (and later
 * stop) it even if it never becomes ready; `server.ready` resolves once it listens and all its
 * workers have reported ready.
 */
export function launchServer(def) {
  const child = spawn(def.command[0], def.command.slice(1), {
    cwd: def.cwd,
    env: cleanEnvironment(def.env),
    // The pipes are read for the whole run: a full pipe would block a server that logs.
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const server = new RunningServer(def, child);
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop();
      for (const line of lines) if (line.trim() !== '') server.recordLine(line);
    });
  }
  child.on('error', (err) => {
    server.exit = { error: err.message };
  });
  child.on('exit', (code, signal) => {
    server.exit = { code, signal };
  });

  server.ready = new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      if (server.isReady()) {
        clearInterval(poll);
        for (const pid of server.readyWorkers) server.workers.set(pid, readPidStat(pid)?.startTime);
        server.processes();
        resolve(server);
      } else if (server.exit !== null || Date.now() - started > READY_TIMEOUT_MS) {
        clearInterval(poll);
        const why = server.exit !== null ? `exited (${JSON.stringify(server.exit)})` : `not ready after ${READY_TIMEOUT_MS} ms`;
        reject(new Error(`server ${def.id} ${why}; last log lines:\n${server.logTail.slice(-20).join('\n')}`));
      }
    }, 50);
  });
  return server;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Sends a signal to a PID only if it is still the process that was started (no PID reuse). */
function signalIfSame(pid, startTime, signal) {
  if (!isAlive(pid, startTime)) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * SIGTERM to the master (graceful stop for tsgi, the cluster primary forwards it), then waits for
 * the master and every worker seen to be gone; whatever remains after the limit gets SIGKILL, PID by PID.
 * Resolves with the PIDs that had to be killed.
 */
export async function stopServer(server) {
  if (server.pid === undefined) return [];
  server.processes();
  const tracked = [[server.pid, server.startTime], ...server.workers];
  signalIfSame(server.pid, server.startTime, 'SIGTERM');
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (Date.now() < deadline && tracked.some(([pid, start]) => isAlive(pid, start))) await sleep(50);
  const killed = [];
  for (const [pid, start] of tracked) {
    if (signalIfSame(pid, start, 'SIGKILL')) killed.push(pid);
  }
  if (killed.length > 0) await sleep(200);
  return killed;
}

/** PIDs of a server that are still alive (used for the final "nothing left behind" check). */
export function survivors(server) {
  const tracked = [[server.pid, server.startTime], ...server.workers];
  return tracked.filter(([pid, start]) => pid !== undefined && isAlive(pid, start)).map(([pid]) => pid);
}

/**
 * The stop for a bench that runs `servers` and a load generator: kills the load generator, stops
 * every server by PID, warns about any left alive, then runs `after` (temp files). Safe to call
 * more than once; SIGINT and SIGTERM call it and exit.
 */
export function stopperFor(servers, loadgen, after = () => {}) {
  let cleaning = null;
  const cleanup = () => {
    cleaning ??= (async () => {
      loadgen.kill();
      for (const server of servers) await stopServer(server);
      const left = servers.flatMap(survivors);
      if (left.length > 0) console.error(`bench: WARNING: pids still alive after stop: ${left.join(', ')}`);
      after();
    })();
    return cleaning;
  };
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => void cleanup().finally(() => process.exit(130)));
  return cleanup;
}
