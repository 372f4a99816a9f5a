/**
 * --interface: what auto recognises, what each explicit choice accepts, and the message for a
 * value it cannot load (what the value is, and which flag or attribute would load it).
 */
import { describe, expect, it } from 'vitest';
import http from 'node:http';
import express from 'express';
import Koa from 'koa';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { AutoRouter } from 'itty-router';
import { H3 } from 'h3';
import { adaptApp, type InterfaceChoice } from '../../src/gateway/interfaces/detect.js';
import { testClient } from '../../src/gateway/interfaces/testing.js';

async function failure(value: unknown, choice: InterfaceChoice = 'auto'): Promise<{ code: string; message: string }> {
  try {
    await adaptApp(value, choice, 'app.js:app');
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('expected adaptApp to fail');
}

describe('auto', () => {
  it('recognises each framework and says why', async () => {
    const hono = new Hono();
    hono.get('/', (c) => c.text('hono'));
    const itty = AutoRouter();
    itty.get('/', () => new Response('itty'));
    const h3 = new H3();
    h3.get('/', () => 'h3');
    const koa = new Koa();
    koa.use((ctx) => (ctx.body = 'koa'));
    const ex = express();
    ex.get('/', (req, res) => res.send('express'));
    const fastify = Fastify();
    fastify.get('/', async () => 'fastify');
    const cases: [unknown, string, RegExp, string][] = [
      [hono, 'fetch', /a Hono app: it has a fetch\(request\) method/, 'hono'],
      [itty, 'fetch', /fetch\(request\)/, 'itty'],
      [h3, 'fetch', /an h3 app/, 'h3'],
      [{ fetch: () => new Response('plain') }, 'fetch', /an object with a fetch\(\) method/, 'plain'],
      [koa, 'node', /a Koa app: .*callback\(\)/, 'koa'],
      [ex, 'node', /an Express app/, 'express'],
      [fastify, 'node', /a Fastify instance: .*ready\(\)/, 'fastify'],
      [http.createServer(ex), 'node', /a node:http Server: .*'request' and 'upgrade' listeners/, 'express'],
      [(environ: unknown, startResponse: (s: string, h: unknown[]) => void) => (startResponse('200 OK', []), ['tsgi']), 'tsgi', /a function/, 'tsgi'],
    ];
    for (const [value, kind, reason, body] of cases) {
      const adapted = await adaptApp(value, 'auto', 'app.js:app');
      expect([adapted.interface, adapted.reason]).toEqual([kind, expect.stringMatching(reason)]);
      expect(await (await testClient(adapted.app, { interface: 'tsgi', validate: kind === 'tsgi' }).get('/')).text()).toBe(body);
    }
  });

  it('refuses an http.Server that already listens, and routes upgrades to the server the app built', async () => {
    const listening = http.createServer();
    await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
    try {
      const refused = await failure(listening);
      expect(refused.code).toBe('TSGI_ERR_APP_INTERFACE');
      expect(refused.message).toContain('is a node:http Server that is already listening; do not call listen() on it');
    } finally {
      listening.close();
    }
    const server = http.createServer();
    expect((await adaptApp(server, 'auto', 'app.js:server')).node).toMatchObject({ server, upgrades: server });
    const fastify = Fastify();
    expect((await adaptApp(fastify, 'auto', 'app.js:app')).node?.upgrades).toBe(fastify.server);
  });

  it('does not call a Fastify instance a Promise (it is thenable)', async () => {
    const fastify = Fastify();
    expect(typeof (fastify as unknown as { then: unknown }).then).toBe('function');
    expect((await adaptApp(fastify, 'auto', 'app.js:app')).interface).toBe('node');
  });

  it('explains a value that is no app', async () => {
    const object = await failure({ routes: [], port: 1 });
    expect(object.code).toBe('TSGI_ERR_APP_NOT_CALLABLE');
    expect(object.message).toBe(
      'app.js:app is an object, not a TSGI app (it has routes, port); a TSGI app is a function (environ, startResponse) => body, a fetch app an object with a fetch(request) method, a node app an Express, Koa or Fastify app',
    );
    const holder = await failure({ server: new Hono() });
    expect(holder.message).toContain('its property "server" looks like one: name it, app.js:app.server');
    expect((await failure(Promise.resolve(1))).message).toContain('is a Promise, not a TSGI app; for an app built asynchronously, export a factory and use app.js:create()');
    expect((await failure(42)).message).toContain('is a number');
    expect((await failure(class Server {})).message).toContain('is a class');
  });
});

describe('explicit interfaces', () => {
  it('fetch and node load plain functions auto cannot tell apart', async () => {
    const fetchApp = await adaptApp(() => new Response('from fetch'), 'fetch', 'app.js:app');
    expect(await (await testClient(fetchApp.app, { interface: 'tsgi', validate: false }).get('/')).text()).toBe('from fetch');
    const nodeApp = await adaptApp((req: unknown, res: { end(s: string): void }) => res.end('from node'), 'node', 'app.js:app');
    expect(await (await testClient(nodeApp.app, { interface: 'tsgi', validate: false }).get('/')).text()).toBe('from node');
  });

  it('names the flag that would load a value of another interface', async () => {
    const hono = await failure(new Hono(), 'node');
    expect(hono.code).toBe('TSGI_ERR_APP_INTERFACE');
    expect(hono.message).toBe('app.js:app is a Hono app (it has a fetch(request) method), which --interface node cannot load; use --interface fetch (or auto)');
    expect((await failure(express(), 'fetch')).message).toContain('is an Express app (it is a function with handle(), use() and listen()), which --interface fetch cannot load; use --interface node (or auto)');
    expect((await failure(new Koa(), 'tsgi')).message).toContain('use --interface node');
    expect((await failure({ nothing: true }, 'fetch')).code).toBe('TSGI_ERR_APP_NOT_CALLABLE');
  });
});
