/**
 * tsgi/testing with TSGI apps: the environ is the server's, apps run under tsgi/validate, app errors
 * raise (or answer 500), bodies of every kind arrive through tsgi.input, cookies persist.
 */
import { describe, expect, it } from 'vitest';
import { testClient } from '../../src/gateway/interfaces/testing.js';
import type { App } from '../../src/gateway/types.js';

const echo: App = async (environ, startResponse) => {
  const chunks: Uint8Array[] = [];
  for await (const chunk of environ['tsgi.input']) chunks.push(chunk);
  startResponse('200 OK', [['Content-Type', 'application/json'], ['Set-Cookie', 'seen=yes; Path=/']]);
  const { 'tsgi.input': _i, 'tsgi.errors': _e, ...rest } = environ;
  return [JSON.stringify({ environ: rest, body: Buffer.concat(chunks).toString() })];
};

describe('testClient with a TSGI app', () => {
  it('gives the environ a real request gives', async () => {
    const client = testClient(echo);
    const res = await client.get('/caf%C3%A9?q=1', { headers: { 'X-Forwarded-For': '10.0.0.1' } });
    const { environ } = await res.json();
    expect(environ).toMatchObject({
      REQUEST_METHOD: 'GET',
      SCRIPT_NAME: '',
      PATH_INFO: '/café',
      QUERY_STRING: 'q=1',
      RAW_URI: '/caf%C3%A9?q=1',
      SERVER_NAME: 'localhost',
      SERVER_PORT: '80',
      SERVER_PROTOCOL: 'HTTP/1.1',
      REMOTE_ADDR: '127.0.0.1',
      HTTP_HOST: 'localhost',
      HTTP_X_FORWARDED_FOR: '10.0.0.1',
      'tsgi.url_scheme': 'http',
      'tsgi.multiprocess': false,
    });
    expect(res.environ.PATH_INFO).toBe('/café');
  });

  it('sends bodies: JSON, form fields, multipart, and a stream as chunked with trailers', async () => {
    const client = testClient(echo);
    const json = await (await client.post('/', undefined, { json: { a: 1 } })).json();
    expect([json.environ.CONTENT_TYPE, json.environ.CONTENT_LENGTH, json.body]).toEqual(['application/json', '7', '{"a":1}']);
    const form = await (await client.post('/', new URLSearchParams({ x: 'y z' }))).json();
    expect([form.environ.CONTENT_TYPE, form.body]).toEqual(['application/x-www-form-urlencoded;charset=UTF-8', 'x=y+z']);
    const data = new FormData();
    data.set('field', 'value');
    const multipart = await (await client.post('/', data)).json();
    expect(multipart.environ.CONTENT_TYPE).toMatch(/^multipart\/form-data; boundary=/);
    expect(multipart.body).toContain('name="field"\r\n\r\nvalue');
    const streamed = await (await client.put('/', (async function* () {
      yield 'a';
      yield 'b';
    })())).json();
    expect([streamed.environ.HTTP_TRANSFER_ENCODING, streamed.environ.CONTENT_LENGTH, streamed.body, streamed.environ['tsgi.trailers']]).toEqual(['chunked', '', 'ab', []]);
  });

  it('raises the error of an app that breaks the spec (tsgi/validate), or answers 500 when asked', async () => {
    const broken: App = (environ, startResponse) => {
      startResponse('200 OK', [['Connection', 'close']]);
      return ['x'];
    };
    await expect(testClient(broken).get('/')).rejects.toMatchObject({ code: 'TSGI_ERR_VALIDATION', rule: '§5.4' });
    const raising: App = () => {
      throw new Error('nope');
    };
    await expect(testClient(raising).get('/')).rejects.toThrow('nope');
    const lenient = testClient(raising, { raiseAppErrors: false, errors: { write() {}, flush() {} } });
    expect((await lenient.get('/')).status).toBe(500);
  });

  it('keeps cookies, sends no body for HEAD, and honours rootPath and baseUrl', async () => {
    const client = testClient(echo, { rootPath: '/api', baseUrl: 'https://example.com:8443' });
    const first = await client.get('/api/x');
    expect(client.cookies.get('seen')).toBe('yes');
    expect(first.environ).toMatchObject({ SCRIPT_NAME: '/api', PATH_INFO: '/x', 'tsgi.url_scheme': 'https', SERVER_PORT: '8443' });
    const second = await client.head('/api/y');
    expect(second.body).toBeNull();
    expect(second.environ.HTTP_COOKIE).toBe('seen=yes');
  });

  it('reads a streamed response as it is produced', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const app: App = (environ, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'text/plain']]);
      return (async function* () {
        yield 'first ';
        await gate;
        yield 'second';
      })();
    };
    const res = await testClient(app).get('/');
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('first ');
    release();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('second');
    expect((await reader.read()).done).toBe(true);
  });
});
