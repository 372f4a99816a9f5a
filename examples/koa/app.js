// A Koa app, run unchanged by tsgi:  npm install koa @koa/router;  npx tsgi -w 2 examples/koa/app:app
// tsgi recognises a Koa app and serves its callback() (docs/interfaces.md).
import Koa from 'koa';
import Router from '@koa/router';
import { Readable } from 'node:stream';

export const app = new Koa();
const router = new Router();

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function readJson(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  return JSON.parse(text || 'null');
}

router.get('/', (ctx) => {
  ctx.body = { framework: 'koa', pid: process.pid, ip: ctx.ip };
});

// A JSON API reading the POST body.
router.post('/echo', async (ctx) => {
  ctx.status = 201;
  ctx.body = { received: await readJson(ctx.req), length: Number(ctx.get('content-length') || 0) };
});

// A streamed response: each chunk leaves as it is produced.
router.get('/stream', (ctx) => {
  async function* chunks() {
    for (let i = 0; i < 5; i++) {
      yield `chunk ${i}\n`;
      await sleep(20);
    }
  }
  ctx.type = 'text/plain';
  ctx.body = Readable.from(chunks());
});

// Cookies: read one, set two.
router.get('/cookies', (ctx) => {
  const visits = Number(ctx.cookies.get('visits') ?? 0) + 1;
  ctx.cookies.set('visits', String(visits), { httpOnly: false });
  ctx.cookies.set('flavor', 'oatmeal', { sameSite: 'lax' });
  ctx.body = { visits };
});

// A route that throws: Koa answers 500 and emits 'error', logged below.
router.get('/boom', () => {
  throw new Error('boom');
});

app.on('error', (err, ctx) => console.error(`${ctx.method} ${ctx.path} failed: ${err.stack}`));
app.use(router.routes());
app.use(router.allowedMethods());
app.use((ctx) => {
  ctx.status = 404;
  ctx.body = { error: 'not found', path: ctx.path };
});
