/**
 * The claims of docs/spec.md Appendix C ("Implementing TSGI on node:http"), each checked against a
 * real node:http server with raw bytes. These are facts about Node, not about tsgi: when a Node
 * release changes one, this test fails and the appendix must be corrected.
 */
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';

const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function listen(handler: http.RequestListener, setup?: (server: http.Server) => void, host = '127.0.0.1'): Promise<number> {
  const server = http.createServer(handler);
  setup?.(server);
  server.listen(0, host);
  await once(server, 'listening');
  servers.push(server);
  server.on('connection', (socket) => server.once('close', () => socket.destroy()));
  return (server.address() as net.AddressInfo).port;
}

interface Exchange {
  text: string;
  closed: boolean;
}

/** Sends `payload` and collects what comes back for `ms` milliseconds (or until the server closes). */
function send(port: number, payload: string | string[], ms = 300, host = '127.0.0.1'): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = net.connect(port, host);
    let data = Buffer.alloc(0);
    let closed = false;
    socket.on('connect', () => {
      for (const part of Array.isArray(payload) ? payload : [payload]) socket.write(Buffer.from(part, 'latin1'));
    });
    socket.on('data', (d) => (data = Buffer.concat([data, d])));
    socket.on('error', () => {});
    socket.on('close', () => {
      closed = true;
      clearTimeout(timer);
      resolve({ text: data.toString('latin1'), closed });
    });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text: data.toString('latin1'), closed });
    }, ms);
  });
}

const GET = (path = '/', extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: a\r\n${extra}\r\n`;

describe('Appendix C: node:http does these things a TSGI server must not', () => {
  it('C.1 without a checkContinue listener it sends 100 Continue at once, before the handler decides', async () => {
    const port = await listen((req, res) => setTimeout(() => res.writeHead(401).end(), 100));
    const { text } = await send(port, 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
    expect(text).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 401 /);
  });

  it('C.1 with a checkContinue listener nothing is sent until writeContinue(), which after the head lands inside the body', async () => {
    const port = await listen(
      () => {},
      (server) =>
        server.on('checkContinue', (_req, res) => {
          res.writeHead(200, { 'Content-Type': 'text/plain' });
          res.write('body;');
          res.writeContinue();
          res.end('end');
        }),
    );
    const { text } = await send(port, 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(text).toContain('body;\r\nHTTP/1.1 100 Continue\r\n\r\n');
  });

  it('C.1 an Expect other than 100-continue gets its own 417 and the connection stays open, unless checkExpectation is handled', async () => {
    const port = await listen((_req, res) => res.end('served'));
    const { text, closed } = await send(port, GET('/', 'Expect: teapot\r\n') + GET('/next'));
    expect(text).toMatch(/^HTTP\/1\.1 417 Expectation Failed\r\n/);
    expect(text).toContain('served');
    expect(closed).toBe(false);
  });

  it('C.2 CONNECT without a connect listener: the socket is closed with no response at all', async () => {
    const port = await listen((_req, res) => res.end('served'));
    const { text, closed } = await send(port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    expect(text).toBe('');
    expect(closed).toBe(true);
  });

  it('C.2 an Upgrade request without an upgrade listener reaches the request handler as a plain request', async () => {
    const port = await listen((req, res) => res.end(`served ${req.headers.upgrade}`));
    const { text } = await send(port, GET('/', 'Connection: Upgrade\r\nUpgrade: websocket\r\n'));
    expect(text).toContain('served websocket');
  });

  it('C.3 writes past Content-Length go out as they are, where the client reads them as the next response', async () => {
    const port = await listen((_req, res) => {
      res.writeHead(200, { 'Content-Length': '3' });
      res.end('abcHTTP/1.1 200 OK\r\n\r\n');
    });
    const { text, closed } = await send(port, GET());
    expect(text).toMatch(/\r\n\r\nabcHTTP\/1\.1 200 OK\r\n\r\n$/);
    expect(closed).toBe(false);
  });

  it('C.3 strictContentLength turns a write past Content-Length into an ERR_HTTP_CONTENT_LENGTH_MISMATCH throw', async () => {
    let code: unknown;
    const port = await listen((_req, res) => {
      res.strictContentLength = true;
      res.writeHead(200, { 'Content-Length': '3' });
      try {
        res.write('abcdef');
      } catch (error) {
        code = (error as NodeJS.ErrnoException).code;
      }
      res.destroy();
    });
    await send(port, GET());
    expect(code).toBe('ERR_HTTP_CONTENT_LENGTH_MISMATCH');
  });

  it('C.4 a body short of its Content-Length keeps the connection, and the pipelined request is answered into it', async () => {
    const port = await listen((req, res) => {
      res.writeHead(200, { 'Content-Length': '10' });
      res.end(req.url === '/1' ? 'abc' : 'second');
    });
    const { text, closed } = await send(port, GET('/1') + GET('/2'));
    expect(text).toMatch(/\r\n\r\nabcHTTP\/1\.1 200 OK\r\n/);
    expect(closed).toBe(false);
  });

  it('C.5 a body the handler never read is read and thrown away, however large, and the next request is served', async () => {
    const big = 'x'.repeat(1024 * 1024);
    const port = await listen((req, res) => res.end(`served ${req.url}`));
    const { text } = await send(port, [`POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: ${big.length}\r\n\r\n`, big, GET('/2')], 1500);
    expect(text).toContain('served /1');
    expect(text).toContain('served /2');
  });

  it('C.6 llhttp answers 400 to methods outside its list (FOO, lowercase get) before the handler; QUERY reaches it', async () => {
    const codes: string[] = [];
    const port = await listen(
      (req, res) => res.end(`method ${req.method}`),
      (server) => server.on('clientError', (error: NodeJS.ErrnoException, socket) => (codes.push(String(error.code)), socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'))),
    );
    for (const method of ['FOO', 'get', 'BREW']) {
      const { text } = await send(port, `${method} / HTTP/1.1\r\nHost: a\r\n\r\n`);
      expect(text, method).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    }
    expect(codes).toEqual(['HPE_INVALID_METHOD', 'HPE_INVALID_METHOD', 'HPE_INVALID_METHOD']);
    expect((await send(port, 'QUERY / HTTP/1.1\r\nHost: a\r\n\r\n')).text).toContain('method QUERY');
  });

  it('C.6 llhttp answers 400 to raw bytes above 0x7F in the target, but passes "{", "|" and "^" to the handler', async () => {
    const port = await listen((req, res) => res.end(`url ${req.url}`));
    expect((await send(port, 'GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n')).text).toMatch(/^HTTP\/1\.1 400 /);
    expect((await send(port, 'GET /a{b}|^ HTTP/1.1\r\nHost: a\r\n\r\n')).text).toContain('url /a{b}|^');
  });

  it('C.6 HTTP/2.0 and HTTP/0.9 request-lines reach the handler; HTTP/1.2 and HTTP/3.0 get llhttp 400s', async () => {
    const port = await listen((req, res) => res.end(`version ${req.httpVersion}`));
    expect((await send(port, 'GET / HTTP/2.0\r\nHost: a\r\n\r\n')).text).toContain('version 2.0');
    expect((await send(port, 'GET / HTTP/0.9\r\nHost: a\r\n\r\n')).text).toContain('version 0.9');
    for (const version of ['HTTP/1.2', 'HTTP/3.0']) {
      expect((await send(port, `GET / ${version}\r\nHost: a\r\n\r\n`)).text, version).toMatch(/^HTTP\/1\.1 400 /);
    }
    const seen: string[] = [];
    const mapped = await listen(
      (_req, res) => res.end(),
      (server) =>
        server.on('clientError', (error: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket) => {
          seen.push(`${error.code} ${error.rawPacket?.toString('latin1').split('\r\n')[0]}`);
          socket.destroy();
        }),
    );
    await send(mapped, 'GET / HTTP/1.2\r\nHost: a\r\n\r\n');
    expect(seen).toEqual(['HPE_INVALID_VERSION GET / HTTP/1.2']);
  });

  it('C.6 a second Host field is accepted (the first wins) and a Transfer-Encoding not ending in chunked is served', async () => {
    const port = await listen((req, res) => {
      req.resume();
      res.end(`host ${req.headers.host} te ${req.headers['transfer-encoding'] ?? '-'}`);
    });
    expect((await send(port, 'GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n')).text).toContain('host a');
    expect((await send(port, 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n')).text).toContain('te gzip');
  });

  it('C.6 req.headers lowercases names and drops a second Content-Type or User-Agent; req.rawHeaders keeps every line', async () => {
    const port = await listen((req, res) => res.end(JSON.stringify([req.headers['content-type'], req.headers['user-agent'], req.rawHeaders.length / 2])));
    const { text } = await send(port, GET('/', 'Content-Type: a\r\ncontent-type: b\r\nUser-Agent: u1\r\nUser-Agent: u2\r\n'));
    expect(text).toContain('["a","u1",5]');
  });

  it('C.2 with an upgrade listener, a request with Upgrade no longer reaches the request handler', async () => {
    const seen: string[] = [];
    const port = await listen(
      (_req, res) => (seen.push('request'), res.end()),
      (server) => server.on('upgrade', (_req, socket: net.Socket) => (seen.push('upgrade'), socket.destroy())),
    );
    await send(port, GET('/', 'Connection: Upgrade\r\nUpgrade: websocket\r\n'), 200);
    expect(seen).toEqual(['upgrade']);
  });

  it('C.6 by default fields after the first thousand or so are dropped without a word; maxHeadersCount 0 keeps them', async () => {
    const fields = Array.from({ length: 1500 }, (_, i) => `x${i % 10}: v\r\n`).join('');
    const count = (req: http.IncomingMessage, res: http.ServerResponse) => res.end(`fields ${req.rawHeaders.length / 2}`);
    const lossy = await listen(count);
    const kept = Number(/fields (\d+)/.exec((await send(lossy, GET('/', fields))).text)?.[1]);
    expect(kept).toBeLessThan(1501);
    const exact = await listen(count, (server) => (server.maxHeadersCount = 0));
    expect((await send(exact, GET('/', fields))).text).toContain('fields 1501');
  });

  it('C.7 req "close" also fires once the body was read while the client is still there; res "close" before finishing means gone', async () => {
    const events: string[] = [];
    const port = await listen((req, res) => {
      req.on('close', () => events.push('req close'));
      res.on('close', () => events.push(`res close finished=${res.writableFinished}`));
      req.resume();
      req.on('end', () => setTimeout(() => res.end('ok'), 100));
    });
    await send(port, 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi', 300);
    expect(events).toEqual(['req close', 'res close finished=true']);

    const gone: string[] = [];
    const port2 = await listen((_req, res) => {
      res.on('close', () => gone.push(`res close finished=${res.writableFinished}`));
    });
    await send(port2, GET(), 100);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(gone).toEqual(['res close finished=false']);
  });

  it('C.7 write() after the client left does not throw: it returns false and its callback gets ERR_STREAM_DESTROYED', async () => {
    let outcome: unknown;
    const port = await listen((req, res) => {
      res.writeHead(200);
      res.write('a');
      req.socket.on('close', () => {
        const ok = res.write('more', (error) => (outcome = { ok, code: (error as NodeJS.ErrnoException | null)?.code }));
      });
    });
    await send(port, GET(), 100);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(outcome).toEqual({ ok: false, code: 'ERR_STREAM_DESTROYED' });
  });

  it('C.8 the reason phrase: writeHead(code) invents "unknown" for codes it does not know; writeHead(code, "") sends an empty one', async () => {
    const port = await listen((req, res) => {
      if (req.url === '/empty') res.writeHead(599, '', { 'Content-Length': '0' }).end();
      else if (req.url === '/teapot') res.writeHead(418, { 'Content-Length': '0' }).end();
      else res.writeHead(299, { 'Content-Length': '0' }).end();
    });
    expect((await send(port, GET('/unknown'))).text).toMatch(/^HTTP\/1\.1 299 unknown\r\n/);
    expect((await send(port, GET('/teapot'))).text).toMatch(/^HTTP\/1\.1 418 I'm a Teapot\r\n/);
    expect((await send(port, GET('/empty'))).text).toMatch(/^HTTP\/1\.1 599 \r\n/);
  });

  it('C.9 an IPv4 client of a server on :: has the remoteAddress ::ffff:127.0.0.1', async () => {
    const port = await listen((req, res) => res.end(`peer ${req.socket.remoteAddress} local ${req.socket.localAddress}`), undefined, '::');
    expect((await send(port, GET())).text).toContain('peer ::ffff:127.0.0.1 local ::ffff:127.0.0.1');
  });

  it('C.11 writeEarlyHints() sends its 103 to an HTTP/1.0 client too, and writes the name link as Link', async () => {
    const port = await listen((_req, res) => {
      res.writeEarlyHints({ link: '</a.css>; rel=preload' });
      res.end('ok');
    });
    const old = await send(port, 'GET / HTTP/1.0\r\n\r\n');
    expect(old.text).toMatch(/^HTTP\/1\.1 103 Early Hints\r\nLink: <\/a\.css>; rel=preload\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
  });

  it('C.10 the defaults: a request must be complete within 300 s (else 408), its head within 60 s, idle keep-alive 5 s', () => {
    const server = http.createServer();
    expect([server.requestTimeout, server.headersTimeout, server.keepAliveTimeout]).toEqual([300_000, 60_000, 5000]);
  });
});
