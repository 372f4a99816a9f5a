/**
 * environ['tsgi.errors'] end to end: the error log gets one line per line of text the app wrote,
 * however it split its writes; a partial line waits for its newline, for flush(), or for the
 * worker's exit, and a write that never ends a line cannot make the worker hold it all.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startTsgi, stopAll, ROOT, type RunningServer } from '../helpers/server.js';
import { sleep, until } from '../helpers/wait.js';

afterAll(stopAll);

const APP = join(ROOT, 'test/fixtures/apps/errors.js:app');

interface Line {
  level: string;
  role: string;
  msg: string;
}
const lines = (server: RunningServer): Line[] =>
  server
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);
const appLines = (server: RunningServer): string[] => lines(server).filter((l) => l.role === 'worker' && l.level === 'error').map((l) => l.msg);

describe('tsgi.errors', () => {
  it('writes one log line per line of text, joining the pieces of a line and splitting several', async () => {
    const server = await startTsgi({ args: [APP] });
    await fetch(`${server.url}/pieces`);
    await fetch(`${server.url}/lines`);
    await until(() => appLines(server).length >= 4, 'four lines', { server });
    expect(appLines(server)).toEqual(['connecting to the database took 1200 ms (slow)', 'first line', 'second line', 'third line']);
    await server.stop();
  });

  it('holds a partial line until flush() or the worker exits; the request does not have to end it', async () => {
    const server = await startTsgi({ args: [APP] });
    await fetch(`${server.url}/partial?id=1`);
    await fetch(`${server.url}/flush`);
    await until(() => appLines(server).includes('no newline yet 1flushed without a newline'), 'the flushed line', { server });
    await fetch(`${server.url}/partial?id=2`);
    await sleep(300);
    expect(appLines(server).some((m) => m.includes('no newline yet 2'))).toBe(false);
    expect((await server.stop('SIGTERM')).code).toBe(0);
    expect(appLines(server)).toContain('no newline yet 2');
  });

  it('splits a line that never ends into bounded pieces instead of holding it all', async () => {
    const server = await startTsgi({ args: [APP] });
    await fetch(`${server.url}/long`);
    await until(() => appLines(server).length >= 63, 'the pieces of the long line', { server });
    const pieces = appLines(server);
    for (const piece of pieces) expect(piece.length).toBeLessThanOrEqual(16 * 1024);
    await server.stop();
    expect(appLines(server).join('').length).toBe(64 * 16 * 1024);
  });
});
