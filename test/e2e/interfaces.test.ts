/**
 * What the server tells fetch and node apps, end to end on both engines: a client going away
 * reaches the app (request.signal and the body's cancel; res 'close'), and a 1 GiB upload streams
 * through to the app without the worker holding it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { startTsgi, stopAll, type RunningServer } from '../helpers/server.js';
import { sleep } from '../helpers/wait.js';

afterAll(stopAll);

const GiB = 1024 ** 3;

function upload(port: number, bytes: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/upload', headers: { 'content-type': 'application/octet-stream' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    const chunk = Buffer.alloc(1024 * 1024);
    let sent = 0;
    const pump = (): void => {
      while (sent < bytes) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

async function seen(server: RunningServer): Promise<string[]> {
  return (await fetch(`${server.url}/seen`)).json() as Promise<string[]>;
}

/** Reads the first bytes of GET /hang, then closes the connection. */
async function hangUp(port: number): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write('GET /hang HTTP/1.1\r\nHost: t\r\n\r\n');
  await new Promise((resolve) => socket.once('data', resolve));
  socket.destroy();
}

/** Polls /seen until it holds `count` entries (at most 5 s). */
async function waitSeen(server: RunningServer, count: number): Promise<string[]> {
  let got: string[] = [];
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && got.length < count) {
    await sleep(50);
    got = await seen(server);
  }
  return got;
}

/** POSTs 1 GiB; the app counts it and reports its worker's resident memory. */
async function uploadGiB(server: RunningServer): Promise<void> {
  const result = await upload(server.port, GiB);
  expect(result.status).toBe(200);
  const { bytes, rss } = JSON.parse(result.body) as { bytes: number; rss: number };
  expect(bytes).toBe(GiB);
  expect(rss).toBeLessThan(300 * 1024 * 1024);
}

describe.each(['tsgi', 'node'] as const)('--http %s', (engine) => {
  it('a fetch app: the client leaving aborts request.signal and cancels the body; a 1 GiB upload streams', async () => {
    const server = await startTsgi({ args: ['--http', engine, 'test/fixtures/apps/interfaces.js:fetchApp'] });
    await hangUp(server.port);
    expect((await waitSeen(server, 2)).sort()).toEqual(['fetch: body cancelled', 'fetch: signal aborted (TSGI_ERR_CLIENT_GONE)']);
    await uploadGiB(server);
    expect((await server.stop()).code).toBe(0);
  }, 90_000);

  it('a node app: the client leaving closes res; a 1 GiB upload streams', async () => {
    const server = await startTsgi({ args: ['--http', engine, 'test/fixtures/apps/interfaces.js:nodeApp'] });
    await hangUp(server.port);
    expect(await waitSeen(server, 1)).toEqual(['node: res close (finished false)']);
    await uploadGiB(server);
    expect((await server.stop()).code).toBe(0);
  }, 90_000);
});
