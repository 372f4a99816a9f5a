// A Fastify 5 app, run unchanged by tsgi:  npm install fastify;  npx tsgi -w 2 examples/fastify/app:app
// tsgi recognises a Fastify instance, awaits ready(), and serves its routes (docs/interfaces.md).
import Fastify from 'fastify';
import { Readable } from 'node:stream';

export const app = Fastify();

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function cookiesOf(header = '') {
  return Object.fromEntries(header.split(/;\s*/).filter(Boolean).map((pair) => pair.split('=').map(decodeURIComponent)));
}

app.get('/', async (request) => ({ framework: 'fastify', pid: process.pid, ip: request.ip }));

// A JSON API reading the POST body.
app.post('/echo', async (request, reply) => {
  reply.code(201);
  return { received: request.body, length: Number(request.headers['content-length'] ?? 0) };
});

// A streamed response: each chunk leaves as it is produced.
app.get('/stream', (request, reply) => {
  async function* chunks() {
    for (let i = 0; i < 5; i++) {
      yield `chunk ${i}\n`;
      await sleep(20);
    }
  }
  reply.type('text/plain').send(Readable.from(chunks()));
});

// Cookies: read one, set two.
app.get('/cookies', async (request, reply) => {
  const visits = Number(cookiesOf(request.headers.cookie).visits ?? 0) + 1;
  reply.header('set-cookie', [`visits=${visits}; Path=/`, 'flavor=oatmeal; Path=/; HttpOnly; SameSite=Lax']);
  return { visits };
});

// A route that throws: Fastify answers 500 and logs it.
app.get('/boom', async () => {
  throw new Error('boom');
});

app.setNotFoundHandler((request, reply) => {
  reply.code(404).send({ error: 'not found', path: request.url });
});
