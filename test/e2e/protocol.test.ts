/**
 * The HTTP/1.1 behaviour of a real tsgi server, run against both engines (`--http tsgi` and
 * `--http node`): same requests, same answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { startTsgi, stopAll, type RunningServer } from '../helpers/server.js';
import { rawRequest, parseResponses } from '../helpers/raw.js';
import { VALID, INVALID, nodeEngineDiffers } from '../corpus/requests.js';
import { RequestParser } from '../../src/http/parser.js';
import { HEAD, ERROR, NEED_DATA } from '../../src/http/events.js';

/**
 * Whether the refusal happens in the head (the app is never called) or in the body (the app was
 * already running when the bad bytes arrived), as the sans-IO parser itself sees it.
 */
function refusedInHead(raw: string): boolean {
  const parser = new RequestParser();
  parser.feed(Buffer.from(raw, 'latin1'));
  parser.feedEnd();
  for (;;) {
    const ev = parser.next();
    if (ev === HEAD) return false;
    if (ev === ERROR || ev === NEED_DATA) return true;
  }
}

const ENGINES = ['tsgi', 'node'] as const;

/**
 * A response that says `Connection: close` is followed by the close well within this; the idle
 * timeout (--keep-alive, 5 s by default) would close a connection held open by mistake only later.
 */
const CLOSES_WITHIN_MS = 1500;

afterAll(stopAll);

function get(path: string, extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: test\r\n${extra}\r\n`;
}

function appCalls(server: RunningServer): number {
  return (server.output().match(/APP_CALLED/g) ?? []).length;
}

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) * 1024;
}

describe.each(ENGINES)('engine %s', (engine) => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startTsgi({ args: ['--http', engine, '--workers', '1', 'test/fixtures/apps/echo:app'] });
  });

  afterAll(async () => {
    await server.stop();
  });

  it('builds the environ from the request', async () => {
    const { responses } = await rawRequest(server.port, get('/echo/caf%C3%A9?x=1&y=%20', 'X-Multi: a\r\nx-multi: b\r\nCookie: a=1\r\nCookie: b=2\r\nX_Under: spoof\r\n'), { responses: 1 });
    const env = JSON.parse(responses[0]!.body.toString());
    expect(env.REQUEST_METHOD).toBe('GET');
    expect(env.PATH_INFO).toBe('/echo/café');
    expect(env.QUERY_STRING).toBe('x=1&y=%20');
    expect(env.RAW_URI).toBe('/echo/caf%C3%A9?x=1&y=%20');
    expect(env.SERVER_PROTOCOL).toBe('HTTP/1.1');
    // spec §3.5: the name the client used (Host: test, no port: the scheme's default).
    expect(env.SERVER_NAME).toBe('test');
    expect(env.SERVER_PORT).toBe('80');
    expect(env.REMOTE_ADDR).toBe('127.0.0.1');
    expect(env.CONTENT_LENGTH).toBe('');
    expect(env.version).toEqual([1, 1]);
    expect(env.url_scheme).toBe('http');
    expect(env.input_terminated).toBe(true);
    expect(env.http.HTTP_HOST).toBe('test');
    expect(env.http.HTTP_X_MULTI).toBe('a, b');
    expect(env.http.HTTP_COOKIE).toBe('a=1; b=2');
    expect(env.http.HTTP_X_UNDER).toBeUndefined();
    expect(env.raw_headers).toEqual([
      ['Host', 'test'],
      ['X-Multi', 'a'],
      ['x-multi', 'b'],
      ['Cookie', 'a=1'],
      ['Cookie', 'b=2'],
      ['X_Under', 'spoof'],
    ]);
  });

  it('keeps HTTP/1.1 connections alive and closes HTTP/1.0 ones unless asked', async () => {
    const kept = await rawRequest(server.port, get('/pid') + get('/pid'), { responses: 2 });
    expect(kept.responses.map((r) => r.status)).toEqual([200, 200]);
    expect(kept.responses[0]!.header('connection')?.toLowerCase()).not.toBe('close');

    // The server closes at once; the idle timeout (--keep-alive, 5 s) would close it too, later.
    const old = await rawRequest(server.port, 'GET /pid HTTP/1.0\r\n\r\n', { timeoutMs: CLOSES_WITHIN_MS });
    expect(old.closed).toBe(true);
    expect(old.responses[0]!.header('connection')).toBe('close');

    const oldKept = await rawRequest(server.port, 'GET /pid HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'.repeat(2), { responses: 2 });
    expect(oldKept.responses[0]!.header('connection')?.toLowerCase()).toBe('keep-alive');

    const closing = await rawRequest(server.port, get('/pid', 'Connection: close\r\n') + get('/pid'), { timeoutMs: CLOSES_WITHIN_MS });
    expect(closing.responses).toHaveLength(1);
    expect(closing.closed).toBe(true);
  });

  it('answers pipelined requests in order', async () => {
    const paths = ['/slow?ms=150', '/stream?chunks=2', '/pid', '/echo/last'];
    const { responses } = await rawRequest(server.port, paths.map((p) => get(p)).join(''), { responses: 4 });
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(responses[0]!.body.toString()).toBe('slow done');
    expect(responses[1]!.body.toString()).toBe('chunk0;chunk1;');
    expect(JSON.parse(responses[3]!.body.toString()).PATH_INFO).toBe('/echo/last');
  });

  it('reads Content-Length and chunked bodies, with trailers', async () => {
    const cl = await rawRequest(server.port, 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello', { responses: 1 });
    const clEnv = JSON.parse(cl.responses[0]!.body.toString());
    expect(clEnv.body).toBe('hello');
    expect(clEnv.CONTENT_LENGTH).toBe('5');
    expect(clEnv.CONTENT_TYPE).toBe('text/plain');

    const chunked = await rawRequest(
      server.port,
      'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n',
      { responses: 1 },
    );
    const env = JSON.parse(chunked.responses[0]!.body.toString());
    expect(env.body).toBe('hello world');
    expect(env.CONTENT_LENGTH).toBe('');
    expect(env.trailers).toEqual([['X-Checksum', 'abc']]);
  });

  it('respects read(size)', async () => {
    const { responses } = await rawRequest(server.port, 'POST /read-sized HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789', { responses: 1 });
    const { sizes } = JSON.parse(responses[0]!.body.toString());
    expect(sizes.reduce((a: number, b: number) => a + b, 0)).toBe(10);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(3);
  });

  it('sends 100 Continue on the first read, not before', async () => {
    const socket = net.connect(server.port, '127.0.0.1');
    let received = '';
    socket.on('data', (d) => (received += d.toString('latin1')));
    await new Promise((r) => socket.once('connect', r));
    socket.write('POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n');
    const deadline = Date.now() + 3000;
    while (!received.includes('100 Continue') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(received.startsWith('HTTP/1.1 100 Continue\r\n\r\n')).toBe(true);
    socket.write('data');
    while (parseResponses(Buffer.from(received, 'latin1'), false).length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const responses = parseResponses(Buffer.from(received, 'latin1'), false);
    socket.destroy();
    expect(responses[0]!.status).toBe(200);
    expect(JSON.parse(responses[0]!.body.toString()).body).toBe('data');

    // An app that answers without reading never makes the client send its body.
    // It says Connection: close, and closes: the body it never asked for is not waited for.
    const { responses: ignored, data, closed } = await rawRequest(server.port, 'POST /ignore-body HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n', {
      timeoutMs: CLOSES_WITHIN_MS,
    });
    expect(data.toString('latin1')).not.toContain('100 Continue');
    expect(ignored[0]!.status).toBe(200);
    expect(ignored[0]!.header('connection')).toBe('close');
    expect(closed).toBe(true);
  });

  it('sends no body for HEAD', async () => {
    const { data } = await rawRequest(server.port, 'HEAD /head HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    const text = data.toString('latin1');
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(text).toMatch(/content-length: 12\r\n/i);
    expect(text.endsWith('\r\n\r\n')).toBe(true);
  });

  it('never sends more than the app Content-Length and closes when it sends fewer', async () => {
    const long = await rawRequest(server.port, get('/cl-long') + get('/pid'));
    expect(long.data.toString('latin1')).toMatch(/\r\n\r\n12345$/);
    expect(long.closed).toBe(true);
    const longStream = await rawRequest(server.port, get('/cl-long-stream'));
    expect(longStream.data.toString('latin1')).toMatch(/\r\n\r\n12345$/);
    // Content-Length is a running total: chunks each under it that add up to more.
    for (const as of ['stream', 'array']) {
      const chunks = await rawRequest(server.port, get(`/cl-long-chunks?as=${as}`) + get('/pid'), { timeoutMs: 3000 });
      expect(chunks.data.toString('latin1'), as).toMatch(/\r\n\r\n12345$/);
      expect(chunks.responses.map((r) => r.body.toString()), as).toEqual(['12345']);
      expect(chunks.closed, as).toBe(true);
    }
    const short = await rawRequest(server.port, get('/cl-short') + get('/pid'));
    expect(short.data.toString('latin1')).toMatch(/\r\n\r\n12345$/);
    expect(short.closed).toBe(true);
  });

  it('answers 500 when the app throws before the headers, closes that connection, and keeps serving', async () => {
    for (const path of ['/throw', '/no-start', '/bad-status']) {
      // spec §8.6: after a 500 the request's state is unknown, so its connection closes.
      const { responses, closed } = await rawRequest(server.port, get(path) + get('/pid'), { timeoutMs: 3000 });
      expect(responses.map((r) => r.status)).toEqual([500]);
      expect(responses[0]!.header('connection')).toBe('close');
      expect(closed).toBe(true);
      expect(responses[0]!.body.toString()).not.toContain('boom');
      const next = await rawRequest(server.port, get('/pid'), { responses: 1 });
      expect(next.responses[0]!.status).toBe(200);
    }
    expect(server.output()).toContain('boom before headers');
  });

  it.each(['crlf', 'cr', 'lf', 'nul'])('never sends a header value with %s (no response splitting): 500, each time', async (kind) => {
    // The server remembers the last header list it checked: the same field with a valid value goes
    // first, so the bad one is not refused merely for being unlike the list before it, and it goes
    // twice, so a bad list is refused again rather than remembered.
    for (let i = 0; i < 2; i++) {
      const ok = await rawRequest(server.port, get('/bad-header?value=ok'), { responses: 1 });
      expect(ok.responses[0]!.status).toBe(200);
      expect(ok.responses[0]!.header('x-injected')).toBe('a; Set-Cookie= fine');
      const { data, responses, closed } = await rawRequest(server.port, get(`/bad-header?value=${kind}`), { timeoutMs: 3000 });
      expect(responses.map((r) => r.status)).toEqual([500]);
      expect(closed).toBe(true);
      expect(data.toString('latin1')).not.toContain('evil');
      expect(data.toString('latin1')).not.toContain('should never be sent');
    }
  });

  it('aborts the connection when the app fails after the headers', async () => {
    const { data, closed, responses } = await rawRequest(server.port, get('/throw-after') + get('/pid'));
    expect(closed).toBe(true);
    // Whatever part of the response left, it never looks complete.
    expect(data.toString('latin1')).not.toContain('0\r\n\r\n');
    expect(responses).toHaveLength(0);
  });

  it('drops hop-by-hop headers the app sets', async () => {
    const { responses } = await rawRequest(server.port, get('/hop') + get('/pid'), { responses: 2 });
    const names = responses[0]!.headers.map(([name]) => name.toLowerCase());
    expect(responses[0]!.header('x-kept')).toBe('yes');
    // The app's Connection: close and Transfer-Encoding: gzip are gone; the server's own framing
    // and connection fields are there, once each, and the connection carries the next request.
    expect(names.filter((n) => n === 'connection')).toHaveLength(1);
    expect(responses[0]!.header('connection')).toBe('keep-alive');
    expect(names).not.toContain('transfer-encoding');
    expect(responses[0]!.header('content-length')).toBe('3');
    expect(responses[1]!.status).toBe(200);
  });

  it('calls body.close() exactly once, also when the body throws', async () => {
    const count = async (): Promise<number> => Number((await rawRequest(server.port, get('/closes'), { responses: 1 })).responses[0]!.body.toString());
    const before = await count();
    await rawRequest(server.port, get('/close'), { responses: 1 });
    expect(await count()).toBe(before + 1);
    await rawRequest(server.port, get('/close?mode=throw'));
    expect(await count()).toBe(before + 2);
  });

  it('supports the legacy write() path and excInfo replacement', async () => {
    const { responses } = await rawRequest(server.port, get('/write') + get('/exc-info'), { responses: 2 });
    expect(responses[0]!.body.toString()).toBe('via-write;via-body');
    expect(responses[1]!.status).toBe(503);
    expect(responses[1]!.body.toString()).toBe('replaced');
  });

  it('frames a streamed body as chunked on 1.1 and close-delimited on 1.0', async () => {
    const chunked = await rawRequest(server.port, get('/stream?chunks=3'), { responses: 1 });
    expect(chunked.responses[0]!.header('transfer-encoding')).toBe('chunked');
    expect(chunked.responses[0]!.body.toString()).toBe('chunk0;chunk1;chunk2;');
    const old = await rawRequest(server.port, 'GET /stream?chunks=3 HTTP/1.0\r\n\r\n', { timeoutMs: CLOSES_WITHIN_MS });
    expect(old.closed).toBe(true);
    expect(old.responses[0]!.header('transfer-encoding')).toBeUndefined();
    expect(old.responses[0]!.body.toString()).toBe('chunk0;chunk1;chunk2;');
    // An HTTP/1.0 client that asked to keep the connection: a body of unknown length can only end
    // with the connection, so the answer says close and the server closes at once.
    const asked = await rawRequest(server.port, 'GET /stream?chunks=3 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', { timeoutMs: CLOSES_WITHIN_MS });
    expect(asked.responses[0]!.header('connection')).toBe('close');
    expect(asked.closed).toBe(true);
    expect(asked.responses[0]!.body.toString()).toBe('chunk0;chunk1;chunk2;');
  });

  /**
   * Where the corpus lists the node engine as answering a case otherwise (NODE_ENGINE_DIFFERENCES,
   * sent whole), the check must fail on it: the listed difference is checked to still be there.
   */
  const listed = (name: string): boolean => engine === 'node' && nodeEngineDiffers(name, 'whole');

  it('refuses every malformed request in the corpus, the app never seeing a bad head', async () => {
    for (const c of INVALID) {
      const inHead = refusedInHead(c.raw);
      const before = appCalls(server);
      const { responses, closed } = await rawRequest(server.port, c.raw, { timeoutMs: 3000 });
      // The app logs every call; give the line time to arrive before counting.
      if (inHead) await new Promise((r) => setTimeout(r, 20));
      const met = responses[0]?.status === c.status && responses.length === 1 && closed && (!inHead || appCalls(server) === before);
      if (listed(c.name)) {
        expect.soft(met, `${c.name} is listed in NODE_ENGINE_DIFFERENCES but is refused as the corpus says: remove the entry`).toBe(false);
        continue;
      }
      expect.soft(responses[0]?.status, `${c.name}`).toBe(c.status);
      expect.soft(responses, `${c.name}: one answer only`).toHaveLength(1);
      expect.soft(closed, `${c.name} closes the connection`).toBe(true);
      if (inHead) expect.soft(appCalls(server), `${c.name} must not reach the app`).toBe(before);
    }
  });

  it('passes every valid request in the corpus to the app as sent', async () => {
    for (const c of VALID) {
      const expected = c.requests!;
      const { responses } = await rawRequest(server.port, c.raw, { timeoutMs: 3000, responses: listed(c.name) ? undefined : expected.length });
      const seen = expected.map((want, i) => {
        const r = responses[i];
        const env = r?.status === 200 ? JSON.parse(r.body.toString()) : {};
        return {
          method: env.REQUEST_METHOD,
          target: env.RAW_URI,
          versionMinor: env.SERVER_PROTOCOL === 'HTTP/1.1' ? 1 : env.SERVER_PROTOCOL === 'HTTP/1.0' ? 0 : undefined,
          headers: env.raw_headers,
          body: env.body,
          ...(want.trailers === undefined && env.trailers === null ? {} : { trailers: env.trailers }),
        };
      });
      if (listed(c.name)) {
        expect.soft(seen, `${c.name} is listed in NODE_ENGINE_DIFFERENCES but reaches the app as sent: remove the entry`).not.toEqual(expected);
        continue;
      }
      expect.soft(seen, c.name).toEqual(expected);
    }
  });

  it('streams a 1 GiB upload through tsgi.input without holding it', async () => {
    const total = 1024 * 1024 * 1024;
    const piece = Buffer.alloc(1024 * 1024, 0x62);
    const socket = net.connect(server.port, '127.0.0.1');
    let received = Buffer.alloc(0);
    socket.on('data', (d) => (received = Buffer.concat([received, d])));
    await new Promise((r) => socket.once('connect', r));
    socket.write(`POST /_upload HTTP/1.1\r\nHost: t\r\nContent-Length: ${total}\r\n\r\n`);
    for (let sent = 0; sent < total; sent += piece.length) {
      if (!socket.write(piece)) await new Promise((r) => socket.once('drain', r));
    }
    const deadline = Date.now() + 60_000;
    while (parseResponses(received, false).length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    socket.destroy();
    const result = JSON.parse(parseResponses(received, false)[0]!.body.toString());
    expect(result.bytes).toBe(total);
    expect(result.maxRss).toBeLessThan(256 * 1024 * 1024);
  }, 90_000);

  it('reads an upload only as fast as the app does: a client sending to an app that waits is held back, the worker holds little', async () => {
    const memory = async (): Promise<{ rss: number; arrayBuffers: number }> => JSON.parse((await rawRequest(server.port, get('/memory'), { responses: 1 })).responses[0]!.body.toString());
    const total = 192 * 1024 * 1024;
    // Without backpressure, loopback takes this much in well under a second.
    const cap = 128 * 1024 * 1024;
    const piece = Buffer.alloc(1024 * 1024, 0x63);
    const before = await memory();
    const socket = net.connect(server.port, '127.0.0.1');
    let received = Buffer.alloc(0);
    socket.on('data', (d) => (received = Buffer.concat([received, d])));
    await new Promise((r) => socket.once('connect', r));
    try {
      socket.write(`POST /slow-read HTTP/1.1\r\nHost: t\r\nContent-Length: ${total}\r\n\r\n`);
      await server.waitFor(/SLOW_READ_WAITING/, 5000);
      // Send until the socket stops draining for half a second (TCP holds the client back) or the cap.
      let sent = 0;
      const drained = (): Promise<boolean> =>
        new Promise((resolve) => {
          const timer = setTimeout(() => {
            socket.off('drain', onDrain);
            resolve(false);
          }, 500);
          const onDrain = (): void => {
            clearTimeout(timer);
            resolve(true);
          };
          socket.once('drain', onDrain);
        });
      while (sent < cap) {
        sent += piece.length;
        if (!socket.write(piece) && !(await drained())) break;
      }
      const during = await memory();
      expect(sent, 'the client was held back by TCP before the cap').toBeLessThan(cap);
      expect(during.arrayBuffers - before.arrayBuffers, 'body bytes the worker holds for an app that does not read').toBeLessThan(32 * 1024 * 1024);
      // The app starts reading: the rest of the upload goes through, every byte of it.
      expect(JSON.parse((await rawRequest(server.port, get('/go'), { responses: 1 })).responses[0]!.body.toString()).released).toBe(true);
      for (; sent < total; sent += piece.length) {
        if (!socket.write(piece)) await new Promise((r) => socket.once('drain', r));
      }
      const deadline = Date.now() + 30_000;
      while (parseResponses(received, false).length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(JSON.parse(parseResponses(received, false)[0]!.body.toString()).bytes).toBe(total);
    } finally {
      socket.destroy();
    }
  }, 60_000);

  it('does not buffer an unbounded response for a client that does not read', async () => {
    const pid = Number((await rawRequest(server.port, get('/pid'), { responses: 1 })).responses[0]!.body.toString());
    const before = rssOf(pid);
    const socket = net.connect(server.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.pause();
    socket.write(get('/big?bytes=' + 512 * 1024 * 1024));
    await new Promise((r) => setTimeout(r, 1500));
    const during = rssOf(pid);
    socket.destroy();
    expect(during - before).toBeLessThan(64 * 1024 * 1024);
  });
});
