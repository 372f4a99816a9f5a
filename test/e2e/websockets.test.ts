/**
 * WebSockets end to end (spec §3.10, docs/interfaces.md), on both engines, with real clients (ws,
 * socket.io-client) against the real CLI: an echo through each interface (a TSGI app calling
 * tsgi.upgrade, a Hono app with @hono/node-ws, an Express app with ws on its exported http.Server,
 * Socket.IO over long-polling and then WebSocket), then how an upgraded connection counts: not cut
 * by --request-timeout, one request for --max-requests, told of a graceful stop (close 1001), and
 * closed when --graceful-timeout runs out if the app keeps it open; and an echo through a real
 * Nginx with the shipped configuration.
 */
import { afterAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import WebSocket from 'ws';
import { io as ioClient } from 'socket.io-client';
import { startTsgi, stopAll, type RunningServer } from '../helpers/server.js';
import { count, sleep, until } from '../helpers/wait.js';
import { freePort, renderNginxConfig, startNginx, stopAllProxies } from '../helpers/nginx.js';

afterAll(stopAll);

const FIXTURES = 'test/fixtures/websockets';

/** Opens a WebSocket, sends each message in turn and collects the answers. */
async function echo(url: string, messages: string[]): Promise<string[]> {
  const ws = new WebSocket(url);
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
    });
    const answers: string[] = [];
    for (const message of messages) {
      const answer = new Promise<string>((resolve) => ws.once('message', (data) => resolve(String(data))));
      ws.send(message);
      answers.push(await withTimeout(answer, 5000, `an answer to ${message}`));
    }
    return answers;
  } finally {
    ws.close();
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
    }),
  ]);
}

function open(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  return withTimeout(
    new Promise<WebSocket>((resolve, reject) => {
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    }),
    5000,
    `a WebSocket to ${url}`,
  );
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
}

/** Sends `request` and collects the answer until the server closes (or 3 s pass). */
function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => (socket.destroy(), resolve(text)), 3000);
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('close', () => (clearTimeout(timer), resolve(text)));
    socket.on('error', reject);
    socket.write(request);
  });
}

function wsUrl(server: RunningServer, path = '/ws'): string {
  return `ws://127.0.0.1:${server.port}${path}`;
}

describe.each(['tsgi', 'node'] as const)('--http %s', (engine) => {
  it('a TSGI app takes the connection through tsgi.upgrade, offered only on HTTP/1.1 requests that list upgrade in Connection and have no content, and refused once the head was sent', async () => {
    const server = await startTsgi({ args: ['--http', engine, `${FIXTURES}/tsgi.js:app`] });
    expect(await echo(wsUrl(server), ['one', 'two'])).toEqual(['tsgi: one', 'tsgi: two']);
    const ask = (lines: string, content = ''): Promise<string> => rawExchange(server.port, `${lines}\r\nHost: t\r\nConnection: close\r\n\r\n${content}`);
    const body = (text: string): string => text.slice(text.indexOf('\r\n\r\n') + 4);
    expect(await (await fetch(server.url)).text()).toBe('offered false');
    // Asked for, but a protocol the app does not speak: answered as an ordinary request.
    expect(body(await ask('GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: h2c'))).toBe('offered true');
    expect(body(await ask('GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket'))).toBe('offered false');
    expect(body(await ask('GET / HTTP/1.1\r\nUpgrade: websocket'))).toBe('offered false');
    // With content: the body is read and the request answered as an ordinary one (on the node
    // engine, by tsgi's parser, node:http handing the connection over before the body).
    expect(body(await ask('POST / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\nContent-Length: 3', 'abc'))).toBe('offered false');
    // Chunked: "head sent; " went out before the call.
    expect(await ask('GET /late HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket')).toMatch(/head sent; \r\n[0-9a-f]+\r\nTSGI_ERR_UPGRADE\r\n/);
    expect((await server.stop()).code).toBe(0);
  }, 30_000);

  it('a Hono app accepts WebSockets with @hono/node-ws on tsgi/node\'s server', async () => {
    const server = await startTsgi({ args: ['--http', engine, `${FIXTURES}/hono.js:app`] });
    expect(server.output()).toMatch(/as a fetch app/);
    expect(await echo(wsUrl(server), ['hi', 'there'])).toEqual(['hono: hi', 'hono: there']);
    expect(await (await fetch(server.url)).text()).toBe('hono\n');
    expect((await server.stop()).code).toBe(0);
  }, 30_000);

  it('ws attached to an exported http.Server next to an Express app', async () => {
    const server = await startTsgi({ args: ['--http', engine, `${FIXTURES}/express-ws.js:server`] });
    expect(server.output()).toMatch(/as a node app \(a node:http Server/);
    expect(await echo(wsUrl(server, '/anything'), ['a', 'b'])).toEqual(['express: a', 'express: b']);
    expect(await (await fetch(server.url)).text()).toBe('express\n');
    expect((await server.stop()).code).toBe(0);
  }, 30_000);

  it('Socket.IO: long-polling through the request listeners, then the WebSocket upgrade', async () => {
    const server = await startTsgi({ args: ['--http', engine, `${FIXTURES}/socketio.js:server`] });
    const socket = ioClient(server.url, { reconnection: false });
    try {
      await withTimeout(new Promise<void>((resolve, reject) => (socket.once('connect', () => resolve()), socket.once('connect_error', reject))), 5000, 'a Socket.IO connection');
      // The first exchange may still be on polling; once upgraded the transport is websocket.
      await until(() => socket.io.engine.transport.name === 'websocket', 'the upgrade to WebSocket', { timeoutMs: 5000, server });
      const answer = await withTimeout(socket.emitWithAck('echo', 'ping'), 5000, 'an ack');
      expect(answer).toBe('socket.io: ping (websocket)');
    } finally {
      socket.close();
    }
    expect(await (await fetch(server.url)).text()).toBe('express with socket.io\n');
    expect((await server.stop()).code).toBe(0);
  }, 30_000);

  it('an upgraded connection outlives --request-timeout, is logged once as a 101, and closes with 1001 at a graceful stop', async () => {
    const server = await startTsgi({ args: ['--http', engine, '--request-timeout', '1', '--access-logfile', '-', `${FIXTURES}/tsgi.js:app`] });
    const ws = await open(wsUrl(server));
    const answers: string[] = [];
    ws.on('message', (data) => answers.push(String(data)));
    ws.send('before');
    await sleep(1600);
    ws.send('after the request timeout');
    await until(() => answers.length === 2, 'two echoes', { timeoutMs: 5000, server });
    expect(answers).toEqual(['tsgi: before', 'tsgi: after the request timeout']);
    // The access log has the handshake as one request, answered 101.
    expect(server.output()).toMatch(/"GET \/ws HTTP\/1\.1" 101/);
    const closing = closed(ws);
    const stopped = server.stop('SIGTERM', 15_000);
    expect(await withTimeout(closing, 5000, 'the close frame')).toEqual({ code: 1001, reason: 'TSGI_ERR_SHUTTING_DOWN' });
    expect((await stopped).code).toBe(0);
  }, 30_000);

  it('an app that keeps its WebSocket open past --graceful-timeout has it closed then', async () => {
    const server = await startTsgi({ args: ['--http', engine, '--graceful-timeout', '2', `${FIXTURES}/tsgi.js:stubborn`] });
    const ws = await open(wsUrl(server));
    const closing = closed(ws);
    const started = Date.now();
    const stopped = server.stop('SIGTERM', 15_000);
    await sleep(1000);
    // Still open while the graceful timeout runs.
    const answer = new Promise<string>((resolve) => ws.once('message', (data) => resolve(String(data))));
    ws.send('still there');
    expect(await withTimeout(answer, 2000, 'an answer during the drain')).toBe('stubborn: still there');
    const { code } = await withTimeout(closing, 10_000, 'the connection to close');
    expect(code).toBe(1006);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect((await stopped).code).toBe(0);
  }, 30_000);
});

describe('--max-requests', () => {
  it('counts an upgrade as one request', async () => {
    const server = await startTsgi({ args: ['--max-requests', '2', `${FIXTURES}/tsgi.js:app`] });
    expect(await echo(wsUrl(server), ['x'])).toEqual(['tsgi: x']);
    await fetch(server.url).then((r) => r.text());
    await until(() => /max-requests/.test(server.output()), 'the worker asking to be replaced', { timeoutMs: 10_000, server });
    expect(count(server, /served 2 requests/)).toBe(1);
    expect((await server.stop()).code).toBe(0);
  }, 30_000);
});

describe('behind Nginx (config/nginx.conf, its Upgrade map)', () => {
  afterAll(stopAllProxies);

  it.each([
    ['tsgi', `${FIXTURES}/tsgi.js:app`, 'tsgi: through nginx'],
    ['node', `${FIXTURES}/express-ws.js:server`, 'express: through nginx'],
  ] as const)('a WebSocket echo through Nginx to the %s engine', async (engine, app, expected) => {
    const server = await startTsgi({ args: ['--http', engine, app] });
    const port = await freePort();
    await startNginx(renderNginxConfig({ listenPort: port, upstreamPort: server.port, upstreamSocket: '/nonexistent/tsgi.sock' }, '@PREFIX@'), port);
    expect(await echo(`ws://127.0.0.1:${port}/ws`, ['through nginx'])).toEqual([expected]);
    // Plain requests on the same upstream keep working (the map sends an empty Connection then).
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
    expect((await server.stop()).code).toBe(0);
  }, 60_000);
});
