/**
 * The fetch runner on both engines, read byte by byte off the wire: a string, bytes, Blob or form
 * body goes out with a Content-Length (never chunked); a stream body is chunked; every Set-Cookie
 * stays its own line; repeated fields are kept; the standard reason phrase fills an empty
 * statusText; headers changed on the Response after it was made are sent; a declared
 * Content-Length is never exceeded nor passed off as complete; a bad field, a non-Response and a
 * throw are answered 500; HEAD and 204 carry no content; and the Request and Response an app sees
 * are `instanceof` the globals.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { startTsgi, stopAll, type RunningServer } from '../helpers/server.js';

afterAll(stopAll);

interface Raw {
  statusLine: string;
  headers: [string, string][];
  body: string;
  /** The connection closed after the response. */
  closed: boolean;
}

/** Sends `request` raw and reads one response (framed by Content-Length, chunked, or the close). */
function raw(port: number, request: string, timeoutMs = 5000): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    let closed = false;
    const timer = setTimeout(() => finish(), timeoutMs);
    const finish = (): void => {
      clearTimeout(timer);
      socket.destroy();
      const text = data.toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      if (split < 0) return reject(new Error(`no complete head: ${JSON.stringify(text)}`));
      const [statusLine, ...lines] = text.slice(0, split).split('\r\n');
      const headers = lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()] as [string, string]);
      let body = text.slice(split + 4);
      if (headers.some(([n, v]) => n === 'transfer-encoding' && v === 'chunked')) {
        let out = '';
        for (;;) {
          const eol = body.indexOf('\r\n');
          const size = parseInt(body.slice(0, eol), 16);
          if (!(size > 0)) break;
          out += body.slice(eol + 2, eol + 2 + size);
          body = body.slice(eol + 2 + size + 2);
        }
        body = out;
      }
      resolve({ statusLine: statusLine!, headers, body, closed });
    };
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const text = data.toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      if (split < 0) return;
      const head = text.slice(0, split).toLowerCase();
      const length = /\r\ncontent-length: *(\d+)/.exec(head);
      const noBody = request.startsWith('HEAD ') || / 204 | 304 /.test(head.split('\r\n')[0]!);
      if (noBody || (length !== null && data.length >= split + 4 + Number(length[1]))) finish();
      else if (/\r\ntransfer-encoding: *chunked/.test(head) && text.endsWith('0\r\n\r\n')) finish();
    });
    socket.on('end', () => {
      closed = true;
      finish();
    });
    socket.on('error', reject);
    socket.write(request);
  });
}

const get = (port: number, path: string, method = 'GET'): Promise<Raw> => raw(port, `${method} ${path} HTTP/1.1\r\nHost: t\r\n\r\n`);
const field = (r: Raw, name: string): string[] => r.headers.filter(([n]) => n === name).map(([, v]) => v);

describe.each(['tsgi', 'node'] as const)('the fetch runner on --http %s', (engine) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startTsgi({ args: ['--http', engine, 'test/fixtures/apps/fetch-runner.js:app'] });
  });
  afterAll(() => server.stop());

  it('sends string, bytes, Blob and form bodies with a Content-Length and the default content types', async () => {
    const text = await get(server.port, '/text');
    expect(text.statusLine).toBe('HTTP/1.1 200 OK');
    expect(field(text, 'content-length')).toEqual(['5']);
    expect(field(text, 'transfer-encoding')).toEqual([]);
    expect(field(text, 'content-type')).toEqual(['text/plain;charset=UTF-8']);
    expect(text.body).toBe('hello');

    const json = await get(server.port, '/json');
    expect(field(json, 'content-type')).toEqual(['application/json']);
    expect(json.body).toBe('{"ok":true}');

    const bytes = await get(server.port, '/bytes');
    expect(bytes.statusLine).toBe('HTTP/1.1 202 Taken');
    expect(field(bytes, 'content-length')).toEqual(['2']);
    expect(field(bytes, 'x-pair')).toEqual(['a', 'b']);
    expect(bytes.body).toBe('hi');

    const blob = await get(server.port, '/blob');
    expect(field(blob, 'content-length')).toEqual(['9']);
    expect(field(blob, 'content-type')).toEqual(['text/x-blob']);
    expect(blob.body).toBe('blob body');

    const form = await get(server.port, '/form');
    expect(field(form, 'content-type')).toEqual(['application/x-www-form-urlencoded;charset=UTF-8']);
    expect(form.body).toBe('a=1&b=2');
  });

  it('streams a ReadableStream body chunked; a genuine Response and Response.json() go out too', async () => {
    const stream = await get(server.port, '/stream');
    expect(field(stream, 'transfer-encoding')).toEqual(['chunked']);
    expect(stream.body).toBe('one,two');
    const genuine = await get(server.port, '/genuine');
    expect(genuine.body).toBe('from the platform');
    const json = await get(server.port, '/static-json');
    expect(json.statusLine).toBe('HTTP/1.1 201 Created');
    expect(field(json, 'content-type')).toEqual(['application/json']);
    expect(json.body).toBe('{"static":true}');
  });

  it('keeps each Set-Cookie, sends headers changed after the Response was made, joins names repeated in another case', async () => {
    const cookies = await get(server.port, '/cookies');
    expect(field(cookies, 'set-cookie')).toEqual(['a=1; Path=/', 'b=2; HttpOnly']);
    const mutated = await get(server.port, '/mutated');
    expect(field(mutated, 'x-before')).toEqual(['1']);
    expect(field(mutated, 'x-after')).toEqual(['2']);
    expect(mutated.body).toBe('mutated');
    const dup = await get(server.port, '/duplicate-case');
    expect(field(dup, 'x-dup')).toEqual(['a, b']);
    const read = await get(server.port, '/read-body');
    expect(read.body).toBe('read and cloned');
    expect(field(read, 'x-instance')).toEqual(['true']);
  });

  it('never sends more than a declared Content-Length, and closes after a short body', async () => {
    const long = await get(server.port, '/long');
    expect(field(long, 'content-length')).toEqual(['3']);
    expect(long.body).toBe('abc');
    const short = await raw(server.port, 'GET /short HTTP/1.1\r\nHost: t\r\n\r\n', 3000);
    expect(field(short, 'content-length')).toEqual(['10']);
    expect(short.body).toBe('abc');
    expect(short.closed).toBe(true);
  });

  it('answers 500 for a field it cannot send, a value that is no Response, and a throw', async () => {
    for (const path of ['/bad-header', '/not-a-response', '/throws']) {
      const r = await get(server.port, path);
      expect(r.statusLine, path).toBe('HTTP/1.1 500 Internal Server Error');
      expect(r.body).toBe('Internal Server Error\n');
    }
    expect(server.output()).toContain('the fetch handler returned an object (Object), not a Response');
  });

  it('sends no content for HEAD (with the length the GET would have) and 204', async () => {
    const head = await get(server.port, '/text', 'HEAD');
    expect(field(head, 'content-length')).toEqual(['5']);
    expect(head.body).toBe('');
    const empty = await get(server.port, '/empty');
    expect(empty.statusLine).toBe('HTTP/1.1 204 No Content');
    expect(field(empty, 'content-length')).toEqual([]);
  });

  it('gives the app a Request and Responses that are instances of the globals, and the body of a POST', async () => {
    const kinds = await get(server.port, '/kinds');
    expect(JSON.parse(kinds.body)).toEqual({ lightIsResponse: true, genuineIsResponse: true, requestIsRequest: true });
    const echo = await raw(server.port, 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nabcde');
    expect(echo.body).toBe('abcde');
    expect(field(echo, 'x-method')).toEqual(['POST']);
    expect(field(echo, 'x-env')).toEqual(['POST']);
  });
});
