/**
 * There is no container engine here, so the Dockerfile's own steps run outside one: in a fresh
 * copy of the tracked files, as an unprivileged user (nobody), each stage in its own directory
 * (test/deploy/dockerfile.ts). Then the image's ENTRYPOINT and CMD start tsgi with its ENV: it
 * serves examples/hello, the HEALTHCHECK command passes, STOPSIGNAL stops it with code 0, and the
 * run stage holds production dependencies only, plus the PID 1 reaper built in the build stage.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ROOT } from '../helpers/server.js';
import { rawRequest } from '../helpers/raw.js';
import { freePort, waitForPort } from '../helpers/proxy-process.js';
import { buildDockerfile, hostPath } from './dockerfile.js';

const NOBODY = { uid: 65534, gid: 65534 };
let proc: ChildProcess | null = null;
afterAll(() => {
  if (proc !== null && proc.exitCode === null) proc.kill('SIGKILL');
});

/** The tracked files of the working tree: what a fresh clone of it holds. */
function freshClone(into: string): void {
  const r = spawnSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ls-files failed: ${r.stderr}`);
  for (const file of r.stdout.split('\0').filter(Boolean)) {
    const src = join(ROOT, file);
    if (!existsSync(src)) continue;
    mkdirSync(dirname(join(into, file)), { recursive: true });
    cpSync(src, join(into, file));
  }
}

describe('Dockerfile', () => {
  it('builds and runs as a non-root user with the same commands, and serves examples/hello', async () => {
    const root = mkdtempSync(join(tmpdir(), 'tsgi-docker-'));
    chmodSync(root, 0o755);
    const context = join(root, 'context');
    freshClone(context);
    const home = join(root, 'home');
    mkdirSync(home);
    const as = { ...NOBODY, home };
    spawnSync('chown', ['-R', `${as.uid}:${as.gid}`, root]);
    const { final, stages } = buildDockerfile(join(context, 'Dockerfile'), context, join(root, 'fs'), as);
    expect([...stages.keys()]).toEqual(['build', 'run']);

    // Production dependencies only; the reaper came from the build stage.
    const app = join(final.root, '/app/tsgi');
    expect(existsSync(join(app, 'node_modules/pino'))).toBe(true);
    expect(existsSync(join(app, 'node_modules/typescript'))).toBe(false);
    expect(existsSync(join(app, 'native/build/reaper.node'))).toBe(true);
    expect(final.user).not.toBe(null);
    expect(final.stopSignal).toBe('SIGTERM');

    const port = await freePort();
    const metrics = await freePort();
    const env = { ...final.env, PORT: String(port), TSGI_METRICS_BIND: `127.0.0.1:${metrics}` };
    // PORT makes the default bind 0.0.0.0:$PORT, as in the container.
    const [cmd, ...args] = [...final.entrypoint, ...final.cmd].map((a) => hostPath(final, a));
    proc = spawn('setpriv', [`--reuid=${as.uid}`, `--regid=${as.gid}`, '--clear-groups', cmd!, ...args], {
      cwd: join(final.root, final.workdir),
      env: { PATH: process.env.PATH, HOME: home, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    await waitForPort(port, proc, () => out, 20_000);
    const r = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    expect(r.responses[0]?.body.toString()).toBe('Hello, World!');
    expect(out).toMatch(/"level":"info","time":"[^"]+Z"/);

    await waitForPort(metrics, proc, () => out);
    const [hc, ...hcArgs] = final.healthcheck!;
    const health = spawnSync(hc!, hcArgs, { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8', timeout: 10_000 });
    expect(health.status).toBe(0);

    const exit = new Promise<number | null>((resolve) => proc!.once('exit', (code) => resolve(code)));
    proc.kill(final.stopSignal as NodeJS.Signals);
    expect(await exit).toBe(0);
    expect(out).toContain('Shutting down: Master');
  }, 300_000);
});
