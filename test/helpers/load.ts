/**
 * A bounded load loop on loopback: `concurrency` clients send GET requests back to back until
 * stopped or `maxMs` has passed, and count what failed.
 *
 * Keep-alive clients follow RFC 9112 §9.3.1 and browsers: a request that fails on a *reused*
 * connection the server closed before sending any byte (the close raced the request) is retried
 * (at most three times, since the agent may hand out another connection closed the same way), and
 * counted in `retried`. Anything else is a failure.
 */
import http from 'node:http';
import https from 'node:https';

export interface LoadResult {
  ok: number;
  failed: number;
  retried: number;
  errors: string[];
  pids: Set<string>;
}

export interface LoadLoop {
  stop(): Promise<LoadResult>;
  readonly result: LoadResult;
}

/** `ca`: speak https, trusting this CA (certificates for 127.0.0.1). */
export function startLoad(port: number, options: { concurrency?: number; keepAlive?: boolean; maxMs?: number; path?: string; ca?: Buffer } = {}): LoadLoop {
  const concurrency = options.concurrency ?? 8;
  const keepAlive = options.keepAlive ?? true;
  const deadline = Date.now() + (options.maxMs ?? 30_000);
  const client = options.ca === undefined ? http : https;
  const agent = options.ca === undefined ? new http.Agent({ keepAlive, maxSockets: concurrency }) : new https.Agent({ keepAlive, maxSockets: concurrency, ca: options.ca });
  const result: LoadResult = { ok: 0, failed: 0, retried: 0, errors: [], pids: new Set() };
  let running = true;

  const once = (): Promise<void> =>
    new Promise((resolve) => {
      const attempt = (retries: number): void => {
        const req = client.get({ host: '127.0.0.1', port, path: options.path ?? '/', agent, headers: keepAlive ? {} : { connection: 'close' }, timeout: 10_000 }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d) => (body += d));
          res.on('end', () => {
            if (res.statusCode === 200) {
              result.ok++;
              result.pids.add(body.split(' ')[1] ?? body);
            } else {
              result.failed++;
              result.errors.push(`status ${res.statusCode}`);
            }
            resolve();
          });
          res.on('error', (err) => {
            result.failed++;
            result.errors.push(err.message);
            resolve();
          });
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', (err: NodeJS.ErrnoException) => {
          if (retries < 3 && req.reusedSocket && (err.code === 'ECONNRESET' || err.message === 'socket hang up')) {
            result.retried++;
            attempt(retries + 1);
            return;
          }
          result.failed++;
          result.errors.push(err.code ?? err.message);
          resolve();
        });
      };
      attempt(0);
    });

  const loop = async (): Promise<void> => {
    while (running && Date.now() < deadline) await once();
  };
  const clients = Array.from({ length: concurrency }, loop);
  return {
    result,
    async stop() {
      running = false;
      await Promise.all(clients);
      agent.destroy();
      return result;
    },
  };
}
