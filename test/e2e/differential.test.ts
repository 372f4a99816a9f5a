/**
 * The same raw requests sent to both engines: the app must see the same environ, whichever
 * parser read the bytes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTsgi, stopAll, type RunningServer } from '../helpers/server.js';
import { rawRequest } from '../helpers/raw.js';
import { NODE_ENGINE_REFUSES, VALID } from '../corpus/requests.js';

afterAll(stopAll);

const EXTRA = [
  'GET /echo/%E2%82%AC/a%2Fb?q=%E2%82%AC&x HTTP/1.1\r\nHost: h\r\n\r\n',
  'GET /echo/%FF%FE HTTP/1.1\r\nHost: h\r\n\r\n',
  'GET http://example.com:8080/echo/abs?y=1 HTTP/1.1\r\nHost: ignored\r\n\r\n',
  'OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n',
  'POST /echo HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\na=1&b=2',
  'POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n',
  'GET /echo HTTP/1.0\r\n\r\n',
  'GET /echo HTTP/1.1\r\nHost: h\r\nX-Obs: caf\xe9\r\nX-Empty:\r\nX-Spaces:   padded   \r\n\r\n',
  'GET /echo HTTP/1.1\r\nHost: h\r\nAccept: a\r\nACCEPT: b\r\naccept: c\r\n\r\n',
];

function comparable(body: Buffer): Record<string, unknown> {
  const env = JSON.parse(body.toString());
  delete env.SERVER_PORT;
  return env;
}

describe('tsgi and node engines', () => {
  let tsgi: RunningServer;
  let node: RunningServer;

  beforeAll(async () => {
    [tsgi, node] = await Promise.all([
      startTsgi({ args: ['--http', 'tsgi', 'test/fixtures/apps/echo:app'] }),
      startTsgi({ args: ['--http', 'node', 'test/fixtures/apps/echo:app'] }),
    ]);
  });

  it('give the app the same environ for the same bytes', async () => {
    const cases = [...EXTRA, ...VALID.filter((c) => c.requests!.length === 1 && !NODE_ENGINE_REFUSES.has(c.name)).map((c) => c.raw)];
    let compared = 0;
    for (const raw of cases) {
      const [a, b] = await Promise.all([rawRequest(tsgi.port, raw, { responses: 1 }), rawRequest(node.port, raw, { responses: 1 })]);
      expect(a.responses[0]!.status, raw).toBe(b.responses[0]!.status);
      if (a.responses[0]!.status !== 200) continue;
      expect(comparable(a.responses[0]!.body), JSON.stringify(raw)).toEqual(comparable(b.responses[0]!.body));
      compared++;
    }
    expect(compared).toBeGreaterThanOrEqual(EXTRA.length);
  });
});
