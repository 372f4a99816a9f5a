import { describe, expect, test } from 'vitest';
import { Worker } from 'node:worker_threads';
import { CurrentRequest, TARGET_BYTES } from '../../src/worker/current-request.js';

describe('CurrentRequest', () => {
  test('nothing before the first request; then the last one recorded, and the last tick', () => {
    const board = new CurrentRequest();
    expect(board.read()).toBeNull();
    expect(board.lastTick()).toBe(0);
    board.record('GET', '/a', 1000);
    board.record('POST', '/b?x=1', 2000);
    board.tick(1_796_000_000_123);
    expect(board.read()).toEqual({ method: 'POST', target: '/b?x=1', startedAt: 2000 });
    expect(board.lastTick()).toBe(1_796_000_000_123);
    board.record('POST', '/b?x=1', 3000);
    expect(board.read()).toEqual({ method: 'POST', target: '/b?x=1', startedAt: 3000 });
  });

  test('non-ASCII and latin1 targets survive; a target too long is cut and marked', () => {
    const board = new CurrentRequest();
    board.record('GET', '/caf\u00e9/\u00ff', 1);
    expect(board.read()!.target).toBe('/caf\u00e9/\u00ff');
    const long = `/${'a'.repeat(TARGET_BYTES * 2)}`;
    board.record('GET', long, 2);
    const shown = board.read()!.target;
    expect(shown.endsWith('…')).toBe(true);
    expect(shown.length).toBe(TARGET_BYTES + 1);
    expect(long.startsWith(shown.slice(0, -1))).toBe(true);
  });

  test('another thread reads what this one recorded, from the same memory', async () => {
    const board = new CurrentRequest();
    board.record('DELETE', '/things/42', 1234);
    const code = `
      const { workerData, parentPort } = require('node:worker_threads');
      import(workerData.module).then(({ CurrentRequest }) => parentPort.postMessage(new CurrentRequest(workerData.buffer).read()));`;
    const read = await new Promise((resolve, reject) => {
      const w = new Worker(code, { eval: true, workerData: { buffer: board.buffer, module: new URL('../../dist/worker/current-request.js', import.meta.url).href } });
      w.once('message', resolve);
      w.once('error', reject);
    });
    expect(read).toEqual({ method: 'DELETE', target: '/things/42', startedAt: 1234 });
  });
});
