/**
 * tsgi as PID 1 (as in a container), in a new PID namespace: `unshare --pid --fork --mount-proc`.
 * With the reaper built (native/build.mjs, as the Dockerfile does): an orphan is reaped and never
 * taken for a worker, even when it exits with a worker's boot-failure code; TERM stops gracefully
 * within --graceful-timeout; a SIGKILLed worker is replaced. Without it: tsgi says so at start.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/server.js';
import { rawRequest } from '../helpers/raw.js';
import { freePort } from '../helpers/proxy-process.js';
import { sleep } from '../helpers/wait.js';

const APP = 'test/deploy/fixtures/pid1-app.js:app';
const started = new Set<ChildProcess>();
afterAll(() => {
  for (const p of started) if (p.exitCode === null) p.kill('SIGKILL');
});

beforeAll(() => {
  const r = spawnSync(process.execPath, [join(ROOT, 'native/build.mjs')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`native/build.mjs failed:\n${r.stdout}${r.stderr}`);
});

interface Pid1 {
  unshare: ChildProcess;
  /** The master's pid outside the namespace (inside, it is 1). */
  master: number;
  port: number;
  output(): string;
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
}

/** The pids of a process's children, from outside the namespace. */
function children(pid: number): number[] {
  const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return text === '' ? [] : text.split(/\s+/).map(Number);
}

function stateOf(pid: number): string {
  try {
    const t = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return t.slice(t.lastIndexOf(')') + 2).split(' ')[0]!;
  } catch {
    return 'gone';
  }
}

async function startPid1(root: string, args: string[]): Promise<Pid1> {
  const port = await freePort();
  const unshare = spawn('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, join(root, 'bin/tsgi.js'), '-b', `127.0.0.1:${port}`, ...args], {
    cwd: ROOT,
    env: { ...process.env, TSGI_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(unshare);
  let out = '';
  unshare.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  unshare.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const waitFor = async (re: RegExp, timeoutMs = 15_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!re.test(out)) {
      if (Date.now() > deadline || unshare.exitCode !== null) throw new Error(`no ${re} in:\n${out}`);
      await sleep(50);
    }
  };
  await waitFor(/Worker ready/);
  const [master] = children(unshare.pid!);
  return { unshare, master: master!, port, output: () => out, waitFor };
}

const get = (port: number, path: string) => rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`, { timeoutMs: 10_000 });

describe('tsgi as PID 1', () => {
  it('reaps orphans silently, never takes them for workers, and keeps serving', async () => {
    const s = await startPid1(ROOT, ['--workers', '2', '--log-level', 'debug', APP]);
    expect(s.output()).toContain('"pid":1,');
    expect(s.output()).toContain('Running as PID 1: orphaned processes are reaped');
    for (let i = 0; i < 3; i++) expect((await get(s.port, '/orphan')).responses[0]?.status).toBe(200);
    // Each orphan exits 0.3 s later with code 3 (a worker's "could not boot"), then is reaped.
    await s.waitFor(/(reaped orphaned process \d+ \(exit status 3\)[\s\S]*){3}/, 10_000);
    const zombies = children(s.master).filter((pid) => stateOf(pid) === 'Z');
    expect(zombies).toEqual([]);
    expect(s.output()).not.toMatch(/exited unexpectedly|could not start|Shutting down/);
    expect((await get(s.port, '/')).responses[0]?.status).toBe(200);
    s.master && process.kill(s.master, 'SIGTERM');
    await new Promise((r) => s.unshare.once('exit', r));
  }, 40_000);

  it('stops gracefully on TERM within --graceful-timeout, finishing the request in flight', async () => {
    const s = await startPid1(ROOT, ['--graceful-timeout', '5', APP]);
    const slow = get(s.port, '/slow?ms=1000');
    await sleep(300);
    const t = Date.now();
    process.kill(s.master, 'SIGTERM');
    expect((await slow).responses[0]?.status).toBe(200);
    const code = await new Promise<number | null>((r) => s.unshare.once('exit', (c) => r(c)));
    expect(code).toBe(0);
    expect(Date.now() - t).toBeLessThan(5000);
    expect(s.output()).toContain('Shutting down: Master');
  }, 30_000);

  it('replaces a SIGKILLed worker', async () => {
    const s = await startPid1(ROOT, ['--workers', '2', APP]);
    await s.waitFor(/(Worker ready[\s\S]*){2}/);
    const [worker] = children(s.master);
    process.kill(worker!, 'SIGKILL');
    await s.waitFor(/exited unexpectedly \(signal SIGKILL\)/);
    await s.waitFor(/(Worker ready[\s\S]*){3}/);
    expect((await get(s.port, '/')).responses[0]?.status).toBe(200);
    process.kill(s.master, 'SIGTERM');
    await new Promise((r) => s.unshare.once('exit', r));
  }, 30_000);

  it('without the reaper built, says that orphans will stay zombies', async () => {
    // A copy of the package without native/build.
    const root = mkdtempSync(join(tmpdir(), 'tsgi-noreaper-'));
    for (const dir of ['bin', 'dist']) cpSync(join(ROOT, dir), join(root, dir), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(root, 'package.json'));
    symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
    const s = await startPid1(root, [APP]);
    expect(s.output()).toMatch(/running as PID 1 without the orphan reaper .* orphaned processes will stay zombies/);
    process.kill(s.master, 'SIGTERM');
    await new Promise((r) => s.unshare.once('exit', r));
  }, 30_000);
});
