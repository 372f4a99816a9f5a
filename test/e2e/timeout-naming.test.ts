/**
 * The WORKER TIMEOUT line names the request that blocked the worker, under load too: the
 * watchdog thread reports it when the event loop stops, so the master does not fall back on what
 * the last heartbeat said was in flight ("GET / (0.0s)").
 */
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startTsgi, stopAll, ROOT } from '../helpers/server.js';
import { rawRequest } from '../helpers/raw.js';
import { startLoad } from '../helpers/load.js';
import { sleep } from '../helpers/wait.js';

afterAll(stopAll);

const APP = join(ROOT, 'test/fixtures/apps/supervise.js:app');

describe('worker timeout', () => {
  it.each(['tsgi', 'node'])('--http %s: under load, names the request that blocks the event loop and how long it ran', async (engine) => {
    const server = await startTsgi({ args: ['--http', engine, '--timeout', '2', APP] });
    const load = startLoad(server.port, { concurrency: 4, keepAlive: true, maxMs: 20_000 });
    await sleep(700);
    // Never answered: the worker is aborted while it spins.
    void rawRequest(server.port, 'GET /spin?ms=60000 HTTP/1.1\r\nHost: t\r\n\r\n', { timeoutMs: 15_000 }).catch(() => {});
    const line = await server.waitFor(/WORKER TIMEOUT/, 15_000);
    await load.stop();
    const record = JSON.parse(line) as { msg: string; stalled?: { method: string; target: string } };
    expect(record.msg).toMatch(/it was serving GET \/spin\?ms=60000 \((\d+\.\d)s\)/);
    const seconds = Number(/GET \/spin\?ms=60000 \((\d+\.\d)s\)/.exec(record.msg)![1]);
    expect(seconds).toBeGreaterThanOrEqual(1.5);
    expect(record.stalled).toMatchObject({ method: 'GET', target: '/spin?ms=60000' });
    await server.waitFor(/Worker ready \(pid/, 15_000);
    await server.stop();
  }, 40_000);
});
