/**
 * Where the master's sockets come from: a unix socket path a live server answers on is refused
 * (a stale one is replaced), `fd://N` adopts an inherited descriptor, and systemd's socket
 * activation (LISTEN_FDS/LISTEN_PID) hands tsgi its sockets, tested with systemd-socket-activate.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ROOT, startTsgi, stopAll } from '../helpers/server.js';
import { rawRequest } from '../helpers/raw.js';
import { PACKAGES, requireCommand } from '../helpers/system.js';
import { freePort, waitForPort } from '../helpers/proxy-process.js';
import { probeSocketPath } from '../../src/master/sockets.js';

const extra = new Set<number>();
afterAll(async () => {
  for (const pid of extra) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone.
    }
  }
  await stopAll();
});

const get = (socketPath: string) => rawRequest(0, 'GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n', { socketPath, timeoutMs: 5000 });

describe('unix sockets', () => {
  it('refuses a path a live tsgi answers on, and the first server keeps it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsgi-sock-'));
    const path = join(dir, 'app.sock');
    const first = await startTsgi({ args: ['-b', `unix:${path}`, 'examples/hello:app'], waitReady: false });
    await first.waitFor(/Worker ready/);
    const second = spawnSync(process.execPath, [BIN, '-b', `unix:${path}`, 'examples/hello:app'], { cwd: ROOT, encoding: 'utf8', timeout: 15_000, env: { ...process.env, TSGI_LOG_FORMAT: 'json' } });
    expect(second.status).toBe(1);
    expect(second.stderr).toContain('TSGI_ERR_BIND');
    expect(second.stderr).toContain(`a server is already listening on ${path}`);
    // The live socket is still there and still answers.
    expect(statSync(path).isSocket()).toBe(true);
    expect((await get(path)).responses[0]?.body.toString()).toBe('Hello, World!');
    expect((await first.stop()).code).toBe(0);
    expect(existsSync(path)).toBe(false);
  });

  it('replaces a stale socket file that nothing listens on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsgi-sock-'));
    const path = join(dir, 'app.sock');
    // A socket file whose server died: it listened, then was killed without removing the file.
    const holder = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    extra.add(holder.pid!);
    await new Promise((r) => holder.stdout!.once('data', r));
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    expect(statSync(path).isSocket()).toBe(true);
    expect(await probeSocketPath(path)).toBe('stale');
    const server = await startTsgi({ args: ['-b', `unix:${path}`, 'examples/hello:app'], waitReady: false });
    await server.waitFor(/Worker ready/);
    expect((await get(path)).responses[0]?.status).toBe(200);
    await server.stop();
  });
});

describe('inherited sockets', () => {
  it('serves on fd://N, a listening socket it inherited', async () => {
    const listener = net.createServer();
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    const port = (listener.address() as net.AddressInfo).port;
    const fd = (listener as unknown as { _handle: { fd: number } })._handle.fd;
    const proc = spawn(process.execPath, [BIN, '-b', 'fd://3', 'examples/hello:app'], {
      cwd: ROOT,
      env: { ...process.env, TSGI_LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'pipe', fd],
    });
    extra.add(proc.pid!);
    let out = '';
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    listener.close();
    await waitForReady(() => out);
    expect(out).toContain(`Listening at: http://127.0.0.1:${port}`);
    const r = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    expect(r.responses[0]?.body.toString()).toBe('Hello, World!');
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
  });

  it('refuses fd://N when N is not a socket', () => {
    const r = spawnSync(process.execPath, [BIN, '-b', 'fd://3', 'examples/hello:app'], { cwd: ROOT, encoding: 'utf8', timeout: 15_000, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/cannot listen on fd:\/\/3: file descriptor 3 is not a listening socket/);
  });

  it('takes its sockets from systemd socket activation (LISTEN_FDS, LISTEN_PID)', async () => {
    const activate = requireCommand(PACKAGES.socketActivate);
    const port = await freePort();
    // systemd-socket-activate binds the port and execs tsgi with LISTEN_FDS=1, LISTEN_PID=its pid.
    const proc = spawn(activate, ['-l', `127.0.0.1:${port}`, process.execPath, BIN, 'examples/hello:app'], {
      cwd: ROOT,
      env: { ...process.env, TSGI_LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    extra.add(proc.pid!);
    let out = '';
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitForPort(port, proc, () => out);
    // The first connection makes systemd-socket-activate start tsgi; it is answered by tsgi.
    const r = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n', { timeoutMs: 15_000 });
    expect(r.responses[0]?.body.toString()).toBe('Hello, World!');
    expect(out).toContain('socket(s) passed by systemd (LISTEN_FDS)');
    expect(out).toContain(`Listening at: http://127.0.0.1:${port}`);
    // The default --bind (127.0.0.1:8000) was not bound.
    expect(out).not.toContain('127.0.0.1:8000');
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
    expect(out).toContain('Shutting down: Master');
  });
});

async function waitForReady(out: () => string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!/Worker ready/.test(out())) {
    if (Date.now() > deadline) throw new Error(`no worker became ready:\n${out()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
