/**
 * tsgi/node in process: real Express, Koa and Fastify apps through fromNode (light-my-request's
 * req/res, set up as node:http would), driven by the test client; and TSGI apps through toNode on
 * a real node:http server and mounted inside Express.
 */
import { afterAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { Writable } from 'node:stream';
import express from 'express';
import Koa from 'koa';
import Fastify from 'fastify';
import { fromNode, nodeRequest, toNode } from '../../src/gateway/interfaces/node.js';
import { testClient } from '../../src/gateway/interfaces/testing.js';
import type { App } from '../../src/gateway/types.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('fromNode with an Express app', () => {
  const app = express();
  app.use(express.json());
  app.get('/info', (req, res) => {
    res.json({ url: req.url, ip: req.ip, protocol: req.protocol, raw: req.rawHeaders, ua: req.headers['user-agent'] ?? null, version: req.httpVersion });
  });
  app.post('/echo', (req, res) => res.status(201).json(req.body));
  app.get('/stream', async (req, res) => {
    res.type('text/plain');
    for (let i = 0; i < 3; i++) {
      res.write(`chunk ${i}\n`);
      await sleep(15);
    }
    res.end();
  });
  app.get('/cookies', (req, res) => {
    res.cookie('a', '1');
    res.cookie('b', '2', { httpOnly: true });
    res.send(req.headers.cookie ?? 'none');
  });
  app.get('/boom', () => {
    throw new Error('boom');
  });
  app.get('/hints', (req, res) => {
    res.writeEarlyHints({ link: ['</a.css>; rel=preload; as=style', '</b.js>; rel=preload; as=script'] });
    res.send('after hints');
  });
  app.use((err: Error, req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).send(`caught ${err.message}`);
  });
  const client = testClient(app);

  it('sees the request node:http would give: raw url, raw header lines, addresses, version', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    const res = await client.get('/info?x=%20y', { headers: [['X-Mixed-Case', 'v']] });
    process.off('warning', onWarning);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.url).toBe('/info?x=%20y');
    expect(body.ip).toBe('127.0.0.1');
    expect(body.protocol).toBe('http');
    expect(body.raw).toEqual(['Host', 'localhost', 'User-Agent', expect.stringContaining('tsgi-testclient'), 'X-Mixed-Case', 'v']);
    expect(body.version).toBe('1.1');
    // No deprecation warning for req.connection, which Express reads for req.protocol.
    expect(warnings.map((w) => w.message)).toEqual([]);
  });

  it('adds no User-Agent or Host the client did not send, and keeps HTTP/1.0', async () => {
    const res = await client.get('/info', { protocol: 'HTTP/1.0' });
    expect((await res.json()).version).toBe('1.0');
    const environ = { ...res.environ! };
    environ['tsgi.raw_headers'] = environ['tsgi.raw_headers'].filter(([name]) => !/^(user-agent|host)$/i.test(name));
    delete environ.HTTP_USER_AGENT;
    delete environ.HTTP_HOST;
    const req = nodeRequest(environ);
    expect([req.headers['user-agent'], req.headers.host, req.rawHeaders]).toEqual([undefined, undefined, []]);
  });

  it('reads a JSON body, streams, sets cookies, answers 404 and its error handler', async () => {
    const echo = await client.post('/echo', undefined, { json: { n: 1 } });
    expect([echo.status, await echo.json()]).toEqual([201, { n: 1 }]);
    const stream = await client.get('/stream');
    const reader = stream.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('chunk 0\n');
    await reader.cancel();
    const cookies = await client.get('/cookies');
    expect(cookies.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; Path=/; HttpOnly']);
    expect(await (await client.get('/cookies')).text()).toBe('a=1; b=2');
    expect((await client.get('/nope')).status).toBe(404);
    const boom = await client.get('/boom');
    expect([boom.status, await boom.text()]).toEqual([500, 'caught boom']);
  });

  it('sends res.writeEarlyHints() as tsgi.early_hints', async () => {
    const hinted = testClient(app);
    expect(await (await hinted.get('/hints')).text()).toBe('after hints');
    expect(hinted.earlyHints).toEqual([[['link', '</a.css>; rel=preload; as=style'], ['link', '</b.js>; rel=preload; as=script']]]);
  });

  it('reads the upload with backpressure', async () => {
    const CHUNK = 64 * 1024;
    let produced = 0;
    let consumed = 0;
    let maxAhead = 0;
    const big = express();
    big.post('/upload', (req, res) => {
      const sink = new Writable({
        highWaterMark: CHUNK,
        write(chunk: Buffer, _encoding, callback) {
          consumed += chunk.length;
          setImmediate(callback);
        },
      });
      req.pipe(sink).on('finish', () => res.send(String(consumed)));
    });
    async function* upload() {
      for (let i = 0; i < 300; i++) {
        produced += CHUNK;
        maxAhead = Math.max(maxAhead, produced - consumed);
        yield new Uint8Array(CHUNK);
      }
    }
    const res = await testClient(big).post('/upload', upload());
    expect(await res.text()).toBe(String(300 * CHUNK));
    expect(maxAhead).toBeLessThanOrEqual(6 * CHUNK);
  });

  it('tells the handler when the client goes away mid-response', async () => {
    let closed = false;
    const slow = express();
    slow.get('/', (req, res) => {
      res.on('close', () => (closed = true));
      res.write('first');
    });
    const abort = new AbortController();
    const res = await testClient(slow).get('/', { signal: abort.signal });
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('first');
    abort.abort();
    await sleep(20);
    expect(closed).toBe(true);
  });
});

describe('fromNode with Koa and Fastify', () => {
  it('serves a Koa app through its callback()', async () => {
    const koa = new Koa();
    koa.use(async (ctx) => {
      if (ctx.path === '/boom') throw new Error('boom');
      ctx.cookies.set('k', 'v');
      ctx.body = { path: ctx.path, ip: ctx.ip };
    });
    koa.silent = true;
    const client = testClient(koa);
    const res = await client.get('/x');
    expect(await res.json()).toEqual({ path: '/x', ip: '127.0.0.1' });
    expect(res.headers.getSetCookie()).toEqual(['k=v; path=/; httponly']);
    expect((await client.get('/boom')).status).toBe(500);
  });

  it('serves a Fastify instance after ready(), and close() reaches Fastify', async () => {
    const fastify = Fastify();
    let closed = false;
    fastify.addHook('onClose', async () => {
      closed = true;
    });
    fastify.get('/', async (request) => ({ ip: request.ip, url: request.url }));
    fastify.post('/echo', async (request) => request.body);
    const client = testClient(fastify);
    expect(await (await client.get('/?q=1')).json()).toEqual({ ip: '127.0.0.1', url: '/?q=1' });
    expect(await (await client.post('/echo', undefined, { json: [1, 2] })).json()).toEqual([1, 2]);
    expect((await client.get('/missing')).status).toBe(404);
    await client.close();
    expect(closed).toBe(true);
  });
});

describe('toNode', () => {
  const app: App = async (environ, startResponse) => {
    let body = '';
    for await (const chunk of environ['tsgi.input']) body += Buffer.from(chunk).toString();
    startResponse('200 OK', [['Content-Type', 'text/plain'], ['X-Script', environ.SCRIPT_NAME], ['X-Path', environ.PATH_INFO]]);
    return (async function* () {
      yield `${environ.REQUEST_METHOD} ${environ.RAW_URI} from ${environ.REMOTE_ADDR}`;
      yield ` body=${body}`;
    })();
  };
  const servers: http.Server[] = [];
  afterAll(() => servers.forEach((s) => s.close()));
  async function listen(handler: http.RequestListener): Promise<number> {
    const server = http.createServer(handler);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as { port: number }).port;
  }

  it('runs a TSGI app on node:http', async () => {
    const port = await listen(toNode(app));
    const res = await fetch(`http://127.0.0.1:${port}/a%2Fb?x`, { method: 'POST', body: 'hello' });
    expect(await res.text()).toBe('POST /a%2Fb?x from 127.0.0.1 body=hello');
    expect(res.headers.get('x-path')).toBe('/a/b');
  });

  it('mounts a TSGI app inside Express, with SCRIPT_NAME the mount point', async () => {
    const outer = express();
    outer.use('/legacy', toNode(app));
    const port = await listen(outer);
    const res = await fetch(`http://127.0.0.1:${port}/legacy/page`);
    expect(res.headers.get('x-script')).toBe('/legacy');
    expect(res.headers.get('x-path')).toBe('/page');
  });

  it('answers 500 for an app that raises before its head', async () => {
    const port = await listen(
      toNode(
        () => {
          throw new Error('no');
        },
        { errors: { write() {}, flush() {} } },
      ),
    );
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(500);
  });
});
