/**
 * ctx.waitUntil() through the real server: a graceful stop waits for the work a fetch app left
 * running past its response, up to --graceful-timeout, and says when it gives up on it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTsgi, stopAll } from '../helpers/server.js';

afterAll(stopAll);
const dir = mkdtempSync(join(tmpdir(), 'tsgi-wait-until-'));

describe('waitUntil at graceful shutdown', () => {
  it('SIGTERM waits for the task before the worker exits', async () => {
    const server = await startTsgi({ args: ['test/fixtures/apps/wait-until.js'] });
    const file = join(dir, 'finished');
    expect(await (await fetch(`${server.url}/?ms=2500&file=${encodeURIComponent(file)}`)).text()).toBe('queued');
    expect(existsSync(file)).toBe(false);
    expect((await server.stop('SIGTERM')).code).toBe(0);
    expect(existsSync(file)).toBe(true);
    expect(server.output()).toContain('waiting for waitUntil() tasks to finish');
  }, 30_000);

  it('gives up at --graceful-timeout and says so', async () => {
    const server = await startTsgi({ args: ['--graceful-timeout', '1', 'test/fixtures/apps/wait-until.js'] });
    const file = join(dir, 'never');
    await (await fetch(`${server.url}/?ms=20000&file=${encodeURIComponent(file)}`)).text();
    const started = Date.now();
    expect((await server.stop('SIGTERM')).code).toBe(0);
    expect(Date.now() - started).toBeLessThan(8000);
    expect(existsSync(file)).toBe(false);
    expect(server.output()).toMatch(/graceful timeout \(1s\) reached.*abandoning unfinished waitUntil\(\) tasks/);
  }, 30_000);
});
