/**
 * A real proxy (nginx, haproxy) run by a test: a foreground process in its own temp prefix,
 * waited for until its port accepts connections, stopped by PID. Used by nginx.ts and haproxy.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

export interface ProxyProcess {
  proc: ChildProcess;
  pid: number;
  /** The temp directory holding its configuration, logs and temp files. */
  prefix: string;
  output(): string;
  /** Sends `signal` (default TERM) and waits for the exit; SIGKILL after `timeoutMs`. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<void>;
}

const running = new Set<ProxyProcess>();

/** A free TCP port on 127.0.0.1 (the kernel's choice; closed again before it is returned). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once 127.0.0.1:port accepts a connection; rejects after `timeoutMs` or if `proc` exits. */
export async function waitForPort(port: number, proc: ChildProcess, output: () => string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`process exited (${proc.exitCode ?? proc.signalCode}) before listening on ${port}:\n${output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms:\n${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startProxyProcess(command: string, args: string[], prefix: string, waitPort: number): Promise<ProxyProcess> {
  const proc = spawn(command, args, { cwd: prefix, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const handle: ProxyProcess = {
    proc,
    pid: proc.pid!,
    prefix,
    output: () => out,
    async stop(signal = 'SIGTERM', timeoutMs = 10_000) {
      running.delete(handle);
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
  running.add(handle);
  try {
    await waitForPort(waitPort, proc, () => out);
  } catch (err) {
    await handle.stop('SIGKILL');
    throw err;
  }
  return handle;
}

/** Stops every proxy a test file started and did not stop; call from afterAll. */
export async function stopAllProxies(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop('SIGKILL')));
}
