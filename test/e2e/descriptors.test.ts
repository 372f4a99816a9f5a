/**
 * Running out of file descriptors costs only the connections that cannot be accepted: with
 * `ulimit -n 1024` and 1,100 connections held open, the worker answers the ones it accepted, logs
 * the shortage once (not once per refused connection), and goes on serving as the same process
 * once connections close. Both engines. Also: tsgi runs with its soft RLIMIT_NOFILE at the hard
 * limit, as servers do.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ROOT } from '../helpers/server.js';
import { rawRequest } from '../helpers/raw.js';
import { sleep, until } from '../helpers/wait.js';
import { openFileLimit, raiseOpenFileLimit } from '../../src/worker/descriptors.js';

const APP = join(ROOT, 'test/fixtures/apps/supervise.js:app');
const HELD = 1100;

const started = new Set<ChildProcess>();
afterAll(() => {
  for (const proc of started) proc.kill('SIGKILL');
});

/** tsgi started by a shell that first runs `limit` (e.g. `ulimit -n 1024`). */
async function startLimited(limit: string, args: string[]): Promise<{ proc: ChildProcess; port: number; output: () => string }> {
  const proc = spawn('bash', ['-c', `${limit} && exec "$0" "$@"`, process.execPath, BIN, '-b', '127.0.0.1:0', ...args], {
    cwd: ROOT,
    env: { ...process.env, TSGI_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(proc);
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  await until(() => out.includes('Worker ready') || proc.exitCode !== null, 'tsgi to be ready', { timeoutMs: 15_000 });
  const port = Number(/127\.0\.0\.1:(\d+)/.exec(out)?.[1]);
  return { proc, port, output: () => out };
}

async function stop(proc: ChildProcess): Promise<number | null> {
  if (proc.exitCode !== null) return proc.exitCode;
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
  const code = await exited;
  clearTimeout(timer);
  started.delete(proc);
  return code;
}

async function workerPid(port: number): Promise<string> {
  const { responses } = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n', { timeoutMs: 10_000 });
  return responses[0]!.body.toString().split(' ')[1]!;
}

/** Opens `n` connections at once and resolves once each has connected or failed. */
async function holdConnections(port: number, n: number): Promise<net.Socket[]> {
  const sockets = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Socket>((resolve) => {
          const s = net.connect(port, '127.0.0.1');
          s.on('connect', () => resolve(s));
          s.on('error', () => resolve(s));
        }),
    ),
  );
  return sockets;
}

/** Sends a request on every socket; counts the answers and the connections closed unanswered. */
async function askEach(sockets: net.Socket[]): Promise<{ answered: number; closed: number }> {
  let answered = 0;
  let closed = 0;
  await Promise.all(
    sockets.map(
      (s) =>
        new Promise<void>((resolve) => {
          let got = '';
          const done = (): void => {
            if (got.startsWith('HTTP/1.1 200')) answered++;
            else closed++;
            resolve();
          };
          if (s.destroyed) return done();
          s.on('data', (d) => {
            got += d.toString('latin1');
            if (got.includes('\r\n\r\n')) {
              s.removeAllListeners('close');
              done();
            }
          });
          s.once('close', done);
          s.on('error', () => {});
          s.setTimeout(10_000, () => s.destroy());
          s.write('GET / HTTP/1.1\r\nHost: t\r\n\r\n');
        }),
    ),
  );
  return { answered, closed };
}

const ownHardLimit = openFileLimit(process.pid)?.hard ?? 0;

describe('out of file descriptors', () => {
  it.skipIf(ownHardLimit < 2 * HELD + 100).each(['tsgi', 'node'])(
    '--http %s: ulimit -n 1024 and 1,100 connections held: the accepted ones are answered, the shortage is logged once, the same worker serves on',
    async (engine) => {
      // --worker-connections (default 1000) would close connections before the descriptors run
      // out, depending on how many the worker uses for itself; here they are to run out.
      const server = await startLimited('ulimit -n 1024', ['--http', engine, '--timeout', '2', '--worker-connections', '0', APP]);
      const before = await workerPid(server.port);

      const held = await holdConnections(server.port, HELD);
      // Long enough for several heartbeats (every 0.5 s with --timeout 2) while the worker is short.
      await sleep(2000);
      const { answered, closed } = await askEach(held);
      expect(answered + closed).toBe(HELD);
      // Each connection the worker accepted costs it one descriptor; a few dozen are its own.
      expect(answered).toBeGreaterThan(900);
      expect(answered).toBeLessThan(1024);
      for (const s of held) s.destroy();

      await until(() => server.output().includes('file descriptors are available again'), 'the recovery line', { timeoutMs: 10_000 });
      expect(await workerPid(server.port)).toBe(before);
      for (let i = 0; i < 20; i++) expect(await workerPid(server.port)).toBe(before);

      const out = server.output();
      expect(out.match(/out of file descriptors/g)?.length, out).toBe(1);
      expect(out).toContain('may have 1024 open');
      expect(out).not.toMatch(/exited unexpectedly|WORKER TIMEOUT|uncaught/i);
      expect(await stop(server.proc)).toBe(0);
    },
    60_000,
  );

  it.skipIf(!openFileLimit(process.pid))('tsgi runs with its soft limit at the hard limit, master and workers', async () => {
    const server = await startLimited('ulimit -S -n 1024', ['--workers', '2', APP]);
    await until(() => (server.output().match(/Worker ready/g) ?? []).length >= 2, 'two workers', { timeoutMs: 15_000 });
    const masterPid = server.proc.pid!;
    const pids = [masterPid, ...[...server.output().matchAll(/Booting worker with pid: (\d+)/g)].map((m) => Number(m[1]))];
    for (const pid of pids) {
      const limit = openFileLimit(pid)!;
      expect(limit.soft, `pid ${pid}`).toBe(limit.hard);
    }
    expect(await stop(server.proc)).toBe(0);
  });

  it.skipIf(spawnSync('prlimit', ['--version']).status !== 0)('raiseOpenFileLimit lifts a process from its soft limit to its hard one with prlimit', () => {
    // sleep, unlike node, does not raise its own limit at start.
    const sleeper = spawn('bash', ['-c', 'ulimit -S -n 512 && exec sleep 30'], { stdio: 'ignore' });
    started.add(sleeper);
    try {
      const deadline = Date.now() + 5000;
      while (!readFileSync(`/proc/${sleeper.pid}/cmdline`, 'utf8').startsWith('sleep') && Date.now() < deadline);
      const before = openFileLimit(sleeper.pid!)!;
      expect(before.soft).toBe(512);
      const result = raiseOpenFileLimit(sleeper.pid!);
      expect(result).toEqual({ raised: true, from: 512, to: before.hard });
      expect(openFileLimit(sleeper.pid!)!.soft).toBe(before.hard);
    } finally {
      sleeper.kill('SIGKILL');
    }
  });
});
