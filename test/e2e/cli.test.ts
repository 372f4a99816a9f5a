/** The `tsgi` command end to end: real master, real workers, real sockets. */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { startTsgi, stopAll, BIN, ROOT } from '../helpers/server.js';
import { rawRequest } from '../helpers/raw.js';
import { count, sleep, until } from '../helpers/wait.js';

afterAll(stopAll);

function runCli(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('tsgi command', () => {
  it('serves examples/hello.js from 4 worker processes', async () => {
    // Each access log line names the worker that answered (%(p)s is its pid, as in Gunicorn).
    const server = await startTsgi({ args: ['--workers', '4', '--access-logfile', '-', '--access-logformat', 'ANSWERED %(p)s', 'examples/hello:app'] });
    await until(() => count(server, /Worker ready/) === 4, '4 workers ready', { server });
    const booted = new Set([...server.output().matchAll(/Booting worker with pid: (\d+)/g)].map((m) => m[1]!));
    expect(booted.size).toBe(4);
    const answered = (): Set<string> => new Set([...server.output().matchAll(/ANSWERED <(\d+)>/g)].map((m) => m[1]!));
    // Each connection is accepted by whichever worker the kernel wakes; a few at a time keep
    // several workers busy at once, so every one of them gets some.
    for (let round = 0; round < 100 && answered().size < 4; round++) {
      const batch = await Promise.all(Array.from({ length: 4 }, () => rawRequest(server.port, 'GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n', { timeoutMs: 3000 })));
      for (const { responses } of batch) {
        expect(responses[0]!.status).toBe(200);
        expect(responses[0]!.body.toString()).toBe('Hello, World!');
      }
      await sleep(10);
    }
    expect([...answered()].sort()).toEqual([...booted].sort());
    expect((await server.stop('SIGTERM')).code).toBe(0);
  });

  it('loads MODULE without an extension, the default export, and a factory with arguments', async () => {
    const byDefault = await startTsgi({ args: ['test/fixtures/apps/echo'] });
    expect((await rawRequest(byDefault.port, 'GET /pid HTTP/1.1\r\nHost: t\r\n\r\n', { responses: 1 })).responses[0]!.status).toBe(200);
    await byDefault.stop();

    const factory = await startTsgi({ args: ["test/fixtures/apps/lifecycle:create('howdy')"] });
    const { responses } = await rawRequest(factory.port, 'GET / HTTP/1.1\r\nHost: t\r\n\r\n', { responses: 1 });
    expect(responses[0]!.body.toString()).toMatch(/^howdy from \d+$/);
    expect((await factory.stop('SIGTERM')).code).toBe(0);
    expect(factory.output()).toContain('APP_CLOSED');
  });

  it('exits with code 4 and names the problem when the app cannot load', async () => {
    const broken = runCli(['--bind', '127.0.0.1:0', 'test/fixtures/apps/broken:app']);
    expect(broken.code).toBe(4);
    expect(broken.stderr).toContain('this app is broken on purpose');
    const missing = runCli(['--bind', '127.0.0.1:0', 'test/fixtures/apps/nope:app']);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toMatch(/nope/);
    const attr = runCli(['--bind', '127.0.0.1:0', 'examples/hello:missing']);
    expect(attr.code).toBe(4);
    expect(attr.stderr).toMatch(/missing/);
  });

  it('lets an in-flight request finish on TERM and exits 0', async () => {
    const server = await startTsgi({ args: ['--workers', '1', 'test/fixtures/apps/echo:app'] });
    const pending = rawRequest(server.port, 'GET /slow?ms=800 HTTP/1.1\r\nHost: t\r\n\r\n', { timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 200));
    const stopped = server.stop('SIGTERM');
    const { responses, closed } = await pending;
    expect(responses[0]!.status).toBe(200);
    expect(responses[0]!.body.toString()).toBe('slow done');
    expect(responses[0]!.header('connection')).toBe('close');
    expect(closed).toBe(true);
    expect((await stopped).code).toBe(0);
  });

  it('closes idle keep-alive connections at once on TERM', async () => {
    const server = await startTsgi({ args: ['--workers', '1', 'examples/hello:app'] });
    const idle = rawRequest(server.port, 'GET / HTTP/1.1\r\nHost: t\r\n\r\n', { timeoutMs: 8000 });
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    const stopped = await server.stop('SIGTERM');
    const result = await idle;
    expect(result.closed).toBe(true);
    expect(stopped.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('loads the app relative to --chdir', async () => {
    const server = await startTsgi({ args: ['--chdir', 'examples', 'hello:app'] });
    const { responses } = await rawRequest(server.port, 'GET / HTTP/1.1\r\nHost: t\r\n\r\n', { responses: 1 });
    expect(responses[0]!.body.toString()).toBe('Hello, World!');
    await server.stop();
  });

  it('stops quickly on INT: the request in flight is dropped, not waited for as TERM would', async () => {
    // TERM would wait up to --graceful-timeout (30 s) for the 10 s request; INT does not wait.
    const server = await startTsgi({ args: ['--workers', '2', 'test/fixtures/apps/echo:app'] });
    const inFlight = rawRequest(server.port, 'GET /slow?ms=10000 HTTP/1.1\r\nHost: t\r\n\r\n', { timeoutMs: 12_000 });
    await server.waitFor(/APP_CALLED GET \/slow/, 5000);
    const started = Date.now();
    const stopped = await server.stop('SIGINT', 8000);
    const took = Date.now() - started;
    const { responses, closed } = await inFlight;
    expect(stopped).toEqual({ code: 0, signal: null });
    expect(took, 'the master exits within its 2 s kill deadline, not after the request').toBeLessThan(4000);
    expect(closed, 'the connection is dropped').toBe(true);
    expect(responses, 'no response for the request in flight').toHaveLength(0);
    expect(server.output()).toMatch(/Handling signal: int/);
  });

  it('respawns a worker that dies', async () => {
    const server = await startTsgi({ args: ['--workers', '1', 'test/fixtures/apps/echo:app'] });
    const pid = Number((await rawRequest(server.port, 'GET /pid HTTP/1.1\r\nHost: t\r\n\r\n', { responses: 1 })).responses[0]!.body.toString());
    process.kill(pid, 'SIGKILL');
    await server.waitFor(new RegExp(`Worker ready \\(pid: (?!${pid}\\b)\\d+\\)`), 10_000);
    const after = Number((await rawRequest(server.port, 'GET /pid HTTP/1.1\r\nHost: t\r\n\r\n', { responses: 1 })).responses[0]!.body.toString());
    expect(after).not.toBe(pid);
    await server.stop();
  });

  it('listens on a unix socket', async () => {
    const path = `/tmp/tsgi-test-${process.pid}.sock`;
    const server = await startTsgi({ args: ['--bind', `unix:${path}`, 'test/fixtures/apps/echo:app'], waitReady: false });
    await server.waitFor(/Worker ready/);
    const { responses } = await rawRequest(0, 'GET /echo HTTP/1.1\r\nHost: example.org:8080\r\n\r\n', { socketPath: path, responses: 1 });
    const env = JSON.parse(responses[0]!.body.toString());
    expect(env.SERVER_NAME).toBe('example.org');
    expect(env.SERVER_PORT).toBe('8080');
    expect(env.REMOTE_ADDR).toBe('');
    await server.stop();
  });

  it('refuses a port that is already in use, naming it', async () => {
    const net = await import('node:net');
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    const r = runCli(['--bind', `127.0.0.1:${port}`, 'examples/hello:app']);
    blocker.close();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot listen on 127.0.0.1:${port}: address already in use`);
  });

  it('writes an access log line per request with --access-logfile', async () => {
    const { mkdtempSync, readFileSync, existsSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const log = join(mkdtempSync(join(tmpdir(), 'tsgi-access-')), 'access.log');
    const server = await startTsgi({ args: ['--access-logfile', log, 'examples/hello:app'] });
    await rawRequest(server.port, 'GET /a?b=1 HTTP/1.1\r\nHost: t\r\nUser-Agent: probe/1.0\r\nReferer: http://x/\r\nConnection: close\r\n\r\n');
    await server.stop();
    expect(existsSync(log)).toBe(true);
    expect(readFileSync(log, 'utf8')).toMatch(/^127\.0\.0\.1 - - \[\d{2}\/\w{3}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "GET \/a\?b=1 HTTP\/1\.1" 200 13 "http:\/\/x\/" "probe\/1\.0" \d+\.\d{6}$/m);
  });

  it('loads a TypeScript config file', () => {
    const { code, stdout } = runCli(['--print-config', '-c', 'test/fixtures/config/typed.ts', 'examples/hello:app']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^workers\s*=\s*3\s+\(file\)$/m);
  });

  it('shows every option with its default in --help', () => {
    const { code, stdout } = runCli(['--help']);
    expect(code).toBe(0);
    for (const flag of ['--bind', '--workers', '--http', '--graceful-timeout', '--limit-request-line']) expect(stdout).toContain(flag);
    expect(stdout).toMatch(/default/);
  });

  it('prints the resolved configuration', () => {
    const { code, stdout } = runCli(['--print-config', '--workers', '3', 'examples/hello:app'], { TSGI_GRACEFUL_TIMEOUT: '7' });
    expect(code).toBe(0);
    expect(stdout).toMatch(/workers\s*=\s*3/);
    expect(stdout).toMatch(/gracefulTimeout\s*=\s*7/);
  });

  it('refuses a bad setting with one clear line', () => {
    const { code, stderr } = runCli(['--workers', 'many', 'examples/hello:app']);
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/workers/);
  });

  it('checks the configuration and the app with --check-config', () => {
    expect(runCli(['--check-config', 'examples/hello:app']).code).toBe(0);
    expect(runCli(['--check-config', 'test/fixtures/apps/broken:app']).code).not.toBe(0);
  });

  it('forces connections closed past --graceful-timeout', async () => {
    const server = await startTsgi({ args: ['--workers', '1', '--graceful-timeout', '1', 'test/fixtures/apps/echo:app'] });
    const pending = rawRequest(server.port, 'GET /slow?ms=8000 HTTP/1.1\r\nHost: t\r\n\r\n', { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    const stopped = await server.stop('SIGTERM');
    const { closed, responses } = await pending;
    expect(stopped.code).toBe(0);
    expect(closed).toBe(true);
    expect(responses).toHaveLength(0);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(server.output()).toMatch(/graceful timeout/);
  });

  it('applies the request limits from the command line', async () => {
    const server = await startTsgi({ args: ['--limit-request-line', '64', '--limit-request-fields', '3', 'examples/hello:app'] });
    const long = await rawRequest(server.port, `GET /${'a'.repeat(80)} HTTP/1.1\r\nHost: t\r\n\r\n`);
    expect(long.responses[0]!.status).toBe(414);
    const many = await rawRequest(server.port, 'GET / HTTP/1.1\r\nHost: t\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n');
    expect(many.responses[0]!.status).toBe(431);
    const fine = await rawRequest(server.port, 'GET / HTTP/1.1\r\nHost: t\r\nA: 1\r\n\r\n', { responses: 1 });
    expect(fine.responses[0]!.status).toBe(200);
    await server.stop();
  });

  it('binds several addresses and takes the worker count from WEB_CONCURRENCY', async () => {
    const path = `/tmp/tsgi-test-multi-${process.pid}.sock`;
    const server = await startTsgi({ args: ['--bind', '127.0.0.1:0', '--bind', `unix:${path}`, 'examples/hello:app'], env: { WEB_CONCURRENCY: '3' }, waitReady: false });
    const line = await server.waitFor(/Listening at: http:\/\/127\.0\.0\.1:\d+/);
    await server.waitFor(new RegExp(`Listening at: unix:${path}`));
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(line)![1]);
    const deadline = Date.now() + 10_000;
    while ((server.output().match(/Worker ready/g) ?? []).length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const tcp = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: t\r\n\r\n', { responses: 1 });
    const unix = await rawRequest(0, 'GET / HTTP/1.1\r\nHost: t\r\n\r\n', { socketPath: path, responses: 1 });
    expect(tcp.responses[0]!.body.toString()).toBe('Hello, World!');
    expect(unix.responses[0]!.body.toString()).toBe('Hello, World!');
    expect(server.output().match(/Booting worker with pid/g)).toHaveLength(3);
    await server.stop();
  });

  it('logs JSON lines that name the process: role, pid and worker id', async () => {
    const server = await startTsgi({ args: ['--workers', '2', 'test/fixtures/apps/echo:app'] });
    await rawRequest(server.port, 'GET /throw HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    await server.waitFor(/boom before headers/);
    await server.stop();
    const lines = server.output().trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.every((l) => typeof l.pid === 'number' && (l.role === 'master' || l.role === 'worker'))).toBe(true);
    const workerLines = lines.filter((l) => l.role === 'worker');
    expect(workerLines.length).toBeGreaterThan(0);
    expect(workerLines.every((l) => typeof l.worker === 'number')).toBe(true);
    const crash = lines.find((l) => l.err?.message === 'boom before headers');
    expect(crash.err.stack).toContain('echo.js');
  });
});
