// A Hono app, run unchanged by tsgi:  npm install hono;  npx tsgi -w 2 examples/hono/app:app
// tsgi recognises an object with a fetch() method and serves it as a fetch app; `c.env` is the
// request's TSGI environ (docs/interfaces.md).
import { Hono } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { streamText } from 'hono/streaming';

export const app = new Hono();

app.get('/', (c) => c.json({ framework: 'hono', pid: process.pid, ip: c.env.REMOTE_ADDR, server: c.env.SERVER_SOFTWARE }));

// A JSON API reading the POST body.
app.post('/echo', async (c) => c.json({ received: await c.req.json(), length: Number(c.req.header('content-length') ?? 0) }, 201));

// A streamed response: each chunk leaves as it is written.
app.get('/stream', (c) =>
  streamText(c, async (stream) => {
    for (let i = 0; i < 5; i++) {
      await stream.write(`chunk ${i}\n`);
      await stream.sleep(20);
    }
  }),
);

// Cookies: read one, set two.
app.get('/cookies', (c) => {
  const visits = Number(getCookie(c, 'visits') ?? 0) + 1;
  setCookie(c, 'visits', String(visits), { path: '/' });
  setCookie(c, 'flavor', 'oatmeal', { path: '/', httpOnly: true, sameSite: 'Lax' });
  return c.json({ visits });
});

// A route that throws: onError below answers it.
app.get('/boom', () => {
  throw new Error('boom');
});

app.notFound((c) => c.json({ error: 'not found', path: c.req.path }, 404));

app.onError((err, c) => {
  console.error(`${c.req.method} ${c.req.path} failed: ${err.stack}`);
  return c.json({ error: 'internal error' }, 500);
});

export default app;
