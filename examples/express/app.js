// An Express 5 app, run unchanged by tsgi:  npm install express;  npx tsgi -w 2 examples/express/app:app
// tsgi recognises an Express app and serves it as a node:http handler (docs/interfaces.md).
import express from 'express';

export const app = express();
app.use(express.json());

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function cookiesOf(header = '') {
  return Object.fromEntries(header.split(/;\s*/).filter(Boolean).map((pair) => pair.split('=').map(decodeURIComponent)));
}

app.get('/', (req, res) => {
  res.json({ framework: 'express', pid: process.pid, ip: req.ip });
});

// A JSON API reading the POST body.
app.post('/echo', (req, res) => {
  res.status(201).json({ received: req.body, length: Number(req.get('content-length') ?? 0) });
});

// A streamed response: each chunk leaves as it is written.
app.get('/stream', async (req, res) => {
  res.type('text/plain');
  for (let i = 0; i < 5; i++) {
    res.write(`chunk ${i}\n`);
    await sleep(20);
  }
  res.end();
});

// Cookies: read one, set two.
app.get('/cookies', (req, res) => {
  const visits = Number(cookiesOf(req.get('cookie')).visits ?? 0) + 1;
  res.cookie('visits', String(visits));
  res.cookie('flavor', 'oatmeal', { httpOnly: true, sameSite: 'lax' });
  res.json({ visits });
});

// A route that throws: the error handler below answers it.
app.get('/boom', () => {
  throw new Error('boom');
});

app.use((req, res) => {
  res.status(404).json({ error: 'not found', path: req.path });
});

app.use((err, req, res, _next) => {
  console.error(`${req.method} ${req.originalUrl} failed: ${err.stack}`);
  res.status(500).json({ error: 'internal error' });
});
