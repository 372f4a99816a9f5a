/**
 * `--proxy-protocol` end to end on both engines, behind a real HAProxy (Debian's package) in TCP
 * mode with `send-proxy` (v1) and `send-proxy-v2`, over TCP4 and (where the machine has IPv6
 * loopback) TCP6: the app sees the client HAProxy relays. Without HAProxy, raw headers check what
 * HAProxy does not send: LOCAL and UNKNOWN keep the connection's own address; a connection from an
 * allowed peer without a header, or with a malformed one, is closed and logged once per burst; a
 * PROXY header from a peer not in --proxy-allow-from is refused while that peer's plain HTTP is
 * served; a header trickled past --header-timeout is cut.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { startTsgi, stopAll, type RunningServer } from '../helpers/server.js';
import { freePort, startHaproxy, stopAllProxies } from '../helpers/haproxy.js';
import type { ProxyProcess } from '../helpers/proxy-process.js';
import { openRaw, rawRequest } from '../helpers/raw.js';
import { count, sleep, until } from '../helpers/wait.js';

const ENGINES = ['tsgi', 'node'] as const;
const APP = 'test/fixtures/apps/edge.js:app';

afterAll(async () => {
  await stopAllProxies();
  await stopAll();
});

/** Whether this machine can listen on the IPv6 loopback. */
function hasIPv6(): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(0, '::1', () => server.close(() => resolve(true)));
  });
}

/** GET through `port` from a chosen local address, on one keep-alive connection `times` times. */
async function getFrom(port: number, host: string, localAddress: string, times = 1, headers: Record<string, string> = {}): Promise<{ local: number; seen: Record<string, unknown>[] }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const seen: Record<string, unknown>[] = [];
  let local = 0;
  try {
    for (let i = 0; i < times; i++) {
      seen.push(
        await new Promise<Record<string, unknown>>((resolve, reject) => {
          const req = http.get({ host, port, path: '/env', localAddress, agent, headers, timeout: 10_000 }, (res) => {
            local = res.socket.localPort!;
            let body = '';
            res.on('data', (d: Buffer) => (body += d.toString()));
            res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body) as Record<string, unknown>) : reject(new Error(`status ${res.statusCode}: ${body}`))));
          });
          req.on('timeout', () => req.destroy(new Error('timeout')));
          req.on('error', reject);
        }),
      );
    }
  } finally {
    agent.destroy();
  }
  return { local, seen };
}

const HTTP_REQUEST = 'GET /env HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n';
/** §2.2: the v2 signature, then version 2 / LOCAL, AF_UNSPEC, no address block. */
const V2_LOCAL = Buffer.concat([Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]), Buffer.from([0x20, 0x00, 0x00, 0x00])]);

describe.each(ENGINES)('engine %s', (engine) => {
  let tsgi: RunningServer;
  let strict: RunningServer;
  let haproxy: ProxyProcess;
  let v1Port = 0;
  let v2Port = 0;
  let v6Port = 0;
  let ipv6 = false;

  beforeAll(async () => {
    ipv6 = await hasIPv6();
    [tsgi, strict] = await Promise.all([
      // The relayed client (127.0.0.2) is not a trusted proxy: its own X-Forwarded-For stays a header.
      startTsgi({ args: ['--http', engine, '--proxy-protocol', 'auto', '--proxy-allow-from', '127.0.0.1,::1', '--forwarded-allow-ips', '127.0.0.1', '--header-timeout', '1', APP] }),
      startTsgi({ args: ['--http', engine, '--proxy-protocol', 'v2', '--proxy-allow-from', '10.0.0.1', APP] }),
    ]);
    [v1Port, v2Port, v6Port] = await Promise.all([freePort(), freePort(), freePort()]);
    const config = `global
  maxconn 256
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend v1
  bind 127.0.0.1:${v1Port}
  default_backend v1
frontend v2
  bind 127.0.0.1:${v2Port}
${ipv6 ? `  bind [::1]:${v6Port}\n` : ''}  default_backend v2
backend v1
  server tsgi 127.0.0.1:${tsgi.port} send-proxy
backend v2
  server tsgi 127.0.0.1:${tsgi.port} send-proxy-v2
`;
    haproxy = await startHaproxy(config, v2Port);
  }, 60_000);

  it('HAProxy send-proxy (v1), TCP4: the app sees the relayed client and its port, on every request of the connection', async () => {
    const { local, seen } = await getFrom(v1Port, '127.0.0.1', '127.0.0.2', 2, { 'X-Forwarded-For': '6.6.6.6' });
    for (const s of seen) expect(s).toMatchObject({ remoteAddr: '127.0.0.2', remotePort: String(local), forwardedFor: '6.6.6.6' });
  });

  it('HAProxy send-proxy-v2, TCP4: the same through the binary header', async () => {
    const { local, seen } = await getFrom(v2Port, '127.0.0.1', '127.0.0.3', 2);
    for (const s of seen) expect(s).toMatchObject({ remoteAddr: '127.0.0.3', remotePort: String(local) });
  });

  it('HAProxy send-proxy-v2, TCP6: an IPv6 client', async (context) => {
    if (!ipv6) return context.skip();
    const { local, seen } = await getFrom(v6Port, '::1', '::1');
    expect(seen[0]).toMatchObject({ remoteAddr: '::1', remotePort: String(local) });
  });

  it('a v1 header split across packets, with pipelined requests right behind it, answered in order', async () => {
    const conn = await openRaw(tsgi.port);
    conn.write('PROXY TCP4 198.51.100.');
    await sleep(50);
    conn.write(`7 10.0.0.1 4711 443\r\nGET /first HTTP/1.1\r\nHost: h\r\n\r\nGET /second HTTP/1.1\r\nHost: h\r\n\r\n`);
    await sleep(50);
    conn.write(HTTP_REQUEST.replace('/env', '/third'));
    expect(await conn.closed(5000)).toBe(true);
    const paths = [...conn.data().toString().matchAll(/"path":"([^"]+)","remoteAddr":"198\.51\.100\.7","remotePort":"4711"/g)].map((m) => m[1]);
    expect(paths).toEqual(['/first', '/second', '/third']);
  });

  it('LOCAL (v2) and UNKNOWN (v1) keep the connection’s own address', async () => {
    const local = await rawRequest(tsgi.port, [V2_LOCAL, HTTP_REQUEST], { responses: 1 });
    expect(local.responses[0]!.body.toString()).toContain('"remoteAddr":"127.0.0.1"');
    const unknown = await rawRequest(tsgi.port, `PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n${HTTP_REQUEST}`, { responses: 1 });
    expect(unknown.responses[0]!.body.toString()).toContain('"remoteAddr":"127.0.0.1"');
  });

  it('closes, without an answer, connections from an allowed peer that send no header, and logs a burst once', async () => {
    const before = count(tsgi, /does not start with a PROXY protocol header/);
    const results = await Promise.all(Array.from({ length: 5 }, () => rawRequest(tsgi.port, HTTP_REQUEST, { timeoutMs: 5000 })));
    for (const r of results) expect(r).toMatchObject({ closed: true, data: Buffer.alloc(0) });
    await until(() => count(tsgi, /does not start with a PROXY protocol header/) > before, 'the log line', { server: tsgi });
    const lines = count(tsgi, /does not start with a PROXY protocol header/) - before;
    // One line for the burst (two if it straddled a second), with how many it covers.
    expect(lines).toBeLessThanOrEqual(2);
    expect(tsgi.output()).toMatch(/TSGI_ERR_PROXY_PROTOCOL/);
  });

  it('closes a connection with a malformed header and says what is wrong with it', async () => {
    await sleep(1100); // past the burst above, so this one is logged at once
    const r = await rawRequest(tsgi.port, `PROXY TCP4 192.0.2.1 192.0.2.2 080 443\r\n${HTTP_REQUEST}`, { timeoutMs: 5000 });
    expect(r).toMatchObject({ closed: true, data: Buffer.alloc(0) });
    await until(() => /source port that is not 0 to 65535 without leading zeros/.test(tsgi.output()), 'the log line', { server: tsgi });
  });

  it('cuts a header trickled past --header-timeout (counted from the accept)', async () => {
    const conn = await openRaw(tsgi.port);
    const started = Date.now();
    conn.write('PROX');
    expect(await conn.closed(5000)).toBe(true);
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(3000);
    expect(conn.data().length).toBe(0);
  });

  it('a TCP health check that connects and closes is not an error', async () => {
    const before = count(tsgi, /closed a connection from/);
    await new Promise<void>((resolve) => net.connect(tsgi.port, '127.0.0.1', function (this: net.Socket) {
      this.end();
      this.on('close', () => resolve());
    }));
    await sleep(300);
    expect(count(tsgi, /closed a connection from/)).toBe(before);
  });

  it('serves plain HTTP from a peer not in --proxy-allow-from, and refuses a PROXY header from it', async () => {
    const plain = await rawRequest(strict.port, HTTP_REQUEST, { responses: 1 });
    expect(plain.responses[0]!.status).toBe(200);
    const forged = await rawRequest(strict.port, `PROXY TCP4 203.0.113.1 192.0.2.2 1234 443\r\n${HTTP_REQUEST}`, { timeoutMs: 5000 });
    expect(forged).toMatchObject({ closed: true, data: Buffer.alloc(0) });
    const forgedV2 = await rawRequest(strict.port, [V2_LOCAL, HTTP_REQUEST], { timeoutMs: 5000 });
    expect(forgedV2).toMatchObject({ closed: true, data: Buffer.alloc(0) });
    await until(() => /TSGI_ERR_PROXY_PROTOCOL_PEER/.test(strict.output()), 'the refusal logged', { server: strict });
  });

  afterAll(async () => {
    await haproxy?.stop();
  });
});
