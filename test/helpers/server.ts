/**
 * Starts the real `tsgi` CLI on 127.0.0.1 with an ephemeral port and tracks the process so that
 * every test file can stop what it started. Waits are bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = fileURLToPath(new URL('../../bin/tsgi.js', import.meta.url));

export interface RunningServer {
  proc: ChildProcess;
  port: number;
  url: string;
  /** Everything the process wrote to stderr and stdout so far. */
  output(): string;
  /** Resolves with the first output line matching `pattern`, at most `timeoutMs` from now. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Sends `signal` and resolves with how the process ended (SIGKILL after `timeoutMs`). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<ChildProcess>();

export interface StartOptions {
  args?: string[];
  cwd?: string;
  env?: Record<string, string>;
  /** Wait until this many workers have answered; default: wait for the first answer. */
  waitReady?: boolean;
  timeoutMs?: number;
}

/** Runs `tsgi ARGS` and waits until it listens. Use `--bind 127.0.0.1:0` (added when absent). */
export async function startTsgi(options: StartOptions = {}): Promise<RunningServer> {
  const args = options.args ?? ['examples/hello:app'];
  const fullArgs = args.some((a) => a === '-b' || a === '--bind' || a.startsWith('--bind=')) ? args : ['--bind', '127.0.0.1:0', ...args];
  const proc = spawn(process.execPath, [BIN, ...fullArgs], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, TSGI_LOG_FORMAT: 'json', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer): void => {
    out += d.toString();
    for (const l of listeners) l();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => {
      running.delete(proc);
      for (const l of listeners) l();
      resolve({ code, signal });
    });
  });

  const waitFor = (pattern: RegExp, timeoutMs = 10_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        for (const line of out.split('\n')) {
          if (pattern.test(line)) {
            cleanup();
            resolve(line);
            return true;
          }
        }
        if (proc.exitCode !== null || proc.signalCode !== null) {
          cleanup();
          reject(new Error(`tsgi exited before printing ${pattern}:\n${out}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern}:\n${out}`));
      }, timeoutMs);
      const listener = (): void => void check();
      const cleanup = (): void => {
        clearTimeout(timer);
        listeners.delete(listener);
      };
      listeners.add(listener);
      check();
    });

  const server: RunningServer = {
    proc,
    port: 0,
    url: '',
    output: () => out,
    waitFor,
    async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill(signal);
        const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
        const result = await exited;
        clearTimeout(timer);
        return result;
      }
      return exited;
    },
  };
  if (options.waitReady === false) return server;
  try {
    const line = await waitFor(/Listening at: https?:\/\/127\.0\.0\.1:\d+/, options.timeoutMs ?? 15_000);
    server.port = Number(/127\.0\.0\.1:(\d+)/.exec(line)![1]);
    server.url = `${/Listening at: https:/.test(line) ? 'https' : 'http'}://127.0.0.1:${server.port}`;
    await waitFor(/Worker ready/, options.timeoutMs ?? 15_000);
  } catch (err) {
    await server.stop('SIGKILL');
    throw err;
  }
  return server;
}

/** Kills every tsgi process a test file started and did not stop; call from afterAll. */
export async function stopAll(): Promise<void> {
  await Promise.all(
    [...running].map(
      (proc) =>
        new Promise<void>((resolve) => {
          proc.once('exit', () => resolve());
          proc.kill('SIGKILL');
        }),
    ),
  );
}
