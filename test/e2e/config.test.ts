/** Configuration end to end: config files, environment, precedence, and every server hook. */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTsgi, stopAll, BIN, ROOT, type RunningServer } from '../helpers/server.js';
import { rawRequest } from '../helpers/raw.js';
import { until as waitUntil } from '../helpers/wait.js';

const until = (check: () => boolean, what: string, server: RunningServer, timeoutMs = 10_000): Promise<void> => waitUntil(check, what, { timeoutMs, server });

afterAll(stopAll);


function runCli(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('configuration', () => {
  it('takes settings from the command line over TSGI_CMD_ARGS over TSGI_* over the config file', () => {
    const file = 'test/fixtures/config/hooks.mjs';
    const workersOf = (out: string): string => /^workers\s*=\s*(\S+)/m.exec(out)![1]!;
    expect(workersOf(runCli(['--print-config', '-c', file, 'examples/hello:app']).stdout)).toBe('2');
    expect(workersOf(runCli(['--print-config', '-c', file, 'examples/hello:app'], { TSGI_WORKERS: '5' }).stdout)).toBe('5');
    expect(workersOf(runCli(['--print-config', '-c', file, 'examples/hello:app'], { TSGI_WORKERS: '5', TSGI_CMD_ARGS: '--workers 6' }).stdout)).toBe('6');
    expect(workersOf(runCli(['--print-config', '-c', file, '--workers', '7', 'examples/hello:app'], { TSGI_WORKERS: '5', TSGI_CMD_ARGS: '--workers 6' }).stdout)).toBe('7');
  });

  it('refuses a config file with an unknown key, naming the key and the closest setting', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsgi-conf-'));
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ wokers: 2 }));
    const r = runCli(['--check-config', '-c', join(dir, 'bad.json'), 'examples/hello:app']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/wokers/);
    expect(r.stderr).toMatch(/workers/);
  });

  it('runs every server hook in the right process, and a hook that throws only gets logged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsgi-hooks-'));
    const hookLog = join(dir, 'hooks.log');
    const server = await startTsgi({ args: ['-c', 'test/fixtures/config/hooks.mjs', 'test/fixtures/apps/supervise:app'], env: { HOOK_LOG: hookLog } });
    const lines = (): string => (existsSync(hookLog) ? readFileSync(hookLog, 'utf8') : '');
    await until(() => lines().includes('whenReady'), 'whenReady', server);

    const { responses } = await rawRequest(server.port, 'GET /hook-fails HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n', { timeoutMs: 5000 });
    expect(responses[0]!.status).toBe(200);
    await server.waitFor(/the preRequest hook raised: preRequest hook failed on purpose/);
    await until(() => lines().includes('postRequest /hook-fails 200'), 'postRequest', server);

    server.proc.kill('SIGTTIN');
    await until(() => lines().includes('nworkersChanged 2->3'), 'nworkersChanged', server);
    server.proc.kill('SIGHUP');
    await until(() => lines().includes('onReload') && (server.output().match(/Worker exiting/g) ?? []).length >= 3, 'the reload', server, 20_000);

    const workerPid = Number((await rawRequest(server.port, 'GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n')).responses[0]!.body.toString().split(' ')[1]);
    process.kill(workerPid, 'SIGINT');
    await until(() => /workerInt id=\d+/.test(lines()), 'workerInt', server);

    // A stuck worker: the master aborts it after --timeout 2 and runs workerAbort itself.
    void rawRequest(server.port, 'GET /spin?ms=30000 HTTP/1.1\r\nHost: t\r\n\r\n', { timeoutMs: 10_000 });
    await until(() => lines().includes('workerAbort'), 'workerAbort', server, 10_000);

    expect((await server.stop()).code).toBe(0);
    const text = lines();
    const master = String(server.proc.pid);
    const pidOf = (hook: string): string => new RegExp(`^${hook}[^\\n]* (\\d+)$`, 'm').exec(text)?.[1] ?? 'missing';
    for (const hook of ['onStarting', 'whenReady', 'preFork', 'onReload', 'nworkersChanged', 'childExit', 'workerAbort', 'onExit']) {
      expect(pidOf(hook), `${hook} runs in the master`).toBe(master);
    }
    for (const hook of ['postFork', 'postWorkerInit', 'preRequest', 'postRequest', 'workerInt', 'workerExit']) {
      const pid = pidOf(hook);
      expect(pid, `${hook} ran`).not.toBe('missing');
      expect(pid, `${hook} runs in a worker`).not.toBe(master);
    }
    expect(text.indexOf('onStarting')).toBeLessThan(text.indexOf('preFork'));
    expect(text.trimEnd().split('\n').at(-1)).toMatch(/^onExit/);
  }, 60_000);

  // Switching user needs root; elsewhere the test shows as skipped, not as passed.
  it.skipIf(process.getuid?.() !== 0)('runs workers as --user/--group while the master keeps root', async () => {
    // The app must be readable by nobody, wherever the repository was cloned.
    const dir = mkdtempSync(join(tmpdir(), 'tsgi-user-'));
    chmodSync(dir, 0o755);
    copyFileSync(join(ROOT, 'test/fixtures/apps/supervise.js'), join(dir, 'app.js'));
    const server = await startTsgi({ args: ['--user', 'nobody', '--group', 'nogroup', join(dir, 'app.js')] });
    const workerPid = Number((await rawRequest(server.port, 'GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n')).responses[0]!.body.toString().split(' ')[1]);
    const uid = (pid: number): string => /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!;
    expect(uid(workerPid)).toBe(String(spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).stdout.trim()));
    expect(uid(server.proc.pid!)).toBe('0');
    await server.stop();
  });
});
