/**
 * Real framework apps, installed from npm, run unchanged by the real tsgi CLI on both engines:
 * the examples in examples/{express,hono,fastify,koa}/app.js, with two workers each. Every route
 * of the example is checked over real sockets, then the server reloads (HUP) under load and not
 * one request may fail.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { BIN, ROOT, startTsgi, stopAll, type RunningServer } from '../helpers/server.js';
import { startLoad } from '../helpers/load.js';
import { count, sleep, until } from '../helpers/wait.js';

afterAll(stopAll);

const FRAMEWORKS = [
  { name: 'express', interface: 'node', why: /an Express app/ },
  { name: 'hono', interface: 'fetch', why: /a Hono app/ },
  { name: 'fastify', interface: 'node', why: /a Fastify instance/ },
  { name: 'koa', interface: 'node', why: /a Koa app/ },
] as const;

async function checkRoutes(server: RunningServer, framework: string): Promise<void> {
  const base = server.url;
  const root = await fetch(`${base}/`);
  expect(root.status).toBe(200);
  expect(root.headers.get('content-type')).toMatch(/^application\/json/);
  expect(await root.json()).toMatchObject({ framework, ip: '127.0.0.1' });

  const echo = await fetch(`${base}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ items: [1, 2, 3] }) });
  expect(echo.status).toBe(201);
  expect(await echo.json()).toEqual({ received: { items: [1, 2, 3] }, length: 17 });

  // The stream's chunks arrive spaced out (20 ms apart): the first is read before the last is made.
  const started = Date.now();
  const stream = await fetch(`${base}/stream`);
  const reader = stream.body!.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  const firstAt = Date.now() - started;
  let rest = '';
  for (let step = await reader.read(); !step.done; step = await reader.read()) rest += new TextDecoder().decode(step.value);
  expect(first + rest).toBe('chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n');
  expect(first.startsWith('chunk 0\n')).toBe(true);
  expect(first.includes('chunk 4')).toBe(false);
  expect(Date.now() - started).toBeGreaterThan(firstAt);

  const cookies = await fetch(`${base}/cookies`, { headers: { cookie: 'visits=41' } });
  expect(await cookies.json()).toEqual({ visits: 42 });
  const set = cookies.headers.getSetCookie();
  expect(set).toHaveLength(2);
  expect(set[0]).toMatch(/^visits=42; /);
  expect(set[1]).toMatch(/^flavor=oatmeal; .*httponly/i);

  const missing = await fetch(`${base}/no/such/page`);
  expect(missing.status).toBe(404);
  if (framework !== 'koa') expect(await missing.json()).toMatchObject({ error: 'not found' });
  else expect(await missing.json()).toEqual({ error: 'not found', path: '/no/such/page' });

  const boom = await fetch(`${base}/boom`);
  expect(boom.status).toBe(500);
  await boom.text();
}

describe.each(FRAMEWORKS)('$name', (framework) => {
  for (const engine of ['tsgi', 'node'] as const) {
    it(`runs unchanged on the ${engine} engine with 2 workers, and survives a HUP under load`, async () => {
      const server = await startTsgi({ args: ['-w', '2', '--http', engine, `examples/${framework.name}/app:app`] });
      await until(() => count(server, /Worker ready/) >= 2, 'two workers', { timeoutMs: 15_000, server });
      expect(server.output()).toMatch(new RegExp(`serving examples/${framework.name}/app:app as a ${framework.interface} app \\(${framework.why.source}`));
      await checkRoutes(server, framework.name);

      const load = startLoad(server.port, { concurrency: 6, keepAlive: true, maxMs: 30_000 });
      await sleep(300);
      server.proc.kill('SIGHUP');
      await until(() => count(server, /Worker ready/) >= 4 && count(server, /Worker exiting/) >= 2, 'the reload', { timeoutMs: 20_000, server });
      await sleep(300);
      const result = await load.stop();
      expect(result.errors).toEqual([]);
      expect(result.failed).toBe(0);
      expect(result.ok).toBeGreaterThan(50);
      await checkRoutes(server, framework.name);
      expect((await server.stop()).code).toBe(0);
    }, 60_000);
  }
});

describe('--interface on the command line', () => {
  const check = (...args: string[]) => spawnSync(process.execPath, [BIN, '--check-config', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });

  it('--check-config says which interface auto chose', () => {
    const express = check('examples/express/app:app');
    expect(express.status).toBe(0);
    expect(express.stdout).toContain('tsgi: configuration and app examples/express/app:app OK (a node app: an Express app');
  });

  it('an app of another interface exits 4 with the flag that would load it', () => {
    const wrong = check('--interface', 'node', 'examples/hono/app:app');
    expect(wrong.status).toBe(4);
    expect(wrong.stderr).toContain('examples/hono/app.js:app is a Hono app (it has a fetch(request) method), which --interface node cannot load; use --interface fetch (or auto)');
    const bad = check('--interface', 'grpc', 'examples/hono/app:app');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('one of auto, tsgi, fetch, node');
  });
});
