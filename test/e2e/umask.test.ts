/**
 * --umask, as Gunicorn applies it: to the files tsgi itself creates, its unix sockets above all.
 * The default is 0, so a unix socket is connectable by any user (an Nginx running as www-data);
 * the pid file is 0644 whatever the umask. Checked on a real socket and, where the test runs as
 * root, by connecting as another user.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTsgi, stopAll, BIN, ROOT } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

const dirs: string[] = [];
afterAll(async () => {
  await stopAll();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A directory every user may enter, as /run/app/ would be for a socket behind Nginx. */
function openDirectory(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-umask-'));
  chmodSync(dir, 0o755);
  dirs.push(dir);
  return dir;
}

const mode = (path: string): number => statSync(path).mode & 0o777;
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

/** Sends one request over the unix socket as `uid`; resolves with the status line or the error code. */
function requestAs(uid: number, socketPath: string): string {
  const script = `
    const s = require('node:net').connect(process.argv[1]);
    let got = '';
    s.on('connect', () => s.write('GET / HTTP/1.1\\r\\nHost: t\\r\\nConnection: close\\r\\n\\r\\n'));
    s.on('data', (d) => (got += d));
    s.on('end', () => { console.log(got.split('\\r\\n')[0]); });
    s.on('error', (e) => { console.log(e.code); });`;
  const r = spawnSync(process.execPath, ['-e', script, socketPath], { uid, gid: uid, encoding: 'utf8', timeout: 10_000 });
  return r.stdout.trim();
}

/** Starts tsgi with `umask` inherited from a shell, as an init script or a terminal would. */
async function startUnder(umask: string, args: string[]): Promise<{ stop: () => Promise<number | null>; output: () => string }> {
  const proc = spawn('sh', ['-c', `umask ${umask}; exec "$0" "$@"`, process.execPath, BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, TSGI_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  await until(() => out.includes('Worker ready') || proc.exitCode !== null, 'tsgi to be ready', { timeoutMs: 15_000 });
  return {
    output: () => out,
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve(proc.exitCode);
        proc.once('exit', (code) => resolve(code));
        proc.kill('SIGTERM');
        setTimeout(() => proc.kill('SIGKILL'), 10_000).unref();
      }),
  };
}

describe('--umask', () => {
  it('defaults to 0: the unix socket is srwxrwxrwx under an inherited umask of 022, and the pid file 0644', async () => {
    const dir = openDirectory();
    const sock = join(dir, 'app.sock');
    const pid = join(dir, 'tsgi.pid');
    const server = await startUnder('022', ['-b', `unix:${sock}`, '--pid', pid, 'examples/hello:app']);
    expect(server.output()).toContain('Worker ready');
    expect(statSync(sock).isSocket()).toBe(true);
    expect(mode(sock).toString(8)).toBe('777');
    expect(mode(pid).toString(8)).toBe('644');
    expect(Number(readFileSync(pid, 'utf8'))).toBeGreaterThan(0);
    expect(await server.stop()).toBe(0);
  });

  it('-m 007 gives a socket only its owner and group may use; the pid file stays 0644 even under umask 0', async () => {
    const dir = openDirectory();
    const sock = join(dir, 'app.sock');
    const pid = join(dir, 'tsgi.pid');
    const server = await startUnder('0', ['-m', '007', '-b', `unix:${sock}`, '--pid', pid, 'examples/hello:app']);
    expect(mode(sock).toString(8)).toBe('770');
    expect(mode(pid).toString(8)).toBe('644');
    expect(await server.stop()).toBe(0);
  });

  it('leaves the umask of the workers, and so of the files the app creates, as tsgi inherited it', async () => {
    const dir = openDirectory();
    const server = await startTsgi({ args: ['-m', '0', join(ROOT, 'test/fixtures/apps/echo.js:app')], cwd: dir });
    const workerPid = Number((await (await fetch(`${server.url}/pid`)).text()).trim());
    const status = readFileSync(`/proc/${workerPid}/status`, 'utf8');
    expect(/^Umask:\s+(\d+)/m.exec(status)?.[1]).toBe(process.umask().toString(8).padStart(4, '0'));
    await server.stop();
  });

  it.skipIf(!isRoot)('another user (nobody) can connect to the default socket, and not to one made with -m 077', async () => {
    const dir = openDirectory();
    const open = join(dir, 'open.sock');
    const first = await startUnder('022', ['-b', `unix:${open}`, 'examples/hello:app']);
    expect(requestAs(NOBODY, open)).toBe('HTTP/1.1 200 OK');
    expect(await first.stop()).toBe(0);

    const closed = join(dir, 'closed.sock');
    const second = await startUnder('022', ['-m', '077', '-b', `unix:${closed}`, 'examples/hello:app']);
    expect(requestAs(NOBODY, closed)).toBe('EACCES');
    expect(await second.stop()).toBe(0);
  });

  it.skipIf(!isRoot)('with --user/--group, the socket belongs to them (Gunicorn chowns it), so -m 007 still lets them in', async () => {
    const dir = openDirectory();
    const sock = join(dir, 'app.sock');
    // Workers load the app after dropping privileges (as Gunicorn's do): it must be readable by
    // nobody, which a checkout in a private directory (mktemp -d) is not.
    copyFileSync(join(ROOT, 'examples/hello.js'), join(dir, 'hello.js'));
    const server = await startUnder('022', ['-m', '007', '--user', String(NOBODY), '--group', String(NOBODY), '-b', `unix:${sock}`, join(dir, 'hello.js:app')]);
    expect(statSync(sock).uid).toBe(NOBODY);
    expect(statSync(sock).gid).toBe(NOBODY);
    expect(requestAs(NOBODY, sock)).toBe('HTTP/1.1 200 OK');
    expect(await server.stop()).toBe(0);
  });
  it.skipIf(!isRoot)('an app that --user cannot read is reported as unreadable, not as missing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsgi-private-'));
    dirs.push(dir);
    copyFileSync(join(ROOT, 'examples/hello.js'), join(dir, 'hello.js'));
    const r = spawnSync(process.execPath, [BIN, '--user', String(NOBODY), '--group', String(NOBODY), '-b', '127.0.0.1:0', join(dir, 'hello.js:app')], {
      cwd: ROOT,
      env: { ...process.env, TSGI_LOG_FORMAT: 'json' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).toBe(4);
    expect(r.stdout + r.stderr).toContain('TSGI_ERR_APP_UNREADABLE');
    expect(r.stdout + r.stderr).not.toContain('TSGI_ERR_APP_NOT_FOUND');
  });
});
