/**
 * Slow and greedy clients on both engines, from the wire: --header-timeout is a deadline counted
 * from a head's first byte (from the connection's start for its first request), which bytes
 * trickling in do not re-arm; --request-timeout counts from the first byte too, so a slow head
 * cannot escape it; --body-timeout abandons a body that stops; --worker-connections closes
 * connections past the limit at once; --limit-concurrency answers 503 past it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTsgi, stopAll, type RunningServer } from '../helpers/server.js';
import { openRaw, parseResponses, rawRequest, type RawConnection } from '../helpers/raw.js';
import { count, sleep, until } from '../helpers/wait.js';

const ENGINES = ['tsgi', 'node'] as const;
const APP = 'test/fixtures/apps/driver:app';
const RECORD = ['-c', 'test/fixtures/driver/record.mjs'];

afterAll(stopAll);

/** Writes `text` one byte every `everyMs` until the connection closes or the text is out. */
async function trickle(conn: RawConnection, text: string, everyMs: number, closed: () => boolean): Promise<void> {
  for (const byte of text) {
    if (closed() || conn.socket.destroyed) return;
    conn.write(byte);
    await sleep(everyMs);
  }
}

/** Resolves with the time (ms since `from`) at which `conn` has a complete response. */
async function answeredAt(conn: RawConnection, from: number, timeoutMs: number): Promise<number> {
  await conn.until((d) => parseResponses(Buffer.from(d, 'latin1'), false).length > 0 || d.includes('\r\n\r\n'), timeoutMs);
  return Date.now() - from;
}

const SLOW_HEAD = 'GET /pid HTTP/1.1\r\nHost: h\r\nX-Padding: ' + 'x'.repeat(200) + '\r\n\r\n';

describe.each(ENGINES)('engine %s', (engine) => {
  let timeouts: RunningServer;
  let requestTimeout: RunningServer;
  let limits: RunningServer;

  beforeAll(async () => {
    [timeouts, requestTimeout, limits] = await Promise.all([
      startTsgi({ args: ['--http', engine, '--header-timeout', '2', '--keep-alive', '10', '--body-timeout', '1', ...RECORD, APP] }),
      startTsgi({ args: ['--http', engine, '--request-timeout', '3', '--header-timeout', '0', ...RECORD, APP] }),
      startTsgi({ args: ['--http', engine, '--worker-connections', '3', '--limit-concurrency', '1', ...RECORD, APP] }),
    ]);
  }, 30_000);

  it('--header-timeout: a trickled first head gets 408 at the deadline counted from the connection’s start', async () => {
    const before = count(timeouts, /MARK RECORDED 408/);
    const conn = await openRaw(timeouts.port);
    const opened = Date.now();
    await sleep(1500);
    let done = false;
    const sending = trickle(conn, SLOW_HEAD, 100, () => done);
    const at = await answeredAt(conn, opened, 6000);
    done = true;
    await sending;
    const raw = conn.data().toString('latin1');
    expect(raw).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(raw).toMatch(/\r\nConnection: close\r\n/);
    // 2 s from the connection's start (the sweep runs every 0.5 s), not from the first byte at 1.5 s.
    expect(at).toBeGreaterThanOrEqual(1900);
    expect(at).toBeLessThan(3000);
    expect(await conn.closed(3000)).toBe(true);
    await until(() => count(timeouts, /MARK RECORDED 408/) > before, 'the 408 recorded', { server: timeouts });
  });

  it('--header-timeout: a later head on a kept-alive connection gets 408 at its first byte plus the deadline, whatever trickles', async () => {
    const conn = await openRaw(timeouts.port);
    conn.write('GET /pid HTTP/1.1\r\nHost: h\r\n\r\n');
    await conn.until((d) => /\r\n\r\n\d+$/.test(d));
    const answered = conn.data().length;
    // Idle between requests: --keep-alive (10 s) applies, not --header-timeout.
    await sleep(2500);
    expect(conn.socket.destroyed).toBe(false);
    const firstByte = Date.now();
    let done = false;
    const sending = trickle(conn, SLOW_HEAD, 100, () => done);
    await conn.until((d) => d.length > answered && d.slice(answered).includes('\r\n\r\n'), 6000);
    const at = Date.now() - firstByte;
    done = true;
    await sending;
    expect(conn.data().subarray(answered).toString('latin1')).toMatch(/^HTTP\/1\.1 408 /);
    expect(at).toBeGreaterThanOrEqual(1900);
    expect(at).toBeLessThan(3200);
    conn.destroy();
  });

  it('--request-timeout covers a slow head: 504 at the deadline from the first byte, not from the end of the head', async () => {
    const conn = await openRaw(requestTimeout.port);
    const firstByte = Date.now();
    // 2.5 s of head, then an app that takes 2 s more: 4.5 s from the first byte, past the 3 s
    // limit; counted from the end of the head it would be 5.5 s. (The node engine learns of a first
    // byte at the sweep, a quarter of the shortest timeout later at most.)
    const head = 'GET /late?ms=2000 HTTP/1.1\r\nHost: h\r\n\r\n';
    await trickle(conn, head, Math.floor(2500 / head.length), () => false);
    const at = await answeredAt(conn, firstByte, 8000);
    expect(conn.data().toString('latin1')).toMatch(/^HTTP\/1\.1 504 /);
    expect(at).toBeGreaterThanOrEqual(2900);
    expect(at).toBeLessThan(4600);
    conn.destroy();
    await until(() => /MARK LATE_SIGNAL true TSGI_ERR_REQUEST_TIMEOUT/.test(requestTimeout.output()), 'the app told through its signal', { server: requestTimeout });
  });

  it('--body-timeout: a body that stops gets 408, and the app’s read fails with the code', async () => {
    const conn = await openRaw(timeouts.port);
    conn.write('POST /read HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc');
    const stalled = Date.now();
    const at = await answeredAt(conn, stalled, 5000);
    expect(conn.data().toString('latin1')).toMatch(/^HTTP\/1\.1 408 /);
    expect(at).toBeGreaterThanOrEqual(900);
    expect(at).toBeLessThan(2200);
    await until(() => /MARK READ_FAILED TSGI_ERR_BODY_TIMEOUT/.test(timeouts.output()), 'the failed read', { server: timeouts });
    conn.destroy();
  });

  it('--limit-concurrency: a request past the limit is answered 503 at once, and the next one is served', async () => {
    const busy = rawRequest(limits.port, 'GET /late?ms=1000 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n', { responses: 1, timeoutMs: 5000 });
    await sleep(200);
    const started = Date.now();
    const refused = await rawRequest(limits.port, 'GET /pid HTTP/1.1\r\nHost: h\r\n\r\n', { responses: 1 });
    expect(Date.now() - started).toBeLessThan(500);
    expect(refused.responses[0]).toMatchObject({ status: 503 });
    expect(refused.responses[0]!.header('connection')).toBe('close');
    expect(refused.responses[0]!.body.toString()).toMatch(/--limit-concurrency/);
    expect((await busy).responses[0]!.status).toBe(200);
    expect((await rawRequest(limits.port, 'GET /pid HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n', { responses: 1 })).responses[0]!.status).toBe(200);
    await until(() => /MARK RECORDED 503/.test(limits.output()), 'the 503 recorded', { server: limits });
  });

  it('--worker-connections: a connection past the limit is closed at once and logged; a freed place is taken again', async () => {
    const held = await Promise.all([openRaw(limits.port), openRaw(limits.port), openRaw(limits.port)]);
    await sleep(200);
    const extra = await rawRequest(limits.port, 'GET /pid HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n', { timeoutMs: 3000 });
    expect(extra).toMatchObject({ closed: true, data: Buffer.alloc(0) });
    await until(() => /holds 3 connections \(--worker-connections\)/.test(limits.output()), 'the log line', { server: limits });
    held[0]!.destroy();
    await sleep(300);
    const served = await rawRequest(limits.port, 'GET /pid HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n', { responses: 1 });
    expect(served.responses[0]!.status).toBe(200);
    for (const conn of held) conn.destroy();
  });
});
