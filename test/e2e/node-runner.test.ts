/**
 * The node runner on both engines: a node app gets node:http's genuine objects after tsgi's own
 * checks, and keeps what tsgi gives every app: --request-timeout (504 while nothing was sent, the
 * app's half-set fields dropped), a 500 for a handler that throws, 100 Continue when the app reads,
 * --root-path below which req.url starts, the access log's record (status and bytes), and a
 * graceful stop that answers a request in flight with Connection: close.
 */
import { afterAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { startTsgi, stopAll } from '../helpers/server.js';
import { sleep, until } from '../helpers/wait.js';

afterAll(stopAll);

// A plain (req, res) function has a TSGI app's shape: it needs --interface node.
const APP = ['--interface', 'node', 'test/fixtures/apps/node-runner.js:app'];

/** Sends `request` raw and collects everything until the server closes, `done` says so, or `ms` pass. */
function exchange(
  port: number,
  request: string,
  ms = 3000,
  { onData, done }: { onData?: (text: string, socket: net.Socket) => void; done?: (text: string) => boolean } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => (socket.destroy(), resolve(text)), ms);
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      onData?.(text, socket);
      if (done?.(text) === true) socket.destroy();
    });
    socket.on('close', () => (clearTimeout(timer), resolve(text)));
    socket.on('error', reject);
    socket.write(request);
  });
}

describe.each(['tsgi', 'node'] as const)('--http %s', (engine) => {
  it("hands node:http's own objects, with keep-alive as tsgi sends it, and records each request", async () => {
    const server = await startTsgi({ args: ['--http', engine, '--keep-alive', '7', '--access-logfile', '-', ...APP] });
    const kinds = await exchange(server.port, 'GET /kinds?x=1 HTTP/1.1\r\nHost: t\r\n\r\n', 3000, { done: (text) => text.endsWith('}') });
    expect(kinds).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(kinds).toMatch(/\r\nConnection: keep-alive\r\nKeep-Alive: timeout=7\r\n/);
    expect(kinds).toMatch(/\r\nDate: /);
    expect(JSON.parse(kinds.slice(kinds.indexOf('\r\n\r\n') + 4))).toEqual({ req: true, res: true, socket: true, url: '/kinds?x=1', remote: '127.0.0.1', version: '1.1' });
    await until(() => /"GET \/kinds\?x=1 HTTP\/1\.1" 200 \d+/.test(server.output()), 'the access log line', { server });
    const bytes = Number(/"GET \/kinds\?x=1 HTTP\/1\.1" 200 (\d+)/.exec(server.output())![1]);
    expect(bytes).toBe(kinds.length - kinds.indexOf('\r\n\r\n') - 4);
    expect((await server.stop()).code).toBe(0);
  }, 30_000);

  it('answers 504 on --request-timeout without the fields the app had set, and 500 for a throw', async () => {
    const server = await startTsgi({ args: ['--http', engine, '--request-timeout', '1', ...APP] });
    const hang = await exchange(server.port, 'GET /hang HTTP/1.1\r\nHost: t\r\n\r\n', 5000);
    expect(hang).toMatch(/^HTTP\/1\.1 504 Gateway Timeout\r\n/);
    expect(hang).not.toContain('x-app');
    // Once bytes were sent, the connection is cut instead.
    const partial = await exchange(server.port, 'GET /slow-body HTTP/1.1\r\nHost: t\r\n\r\n', 5000);
    expect(partial).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(partial).not.toMatch(/0\r\n\r\n$/);
    const thrown = await exchange(server.port, 'GET /throw HTTP/1.1\r\nHost: t\r\n\r\n', 3000);
    expect(thrown).toMatch(/^HTTP\/1\.1 500 Internal Server Error\r\n/);
    expect(thrown).not.toContain('x-app');
    expect(server.output()).toContain('the node app raised an error; answered 500');
    // The worker served on after all three.
    expect((await fetch(`${server.url}/kinds`)).status).toBe(200);
    expect((await server.stop()).code).toBe(0);
  }, 30_000);

  it('sends 100 Continue when the app reads the body, and mounts the app below --root-path', async () => {
    const server = await startTsgi({ args: ['--http', engine, '--root-path', '/api', ...APP] });
    const got = await exchange(server.port, 'POST /api/read HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n', 3000, {
      onData: (text, socket) => {
        if (text === 'HTTP/1.1 100 Continue\r\n\r\n') socket.write('abcd');
      },
    });
    expect(got).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    expect(got).toMatch(/read 4$/);
    const kinds = await (await fetch(`${server.url}/api/kinds`)).json();
    expect(kinds).toMatchObject({ url: '/kinds' });
    expect((await fetch(`${server.url}/elsewhere`)).status).toBe(404);
    expect((await server.stop()).code).toBe(0);
  }, 30_000);

  it('answers pipelined requests in order, a body read by the app among them', async () => {
    const server = await startTsgi({ args: ['--http', engine, ...APP] });
    const got = await exchange(
      server.port,
      'GET /kinds HTTP/1.1\r\nHost: t\r\n\r\nPOST /read HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nabcdeGET /wait?ms=50 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n',
    );
    expect(got.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 200']);
    expect(got.indexOf('"url":"/kinds"')).toBeLessThan(got.indexOf('read 5'));
    expect(got.indexOf('read 5')).toBeLessThan(got.indexOf('waited'));
    expect((await server.stop()).code).toBe(0);
  }, 30_000);

  it('answers a request in flight at a graceful stop with Connection: close', async () => {
    const server = await startTsgi({ args: ['--http', engine, ...APP] });
    const pending = exchange(server.port, 'GET /wait?ms=800 HTTP/1.1\r\nHost: t\r\n\r\n', 5000);
    await sleep(300);
    const stopped = server.stop('SIGTERM', 10_000);
    const answer = await pending;
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(answer).toMatch(/\r\nConnection: close\r\n/);
    expect(answer).toMatch(/waited$/);
    expect((await stopped).code).toBe(0);
  }, 30_000);
});
