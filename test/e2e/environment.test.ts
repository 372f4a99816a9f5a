/**
 * What the command line and the environment tell an operator, end to end: an unknown `TSGI_*`
 * variable is one warning from the master (not one per worker, not an error), a Gunicorn flag tsgi
 * does not have says so, and an app that cannot load is reported once.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { startTsgi, stopAll, BIN, ROOT } from '../helpers/server.js';
import { count, until } from '../helpers/wait.js';

afterAll(stopAll);

function runCli(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, TSGI_LOG_FORMAT: 'json', ...env }, encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('TSGI_* variables', () => {
  it('a misspelt TSGI_WORKER is one warning from the master naming TSGI_WORKERS; the server runs', async () => {
    const server = await startTsgi({ args: ['--workers', '2', 'examples/hello:app'], env: { TSGI_WORKER: '4' } });
    await until(() => count(server, /Worker ready/) >= 2, 'two workers', { server });
    const warnings = server
      .output()
      .split('\n')
      .filter((line) => line.includes('TSGI_WORKER '));
    expect(warnings).toHaveLength(1);
    const line = JSON.parse(warnings[0]!) as { level: string; role: string; msg: string };
    expect(line.level).toBe('warn');
    expect(line.role).toBe('master');
    expect(line.msg).toContain('did you mean TSGI_WORKERS (--workers)?');
    expect((await server.stop()).code).toBe(0);
  });

  it('--check-config prints the warning and still passes', () => {
    const r = runCli(['--check-config', 'examples/hello:app'], { TSGI_ACCESS_LOG: '-' });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('tsgi: warning: the environment variable TSGI_ACCESS_LOG is not a tsgi setting');
    expect(r.stderr).toContain('did you mean TSGI_ACCESS_LOGFILE (--access-logfile)?');
  });

  it('TSGI_ACCESS_LOGFILE and TSGI_KEEP_ALIVE are read, with no warning', () => {
    const r = runCli(['--print-config', 'examples/hello:app'], { TSGI_ACCESS_LOGFILE: '-', TSGI_KEEP_ALIVE: '9' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^accessLog\s+= "-"\s+\(env\)$/m);
    expect(r.stdout).toMatch(/^keepalive\s+= 9\s+\(env\)$/m);
    expect(r.stderr).toBe('');
  });
});

describe('Gunicorn habits', () => {
  it('--preload says tsgi has no such flag and points to docs/gunicorn.md (exit 2)', () => {
    const r = runCli(['--preload', 'examples/hello:app']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--preload is a Gunicorn flag that tsgi does not have');
    expect(r.stderr).toContain('docs/gunicorn.md');
    expect(r.stderr).not.toContain('--reload');
  });

  it('-b 19114 asks: did you mean 0.0.0.0:19114? (exit 2, nothing bound)', () => {
    const r = runCli(['-b', '19114', 'examples/hello:app']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('did you mean 0.0.0.0:19114?');
    expect(r.stderr).not.toContain('Listening');
  });
});

describe('an app that cannot load', () => {
  it('is reported once, not once per worker, and tsgi exits 4', () => {
    const r = runCli(['-w', '3', '-b', '127.0.0.1:0', 'test/fixtures/apps/broken.js']);
    expect(r.code).toBe(4);
    const output = r.stdout + r.stderr;
    const reports = output.split('\n').filter((line) => line.includes('this app is broken on purpose'));
    expect(reports, output).toHaveLength(1);
    expect(output).toContain('Shutting down: the app failed to load (exit code 4)');
  });
});
