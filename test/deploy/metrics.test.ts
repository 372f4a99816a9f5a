/**
 * --metrics-bind: the master's /metrics adds up every worker exactly, never goes backwards when
 * a worker is replaced, and /healthz and /readyz answer as the probes expect.
 */
import { afterAll, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import http from 'node:http';
import { ROOT, startTsgi, stopAll, type RunningServer } from '../helpers/server.js';
import { rawRequest } from '../helpers/raw.js';
import { freePort } from '../helpers/proxy-process.js';
import { count, sleep, until } from '../helpers/wait.js';
import { join } from 'node:path';

afterAll(stopAll);

const ECHO = join(ROOT, 'test/fixtures/apps/echo.js');

function fetchText(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
  });
}

/** The value of one sample line (`name{labels} value`), or 0 when absent. */
function sample(text: string, line: string): number {
  for (const l of text.split('\n')) if (l.startsWith(`${line} `)) return Number(l.slice(line.length + 1));
  return 0;
}

async function start(extra: string[] = []): Promise<{ server: RunningServer; metrics: number }> {
  const metrics = await freePort();
  const server = await startTsgi({ args: ['--workers', '2', '--metrics-bind', `127.0.0.1:${metrics}`, ...extra, ECHO] });
  await until(() => count(server, /Worker ready/) >= 2, 'two workers', { server });
  return { server, metrics };
}

async function requests(port: number, n: number): Promise<Set<string>> {
  const pids = new Set<string>();
  // Connection: close, so the kernel spreads them over both workers.
  for (let i = 0; i < n; i++) {
    const r = await rawRequest(port, `GET /pid HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`);
    pids.add(r.responses[0]?.body.toString() ?? '');
  }
  return pids;
}

describe('metrics', () => {
  it('reports exactly the N requests served by 2 workers, with bytes and durations', async () => {
    const { server, metrics } = await start();
    const before = await fetchText(metrics, '/metrics');
    expect(before.status).toBe(200);
    const n = 40;
    await requests(server.port, n);
    const text = (await fetchText(metrics, '/metrics')).body;
    expect(sample(text, 'tsgi_requests_total{method="GET",status="200"}')).toBe(n);
    expect(sample(text, 'tsgi_request_duration_seconds_count')).toBe(n);
    expect(sample(text, 'tsgi_request_duration_seconds_bucket{le="+Inf"}')).toBe(n);
    expect(sample(text, 'tsgi_request_outcomes_total{outcome="ok"}')).toBe(n);
    expect(sample(text, 'tsgi_response_body_bytes_total')).toBeGreaterThan(0);
    expect(sample(text, 'tsgi_workers{state="ready"}')).toBe(2);
    expect(text).toMatch(/^tsgi_listen_backlog\{listener="http:\/\/127\.0\.0\.1:\d+"\} \d+$/m);
    expect(text).toContain('# TYPE tsgi_request_duration_seconds histogram');
    await server.stop();
  });

  it('keeps the totals of a SIGKILLed worker: no counter goes backwards', async () => {
    const { server, metrics } = await start();
    const n = 30;
    await requests(server.port, n);
    // Give each worker its periodic report (every second), so the master holds their counts.
    await sleep(1500);
    const first = (await fetchText(metrics, '/metrics')).body;
    expect(sample(first, 'tsgi_requests_total{method="GET",status="200"}')).toBe(n);
    const victim = Number(/Booting worker with pid: (\d+)/.exec(server.output())![1]);
    process.kill(victim, 'SIGKILL');
    await until(() => count(server, /Worker ready/) >= 3, 'a replacement worker', { server });
    const after = (await fetchText(metrics, '/metrics')).body;
    expect(sample(after, 'tsgi_requests_total{method="GET",status="200"}')).toBe(n);
    expect(sample(after, 'tsgi_worker_restarts_total{cause="crash"}')).toBe(1);
    await requests(server.port, 5);
    const later = (await fetchText(metrics, '/metrics')).body;
    expect(sample(later, 'tsgi_requests_total{method="GET",status="200"}')).toBe(n + 5);
    await server.stop();
  });

  it('counts a reload and the workers it replaced', async () => {
    const { server, metrics } = await start();
    await requests(server.port, 10);
    server.proc.kill('SIGHUP');
    await until(() => count(server, /Worker exiting/) >= 2, 'the old workers gone', { server, timeoutMs: 20_000 });
    const text = (await fetchText(metrics, '/metrics')).body;
    expect(sample(text, 'tsgi_reloads_total{result="ok"}')).toBe(1);
    expect(sample(text, 'tsgi_worker_restarts_total{cause="reload"}')).toBe(2);
    // The retired workers' last reports (sent as they exited) are kept.
    expect(sample(text, 'tsgi_requests_total{method="GET",status="200"}')).toBe(10);
    await server.stop();
  });
});

describe('health', () => {
  it('/healthz and /readyz are 200 while serving; /readyz turns 503 within 100 ms of TERM while requests finish', async () => {
    const { server, metrics } = await start(['--graceful-timeout', '10']);
    expect(await fetchText(metrics, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
    expect(await fetchText(metrics, '/readyz')).toEqual({ status: 200, body: 'ok\n' });
    expect((await fetchText(metrics, '/nope')).status).toBe(404);
    const slow = rawRequest(server.port, 'GET /slow?ms=1500 HTTP/1.1\r\nHost: t\r\n\r\n', { responses: 1, timeoutMs: 10_000 });
    await sleep(200);
    const termAt = Date.now();
    server.proc.kill('SIGTERM');
    let ready = await fetchText(metrics, '/readyz');
    while (ready.status === 200 && Date.now() - termAt < 1000) ready = await fetchText(metrics, '/readyz');
    expect(ready.status).toBe(503);
    expect(Date.now() - termAt).toBeLessThan(100);
    expect(ready.body).toContain('stopping');
    // The request in flight still completes.
    const done = await slow;
    expect(done.responses[0]?.status).toBe(200);
    expect((await server.stop()).code).toBe(0);
  });
});

describe('StatsD (--statsd-host)', () => {
  it('pushes the requests, their statuses and durations, and the workers to a UDP receiver once a second', async () => {
    const receiver = dgram.createSocket('udp4');
    const lines: string[] = [];
    receiver.on('message', (msg) => lines.push(...msg.toString('utf8').split('\n')));
    await new Promise<void>((resolve) => receiver.bind(0, '127.0.0.1', resolve));
    const port = receiver.address().port;
    try {
      const server = await startTsgi({ args: ['--workers', '2', '--statsd-host', `127.0.0.1:${port}`, '--statsd-prefix', 'app', ECHO] });
      await until(() => count(server, /Worker ready/) >= 2, 'two workers', { server });
      const counted = (name: string): number =>
        lines.filter((l) => l.startsWith(`${name}:`) && l.endsWith('|c')).reduce((sum, l) => sum + Number(l.slice(name.length + 1, -2)), 0);
      // Two batches in two pushes: counters are sent as the change since the last push, so
      // added up they are the total (sent as running totals, they would add up to 5 + 12).
      await requests(server.port, 5);
      await until(() => counted('app.tsgi.requests') >= 5, '5 requests pushed', { timeoutMs: 5000 });
      await requests(server.port, 7);
      const n = 12;
      await until(() => counted('app.tsgi.requests') >= n, `${n} requests pushed`, { timeoutMs: 5000 });
      // One more push with nothing new: no counter line may repeat what was sent.
      const pushes = lines.filter((l) => l.startsWith('app.tsgi.workers:')).length;
      await until(() => lines.filter((l) => l.startsWith('app.tsgi.workers:')).length > pushes, 'another push', { timeoutMs: 5000 });
      expect(counted('app.tsgi.requests')).toBe(n);
      expect(counted('app.tsgi.request.status.200')).toBe(n);
      const durations = lines.filter((l) => l.startsWith('app.tsgi.request.duration:'));
      expect(durations).toHaveLength(n);
      for (const l of durations) expect(l).toMatch(/^app\.tsgi\.request\.duration:\d+\.\d{3}\|ms$/);
      expect(lines).toContain('app.tsgi.workers:2|g');
      expect(lines.some((l) => /^app\.tsgi\.backlog:\d+\|g$/.test(l))).toBe(true);
      await server.stop();
    } finally {
      receiver.close();
    }
  });
});
