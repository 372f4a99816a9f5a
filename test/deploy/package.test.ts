/**
 * Installing tsgi: `npm pack` gives a tarball that installs into an empty project without
 * running any script of tsgi's, and `npx tsgi app:app` there serves a request. A production
 * install of a checkout (`npm ci --omit=dev`) runs no build either.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ROOT } from '../helpers/server.js';
import { rawRequest } from '../helpers/raw.js';
import { freePort, waitForPort } from '../helpers/proxy-process.js';

let proc: ChildProcess | null = null;
afterAll(() => {
  if (proc === null) return;
  try {
    process.kill(-proc.pid!, 'SIGKILL');
  } catch {
    // The group is gone.
  }
});

/** Resolves once nothing listens on the port any more (tsgi, not only npx, has exited). */
async function waitGone(port: number, timeoutMs = 10_000): Promise<void> {
  const net = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (!open) return;
    if (Date.now() > deadline) throw new Error(`tsgi still listens on ${port} after TERM`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall', 'prepare', 'preprepare', 'postprepare'];

function npm(args: string[], cwd: string): { status: number | null; out: string } {
  const r = spawnSync('npm', args, { cwd, encoding: 'utf8', timeout: 180_000, env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' } });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('package', () => {
  it('declares no install script', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    for (const name of INSTALL_SCRIPTS) expect(pkg.scripts[name], name).toBeUndefined();
  });

  it('a fresh checkout after npm ci: the first tsgi run builds dist/ and serves', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsgi-checkout-'));
    const files = spawnSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).stdout.split('\0').filter(Boolean);
    for (const file of files) {
      if (!existsSync(join(ROOT, file))) continue;
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      copyFileSync(join(ROOT, file), join(dir, file));
    }
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    const r = spawnSync(process.execPath, ['bin/tsgi.js', '--check-config', 'examples/hello:app'], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toContain('building dist/ from src/');
    expect(r.stdout).toContain('configuration and app examples/hello:app OK');
    expect(existsSync(join(dir, 'dist/cli.js'))).toBe(true);
  }, 150_000);

  it('npm pack → install into an empty project → npx tsgi app:app serves a request', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsgi-pack-'));
    // dist/ is built by `npm test`'s pretest; prepack would build it again.
    const packed = npm(['pack', '--ignore-scripts', '--pack-destination', dir], ROOT);
    expect(packed.status, packed.out).toBe(0);
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
    const project = join(dir, 'project');
    spawnSync('mkdir', [project]);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
    writeFileSync(join(project, 'app.js'), "export const app = (environ, startResponse) => { startResponse('200 OK', [['Content-Type', 'text/plain']]); return ['from the tarball']; };\n");
    const installed = npm(['install', '--foreground-scripts', join(dir, tarball)], project);
    expect(installed.status, installed.out).toBe(0);
    // npm lists every package whose install scripts it would run; tsgi is not one of them.
    expect(installed.out).not.toMatch(/tsgi@[\d.]+ \(/);
    const manifest = JSON.parse(readFileSync(join(project, 'node_modules/tsgi/package.json'), 'utf8')) as { scripts?: Record<string, string> };
    for (const name of INSTALL_SCRIPTS) expect(manifest.scripts?.[name], name).toBeUndefined();
    expect(readdirSync(join(project, 'node_modules/tsgi'))).not.toContain('src');

    const port = await freePort();
    // Its own process group: npx does not pass TERM on to tsgi, so the group is signalled.
    proc = spawn('npx', ['--no-install', 'tsgi', '-b', `127.0.0.1:${port}`, 'app:app'], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    await waitForPort(port, proc, () => out, 30_000);
    const r = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    expect(r.responses[0]?.body.toString()).toBe('from the tarball');
    const exit = new Promise((resolve) => proc!.once('exit', resolve));
    process.kill(-proc.pid!, 'SIGTERM');
    await exit;
    await waitGone(port);
  }, 240_000);
});
