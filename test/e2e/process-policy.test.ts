/**
 * What a worker does with the errors an app leaves to the process (docs/process.md): an unhandled
 * rejection is one log line and the worker keeps serving; an uncaught exception retires the worker
 * gracefully (its replacement starts, requests in flight finish, bounded by --graceful-timeout);
 * every report is a log line like any other, never raw text on stderr.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startTsgi, stopAll, ROOT, type RunningServer } from '../helpers/server.js';
import { rawRequest } from '../helpers/raw.js';
import { count, sleep, until } from '../helpers/wait.js';

afterAll(stopAll);

const APP = join(ROOT, 'test/fixtures/apps/misbehave.js:app');

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const { responses } = await rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`, { timeoutMs: 20_000 });
  return { status: responses[0]?.status ?? 0, body: responses[0]?.body.toString() ?? '' };
}
const pidOf = (body: string): string => body.split(' ')[1]!;

interface Line {
  level: string;
  role: string;
  pid: number;
  msg: string;
  err?: { message: string; stack: string };
  request?: unknown;
}

/** Every line of output is a pino JSON line; nothing else reached stderr. */
function jsonLines(server: RunningServer): Line[] {
  const lines = server.output().split('\n').filter((l) => l.trim() !== '');
  for (const line of lines) expect(() => JSON.parse(line), `not a log line: ${line}`).not.toThrow();
  return lines.map((l) => JSON.parse(l) as Line);
}

describe('unhandled rejections', () => {
  it('are one log line naming the request, and the worker keeps serving', async () => {
    const server = await startTsgi({ args: [APP] });
    const { body } = await get(server.port, '/reject');
    const pid = pidOf(body);
    await until(() => server.output().includes('nobody awaited this'), 'the report', { server });
    await get(server.port, '/reject-later');
    await until(() => server.output().includes('rejected after a timer'), 'the second report', { server });
    for (let i = 0; i < 5; i++) expect(pidOf((await get(server.port, '/')).body)).toBe(pid);

    const reports = jsonLines(server).filter((l) => l.msg.includes('unhandled promise rejection'));
    expect(reports).toHaveLength(2);
    expect(reports[0]!.level).toBe('error');
    expect(reports[0]!.role).toBe('worker');
    expect(reports[0]!.msg).toContain('nobody awaited this');
    expect(reports[0]!.msg).toContain('the worker goes on serving');
    expect(reports[0]!.err!.stack).toContain('misbehave.js');
    expect(reports[0]!.request).toEqual({ method: 'GET', target: '/reject', msAgo: expect.any(Number) });
    expect(count(server, /exited unexpectedly|Booting worker/)).toBe(1);
    expect((await server.stop()).code).toBe(0);
  });
});

describe('uncaught exceptions', () => {
  it('retire the worker gracefully: its replacement starts, the request in flight finishes, one log line', async () => {
    const server = await startTsgi({ args: [APP] });
    const first = pidOf((await get(server.port, '/')).body);
    const slow = get(server.port, '/slow?ms=1500');
    await sleep(200);
    await get(server.port, '/throw');
    // The request in flight on the retiring worker is answered, by that worker.
    const finished = await slow;
    expect(finished.status).toBe(200);
    expect(pidOf(finished.body)).toBe(first);
    await until(() => count(server, /Worker exiting/) >= 1 && count(server, /Worker ready/) >= 2, 'the replacement', { server });
    const next = pidOf((await get(server.port, '/')).body);
    expect(next).not.toBe(first);

    const lines = jsonLines(server);
    const reports = lines.filter((l) => l.msg.startsWith('uncaught exception'));
    expect(reports).toHaveLength(1);
    expect(reports[0]!.level).toBe('fatal');
    expect(String(reports[0]!.pid)).toBe(first);
    expect(reports[0]!.msg).toContain('thrown from a timer');
    expect(reports[0]!.msg).toContain('retiring');
    expect(reports[0]!.err!.stack).toContain('misbehave.js');
    expect(server.output()).toContain(`Retiring worker (pid: ${first}): uncaught exception`);
    expect(server.output()).not.toMatch(/exited unexpectedly/);
    expect((await server.stop()).code).toBe(0);
  });

  it('a retiring worker still waits at most --graceful-timeout for its requests', async () => {
    const server = await startTsgi({ args: ['--graceful-timeout', '1', APP] });
    const stuck = get(server.port, '/slow?ms=60000');
    await sleep(200);
    const started = Date.now();
    await get(server.port, '/throw');
    await until(() => count(server, /Worker exiting/) >= 1, 'the retired worker to exit', { server, timeoutMs: 10_000 });
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await stuck).status).toBe(0);
    expect(server.output()).toContain('graceful timeout (1s) reached');
    jsonLines(server);
    expect((await server.stop()).code).toBe(0);
  });
});
