/**
 * tsgi/fetch in process: a real Hono app (and plain fetch handlers) through fromFetch, driven by
 * the test client, which builds the environ with the server's own buildEnviron(); and TSGI apps
 * through toFetch, called with genuine WHATWG Requests.
 */
import { describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { fromFetch, toFetch, BackgroundTasks } from '../../src/gateway/interfaces/fetch.js';
import { toGenuineRequest } from '../../src/gateway/interfaces/fetch-request.js';
import { testClient } from '../../src/gateway/interfaces/testing.js';
import type { App, Environ } from '../../src/gateway/types.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('fromFetch with a Hono app', () => {
  const app = new Hono<{ Bindings: Environ }>();
  app.get('/', (c) => c.json({ hello: 'world', remote: c.env.REMOTE_ADDR, protocol: c.env.SERVER_PROTOCOL }));
  app.post('/echo', async (c) => c.json({ received: await c.req.json() }, 201));
  app.get('/cookies', (c) => {
    setCookie(c, 'a', '1');
    setCookie(c, 'b', String(Number(getCookie(c, 'b') ?? 0) + 1), { httpOnly: true });
    return c.text('ok');
  });
  app.get('/boom', () => {
    throw new Error('boom');
  });
  app.onError((err, c) => c.text(`caught ${err.message}`, 500));
  const client = testClient(app);

  it('answers JSON, with c.env the environ', async () => {
    const res = await client.get('/');
    expect(res.status).toBe(200);
    expect(res.reason).toBe('OK');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ hello: 'world', remote: '127.0.0.1', protocol: 'HTTP/1.1' });
  });

  it('reads a POST body', async () => {
    const res = await client.post('/echo', undefined, { json: { n: 42 } });
    expect(res.status).toBe(201);
    expect(res.reason).toBe('Created');
    expect(await res.json()).toEqual({ received: { n: 42 } });
  });

  it('keeps every Set-Cookie, and the client sends them back', async () => {
    const first = await client.get('/cookies');
    expect(first.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=1; Path=/; HttpOnly']);
    expect(first.rawHeaders.filter(([n]) => n === 'set-cookie')).toHaveLength(2);
    const second = await client.get('/cookies');
    expect(second.headers.getSetCookie()[1]).toBe('b=2; Path=/; HttpOnly');
  });

  it('404 and a route that throws', async () => {
    expect((await client.get('/nope')).status).toBe(404);
    const res = await client.get('/boom');
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('caught boom');
  });
});

describe('the Request a fetch app is given', () => {
  let seen: Request | undefined;
  const capture = fromFetch((request) => {
    seen = request;
    return new Response('ok');
  });

  it('is a Request, with the URL of spec §3.8, the Fetch method and every header line', async () => {
    const client = testClient(capture, { interface: 'tsgi' });
    await client.get('/caf%C3%A9/a%2Fb?x=1&y=%20', { headers: [['X-Dup', 'one'], ['x-dup', 'two'], ['Host', 'Example.COM:80']] });
    expect(seen).toBeInstanceOf(Request);
    expect(Object.prototype.toString.call(seen)).toBe('[object Request]');
    // PATH_INFO is decoded (%2F becomes /), then re-encoded per segment; the URL parser lowercases the host and drops :80.
    expect(seen!.url).toBe('http://example.com/caf%C3%A9/a/b?x=1&y=%20');
    expect(seen!.method).toBe('GET');
    expect(seen!.headers.get('x-dup')).toBe('one, two');
    expect(seen!.signal).toBeInstanceOf(AbortSignal);
    expect(seen!.signal.aborted).toBe(false);
  });

  it('answers like a genuine Request for everything else (body, clone, cache, text)', async () => {
    const client = testClient(
      fromFetch(async (request) => {
        const copy = request.clone();
        return Response.json({ text: await request.text(), copy: await copy.text(), used: request.bodyUsed, cache: request.cache, method: request.method });
      }),
      { interface: 'tsgi' },
    );
    const res = await client.request('patch', '/x', { body: 'hello' });
    expect(await res.json()).toEqual({ text: 'hello', copy: 'hello', used: true, cache: 'default', method: 'patch' });
    const genuine = await testClient(fromFetch((request) => Response.json({ genuine: toGenuineRequest(request) instanceof Request, url: new Request(toGenuineRequest(request)).url })), { interface: 'tsgi' }).get('/g');
    expect(await genuine.json()).toEqual({ genuine: true, url: 'http://localhost/g' });
  });

  it('normalises the six Fetch methods and keeps others as sent', async () => {
    const methods: string[] = [];
    const client = testClient(fromFetch((request) => (methods.push(request.method), new Response(null, { status: 204 }))), { interface: 'tsgi' });
    for (const m of ['get', 'post', 'Delete', 'patch', 'PROPFIND']) await client.request(m, '/');
    expect(methods).toEqual(['GET', 'POST', 'DELETE', 'patch', 'PROPFIND']);
  });

  it('answers TRACE with 501 (a Request cannot carry it) and a bad Host with 400', async () => {
    const client = testClient(capture, { interface: 'tsgi' });
    expect((await client.request('TRACE', '/')).status).toBe(501);
    expect((await client.get('/', { headers: { host: 'exa mple.com' } })).status).toBe(400);
  });

  it('is the same with request: genuine', async () => {
    let genuine: Request | undefined;
    const client = testClient(fromFetch((r) => ((genuine = r), new Response('x')), { request: 'genuine' }), { interface: 'tsgi' });
    await client.get('/caf%C3%A9?q', { headers: [['a', '1'], ['A', '2']] });
    expect(genuine!.url).toBe('http://localhost/caf%C3%A9?q');
    expect(genuine!.headers.get('a')).toBe('1, 2');
  });

  it('streams the upload with backpressure: the app reading slowly holds the client back', async () => {
    const CHUNK = 64 * 1024;
    const COUNT = 400; // 25 MiB
    let produced = 0;
    let consumed = 0;
    let maxAhead = 0;
    async function* upload() {
      for (let i = 0; i < COUNT; i++) {
        produced += CHUNK;
        maxAhead = Math.max(maxAhead, produced - consumed);
        yield new Uint8Array(CHUNK);
      }
    }
    const client = testClient(
      fromFetch(async (request) => {
        const reader = request.body!.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          consumed += value.length;
          if (consumed % (CHUNK * 50) === 0) await sleep(1);
        }
        return new Response(String(consumed));
      }),
      { interface: 'tsgi' },
    );
    const res = await client.post('/upload', upload());
    expect(await res.text()).toBe(String(CHUNK * COUNT));
    // The input's 64 KiB high-water mark plus what is in flight between the two streams.
    expect(maxAhead).toBeLessThanOrEqual(4 * CHUNK);
  });
});

describe('the Response a fetch app returns', () => {
  const client = testClient(
    fromFetch(async (request) => {
      const path = new URL(request.url).pathname;
      if (path === '/string') return new Response('text', { status: 201 });
      if (path === '/custom') return new Response('x', { status: 299, statusText: 'Fine Thanks' });
      if (path === '/unknown') return new Response('x', { status: 599 });
      if (path === '/bytes') return new Response(new Uint8Array([1, 2, 3]));
      if (path === '/blob') return new Response(new Blob(['blob!'], { type: 'text/x-blob' }));
      if (path === '/null') return new Response(null, { status: 204 });
      if (path === '/not-a-response') return { status: 200 } as unknown as Response;
      let i = 0;
      return new Response(
        new ReadableStream({
          async pull(controller) {
            if (i === 3) return controller.close();
            await sleep(10);
            controller.enqueue(new TextEncoder().encode(`chunk ${i++}\n`));
          },
        }),
      );
    }),
    { interface: 'tsgi', raiseAppErrors: false },
  );

  it('carries status, reason phrase (standard when statusText is empty) and each kind of body', async () => {
    const string = await client.get('/string');
    expect([string.status, string.reason, await string.text()]).toEqual([201, 'Created', 'text']);
    const custom = await client.get('/custom');
    expect([custom.status, custom.reason]).toEqual([299, 'Fine Thanks']);
    expect((await client.get('/unknown')).reason).toBe('');
    expect([...new Uint8Array(await (await client.get('/bytes')).arrayBuffer())]).toEqual([1, 2, 3]);
    const blob = await client.get('/blob');
    expect([blob.headers.get('content-type'), await blob.text()]).toEqual(['text/x-blob', 'blob!']);
    const empty = await client.get('/null');
    expect([empty.status, empty.body]).toEqual([204, null]);
  });

  it('streams a ReadableStream: the first chunk arrives before the last is made', async () => {
    const res = await client.get('/stream');
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe('chunk 0\n');
    let rest = '';
    for (let step = await reader.read(); !step.done; step = await reader.read()) rest += new TextDecoder().decode(step.value);
    expect(rest).toBe('chunk 1\nchunk 2\n');
  });

  it('answers 500 for a handler that returns no Response, saying so', async () => {
    const res = await client.get('/not-a-response');
    expect(res.status).toBe(500);
    expect(client.errors.join('')).toContain('the fetch handler returned an object (Object), not a Response');
  });
});

describe('ctx.waitUntil', () => {
  it('collects the promises; settled() waits for them; a rejection goes to tsgi.errors', async () => {
    const tasks = new BackgroundTasks();
    let done = false;
    const errors: string[] = [];
    const app = fromFetch(
      (request, env, ctx) => {
        ctx.waitUntil(sleep(50).then(() => (done = true)));
        ctx.waitUntil(Promise.reject(new Error('flush failed')));
        return new Response('sent first');
      },
      { tasks },
    );
    const client = testClient(app, { interface: 'tsgi', errors: { write: (m) => void errors.push(m), flush() {} } });
    expect(await (await client.get('/')).text()).toBe('sent first');
    expect(done).toBe(false);
    expect(tasks.size).toBeGreaterThan(0);
    await tasks.settled();
    expect(done).toBe(true);
    expect(tasks.size).toBe(0);
    expect(errors.join('')).toContain('a waitUntil() task failed: Error: flush failed');
  });
});

describe('toFetch', () => {
  const tsgiApp: App = async (environ, startResponse) => {
    const chunks: Uint8Array[] = [];
    for await (const chunk of environ['tsgi.input']) chunks.push(chunk);
    if (environ.PATH_INFO === '/fail') throw new Error('app failed');
    startResponse('200 OK', [['Content-Type', 'application/json'], ['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2']]);
    return [
      JSON.stringify({
        method: environ.REQUEST_METHOD,
        path: environ.PATH_INFO,
        query: environ.QUERY_STRING,
        host: environ.HTTP_HOST,
        server: `${environ.SERVER_NAME}:${environ.SERVER_PORT}`,
        scheme: environ['tsgi.url_scheme'],
        body: Buffer.concat(chunks).toString(),
        length: environ.CONTENT_LENGTH,
        chunked: environ.HTTP_TRANSFER_ENCODING ?? null,
        trailers: environ['tsgi.trailers'] ?? null,
      }),
    ];
  };
  const handler = toFetch(tsgiApp, { errors: { write() {}, flush() {} } });

  it('builds the environ from a genuine Request and returns a Response', async () => {
    const res = await handler(new Request('https://api.example.com:8443/caf%C3%A9?x=1', { method: 'POST', body: 'hi' }));
    expect(res).toBeInstanceOf(Response);
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(await res.json()).toEqual({
      method: 'POST',
      path: '/café',
      query: 'x=1',
      host: 'api.example.com:8443',
      server: 'api.example.com:8443',
      scheme: 'https',
      body: 'hi',
      length: '',
      chunked: 'chunked',
      trailers: [],
    });
  });

  it('answers 500 when the app raises before its head', async () => {
    const res = await handler(new Request('http://x/fail'));
    expect(res.status).toBe(500);
  });

  it('round-trips: toFetch(fromFetch(hono)) is the Hono app again', async () => {
    const hono = new Hono();
    hono.get('/hi/:name', (c) => c.text(`hi ${c.req.param('name')}`));
    const res = await toFetch(fromFetch(hono))(new Request('http://x/hi/ann'));
    expect(await res.text()).toBe('hi ann');
  });
});
