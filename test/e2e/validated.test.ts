/**
 * The example apps run through tsgi/validate on both engines: the validator checks the server's
 * side of the contract (environ, input, close()) as well as the app's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTsgi, stopAll, type RunningServer } from '../helpers/server.js';
import { rawRequest } from '../helpers/raw.js';

afterAll(stopAll);

const REQUESTS: [string, string, number][] = [
  ['hello', 'GET / HTTP/1.1\r\nHost: h\r\n\r\n', 200],
  ['hello', 'GET /?a=b HTTP/1.0\r\n\r\n', 200],
  ['hello', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc', 200],
  ['echo', 'POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello', 200],
  ['echo', 'POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\nX-T: 1\r\n\r\n', 200],
  ['echo', 'POST /read-sized HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n\r\n1234567', 200],
  ['echo', 'GET /stream?chunks=4 HTTP/1.1\r\nHost: h\r\n\r\n', 200],
  ['echo', 'GET /write HTTP/1.1\r\nHost: h\r\n\r\n', 200],
  ['echo', 'GET /exc-info HTTP/1.1\r\nHost: h\r\n\r\n', 503],
  ['echo', 'GET /close HTTP/1.1\r\nHost: h\r\n\r\n', 200],
  ['echo', 'GET /big?bytes=300000 HTTP/1.1\r\nHost: h\r\n\r\n', 200],
  ['echo', 'POST /ignore-body HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nskip', 200],
];

describe.each(['tsgi', 'node'] as const)('validated examples on the %s engine', (engine) => {
  const servers: Record<string, RunningServer> = {};

  beforeAll(async () => {
    servers.hello = await startTsgi({ args: ['--http', engine, 'test/fixtures/apps/validated:hello'] });
    servers.echo = await startTsgi({ args: ['--http', engine, 'test/fixtures/apps/validated:echo'] });
  });

  afterAll(async () => {
    await Promise.all(Object.values(servers).map((s) => s.stop()));
  });

  it('serves them without a single breach of the spec', async () => {
    for (const [which, raw, status] of REQUESTS) {
      const { responses } = await rawRequest(servers[which]!.port, raw, { responses: 1 });
      expect(responses[0]!.status, raw).toBe(status);
    }
    const head = await rawRequest(servers.hello!.port, 'HEAD / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
    expect(head.data.toString('latin1')).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    // close() has a deadline in the validator; give it time to report a miss.
    await new Promise((r) => setTimeout(r, 1200));
    for (const s of Object.values(servers)) {
      expect(s.output()).not.toMatch(/TSGI §|TSGI_ERR_VALIDATION/);
    }
  });

  it('is live: an app breach is caught and answered 500', async () => {
    const { responses } = await rawRequest(servers.echo!.port, 'GET /hop HTTP/1.1\r\nHost: h\r\n\r\n', { responses: 1 });
    expect(responses[0]!.status).toBe(500);
    await servers.echo!.waitFor(/TSGI §5\.4 broken by the app/);
  });
});
