/**
 * The master's promises, end to end with real processes: reloads that drop nothing, broken
 * deploys that never take the site down, stuck workers always caught.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync, readFileSync, renameSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTsgi, stopAll, ROOT, type RunningServer } from '../helpers/server.js';
import { rawRequest } from '../helpers/raw.js';
import { startLoad } from '../helpers/load.js';
import { count, sleep, until as waitUntil } from '../helpers/wait.js';

const until = (check: () => boolean, timeoutMs: number, what: string, server?: RunningServer): Promise<void> => waitUntil(check, what, { timeoutMs, server });

const extraPids = new Set<number>();
afterAll(async () => {
  for (const pid of extraPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  await stopAll();
});

const APP = join(ROOT, 'test/fixtures/apps/supervise.js');

async function get(port: number, path = '/'): Promise<{ status: number; body: string }> {
  const { responses } = await rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`, { timeoutMs: 10_000 });
  return { status: responses[0]?.status ?? 0, body: responses[0]?.body.toString() ?? '' };
}

/** Live worker pids, from the master's log: booted and not yet exited. */
function livePids(server: RunningServer): Set<string> {
  const out = server.output();
  const booted = [...out.matchAll(/Booting worker with pid: (\d+)/g)].map((m) => m[1]!);
  const gone = new Set([...out.matchAll(/Worker exiting \(pid: (\d+)\)|Worker \(pid: (\d+)\) exited/g)].map((m) => m[1] ?? m[2]!));
  return new Set(booted.filter((p) => !gone.has(p)));
}

describe('supervision', () => {
  it('HUP three times under continuous load: zero failed requests, every worker replaced', async () => {
    const server = await startTsgi({ args: ['--workers', '2', APP] });
    await until(() => count(server, /Worker ready/) >= 2, 10_000, 'two workers', server);
    const first = livePids(server);
    const keepAlive = startLoad(server.port, { concurrency: 6, keepAlive: true, maxMs: 40_000 });
    const closing = startLoad(server.port, { concurrency: 2, keepAlive: false, maxMs: 40_000 });
    for (let i = 1; i <= 3; i++) {
      await sleep(300);
      server.proc.kill('SIGHUP');
      await until(() => count(server, /Worker ready/) >= 2 + 2 * i && count(server, /Worker exiting/) >= 2 * i, 20_000, `reload ${i}`, server);
    }
    await sleep(300);
    const [ka, cl] = await Promise.all([keepAlive.stop(), closing.stop()]);
    expect(ka.errors).toEqual([]);
    // Not even the retry RFC 9112 allows on a reused connection was needed.
    expect(ka.retried).toBe(0);
    expect(cl.errors).toEqual([]);
    expect(ka.failed + cl.failed).toBe(0);
    expect(ka.ok + cl.ok).toBeGreaterThan(200);
    const now = livePids(server);
    expect(now.size).toBe(2);
    for (const pid of first) expect(now.has(pid)).toBe(false);
    expect((await server.stop()).code).toBe(0);
  }, 90_000);

  it('HUP with an app that no longer loads keeps the old workers serving', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsgi-hup-'));
    copyFileSync(APP, join(dir, 'app.js'));
    const server = await startTsgi({ args: ['--workers', '2', 'app'], cwd: dir });
    await until(() => count(server, /Worker ready/) >= 2, 10_000, 'two workers', server);
    const before = livePids(server);
    writeFileSync(join(dir, 'app.js'), "throw new Error('deploy went wrong');\n");
    server.proc.kill('SIGHUP');
    await server.waitFor(/Reload failed/, 15_000);
    expect(server.output()).toContain('deploy went wrong');
    for (let i = 0; i < 5; i++) expect((await get(server.port)).status).toBe(200);
    expect(livePids(server)).toEqual(before);
    // The next good deploy goes through.
    copyFileSync(APP, join(dir, 'app.js'));
    server.proc.kill('SIGHUP');
    await until(() => count(server, /Worker exiting/) >= 2, 15_000, 'the good reload', server);
    expect((await get(server.port)).status).toBe(200);
    expect((await server.stop()).code).toBe(0);
  }, 60_000);

  it('TTIN adds a worker and TTOU retires the oldest', async () => {
    const server = await startTsgi({ args: ['--workers', '2', APP] });
    await until(() => count(server, /Worker ready/) >= 2, 10_000, 'two workers', server);
    server.proc.kill('SIGTTIN');
    await server.waitFor(/Number of workers: 2 -> 3/);
    await until(() => count(server, /Worker ready/) >= 3, 10_000, 'a third worker', server);
    expect(livePids(server).size).toBe(3);
    const oldest = [...server.output().matchAll(/Booting worker with pid: (\d+)/g)][0]![1]!;
    server.proc.kill('SIGTTOU');
    await server.waitFor(/Number of workers: 3 -> 2/);
    await server.waitFor(new RegExp(`Worker exiting \\(pid: ${oldest}\\)`));
    expect(livePids(server).size).toBe(2);
    await server.stop();
  });

  it('workers shrug off the master\'s signals when they get them too (pkill, a closing terminal)', async () => {
    const server = await startTsgi({ args: ['--workers', '1', APP] });
    const pid = Number((await get(server.port)).body.split(' ')[1]);
    for (const sig of ['SIGHUP', 'SIGUSR2', 'SIGTTIN', 'SIGTTOU'] as const) process.kill(pid, sig);
    await sleep(300);
    const after = await get(server.port);
    expect(after.body.split(' ')[1]).toBe(String(pid));
    // Not stopped (T, as SIGTTIN/SIGTTOU would leave it) and not gone.
    expect(readFileSync(`/proc/${pid}/status`, 'utf8')).not.toMatch(/State:\s+[TtZX]/);
    await server.stop();
  });

  it('replaces a SIGKILLed worker at once: a first crash waits no backoff', async () => {
    const server = await startTsgi({ args: ['--workers', '1', APP] });
    const pid = Number((await get(server.port)).body.split(' ')[1]);
    process.kill(pid, 'SIGKILL');
    await until(() => count(server, /Worker ready/) >= 2, 10_000, 'a replacement', server);
    // Timing belongs to benchmarks; what the master decided is in its log line.
    const exited = server.output().split('\n').find((l) => l.includes(`Worker (pid: ${pid}) exited unexpectedly (signal SIGKILL)`));
    expect(exited).toBeDefined();
    expect(exited).not.toMatch(/in a row, waiting/);
    const after = await get(server.port);
    expect(after.status).toBe(200);
    expect(after.body).not.toContain(String(pid));
    await server.stop();
  });

  it('kills a worker stuck in a busy loop after --timeout, names its request, and the others keep answering', async () => {
    const server = await startTsgi({ args: ['--workers', '2', '--timeout', '2', APP] });
    await until(() => count(server, /Worker ready/) >= 2, 10_000, 'two workers', server);
    const stuck = rawRequest(server.port, 'GET /spin?ms=60000 HTTP/1.1\r\nHost: t\r\n\r\n', { timeoutMs: 15_000 });
    await sleep(300);
    const started = Date.now();
    for (let i = 0; i < 5; i++) expect((await get(server.port)).status).toBe(200);
    const line = await server.waitFor(/WORKER TIMEOUT/, 10_000);
    expect(line).toContain('GET /spin');
    expect(Date.now() - started).toBeLessThan(6000);
    const { closed } = await stuck;
    expect(closed).toBe(true);
    await until(() => count(server, /Worker ready/) >= 3, 10_000, 'a replacement', server);
    expect((await get(server.port)).status).toBe(200);
    await server.stop();
  }, 40_000);

  it('answers 504 past --request-timeout and goes on serving', async () => {
    const server = await startTsgi({ args: ['--workers', '1', '--request-timeout', '1', APP] });
    const started = Date.now();
    const slow = await get(server.port, '/slow?ms=5000');
    expect(slow.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(3500);
    expect((await get(server.port, '/slow?ms=100')).status).toBe(200);
    await server.stop();
  });

  it('recycles a worker after --max-requests without failing a request', async () => {
    const server = await startTsgi({ args: ['--workers', '1', '--max-requests', '20', APP] });
    const load = startLoad(server.port, { concurrency: 2, keepAlive: false, maxMs: 20_000 });
    await until(() => count(server, /Retiring worker[^\n]*max-requests/) >= 2, 20_000, 'two recycles', server);
    const result = await load.stop();
    expect(result.errors).toEqual([]);
    expect(result.pids.size).toBeGreaterThanOrEqual(3);
    await server.stop();
  }, 40_000);

  it('replaces a worker whose memory passes --max-worker-memory', async () => {
    const server = await startTsgi({ args: ['--workers', '1', '--max-worker-memory', '150', APP] });
    const pid = (await get(server.port)).body.split(' ')[1];
    await get(server.port, '/hog?mb=200');
    await server.waitFor(/over --max-worker-memory 150 MiB; replacing it/, 5000);
    await server.waitFor(new RegExp(`Worker exiting \\(pid: ${pid}\\)`), 10_000);
    const after = await get(server.port);
    expect(after.status).toBe(200);
    expect(after.body.split(' ')[1]).not.toBe(pid);
    await server.stop();
  });

  it('backs off when workers crash again and again', async () => {
    const server = await startTsgi({ args: ['--workers', '1', APP] });
    for (let i = 0; i < 3; i++) {
      await get(server.port, '/crash');
      await until(() => count(server, /Worker ready/) >= i + 2, 10_000, `respawn ${i + 1}`, server);
    }
    expect(server.output()).toMatch(/crash 2 in a row, waiting 0\.2s/);
    expect(server.output()).toMatch(/crash 3 in a row, waiting 0\.4s/);
    await server.stop();
  });

  it('USR2 starts a new master on the same sockets; TERM to the old one completes the upgrade', async () => {
    const server = await startTsgi({ args: ['--workers', '1', APP] });
    server.proc.kill('SIGUSR2');
    const line = await server.waitFor(/Started a new master \(pid \d+\)/);
    const newPid = Number(/pid (\d+)/.exec(line)![1]);
    extraPids.add(newPid);
    await until(() => count(server, /Worker ready/) >= 2, 15_000, 'the new master\'s worker', server);
    expect((await server.stop('SIGTERM')).code).toBe(0);
    // Only the new master's workers remain, on the same port.
    const res = await get(server.port);
    expect(res.status).toBe(200);
    process.kill(newPid, 'SIGTERM');
    await until(() => {
      try {
        process.kill(newPid, 0);
        return false;
      } catch {
        return true;
      }
    }, 15_000, 'the new master to stop');
    extraPids.delete(newPid);
  }, 40_000);

  it('USR1 reopens log files in the master and the workers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsgi-logs-'));
    const log = join(dir, 'tsgi.log');
    const server = await startTsgi({ args: ['--workers', '1', '--error-logfile', log, APP], waitReady: false });
    await until(() => existsSync(log) && readFileSync(log, 'utf8').includes('Worker ready'), 10_000, 'the log file');
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(readFileSync(log, 'utf8'))![1]);
    renameSync(log, `${log}.1`);
    server.proc.kill('SIGUSR1');
    await until(() => existsSync(log) && readFileSync(log, 'utf8').includes('"role":"worker"'), 10_000, 'the worker to reopen');
    expect(readFileSync(log, 'utf8')).toContain('"role":"master"');
    await get(port, '/crash');
    await until(() => readFileSync(log, 'utf8').includes('exited unexpectedly'), 10_000, 'a line in the new file');
    expect(readFileSync(`${log}.1`, 'utf8')).not.toContain('exited unexpectedly');
    await server.stop();
  });

  it('USR1 with logs on standard error changes nothing and harms nothing', async () => {
    const server = await startTsgi({ args: ['--workers', '1', APP] });
    server.proc.kill('SIGUSR1');
    await server.waitFor(/reopened log files/);
    await sleep(200);
    expect(server.proc.exitCode).toBe(null);
    expect((await get(server.port)).status).toBe(200);
    expect((await server.stop()).code).toBe(0);
  });

  it('kills a retiring worker whose event loop is blocked once --graceful-timeout has passed', async () => {
    const server = await startTsgi({ args: ['--workers', '1', '--graceful-timeout', '1', APP] });
    void rawRequest(server.port, 'GET /spin?ms=60000 HTTP/1.1\r\nHost: t\r\n\r\n', { timeoutMs: 15_000 });
    await sleep(300);
    server.proc.kill('SIGHUP');
    const line = await server.waitFor(/is still running 1s after it was told to stop/, 10_000);
    expect(line).toContain('killing it');
    expect((await get(server.port)).status).toBe(200);
    await server.stop();
  }, 30_000);

  it('writes and removes --pid, names its processes with --name, applies --umask', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsgi-pid-'));
    const pidfile = join(dir, 'tsgi.pid');
    const sock = join(dir, 'app.sock');
    const server = await startTsgi({ args: ['--pid', pidfile, '--name', 'shop', '--umask', '0o077', '--bind', '127.0.0.1:0', '--bind', `unix:${sock}`, APP] });
    expect(readFileSync(pidfile, 'utf8').trim()).toBe(String(server.proc.pid));
    expect(readFileSync(`/proc/${server.proc.pid}/cmdline`, 'utf8')).toContain('tsgi: master [shop]');
    const workerPid = (await get(server.port)).body.split(' ')[1];
    expect(readFileSync(`/proc/${workerPid}/cmdline`, 'utf8')).toContain('tsgi: worker [shop]');
    expect(statSync(sock).mode & 0o777).toBe(0o700);
    await server.stop();
    expect(existsSync(pidfile)).toBe(false);
  });
});
