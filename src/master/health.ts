/**
 * --metrics-bind: the master's own HTTP port, answered by the master (not a worker), so a probe
 * gets an answer even when every worker is busy:
 *   /metrics  Prometheus text, every worker's counters added up (src/master/metrics.ts);
 *   /healthz  200 while the arbiter's loop goes round and at least one worker sends heartbeats
 *             (Kubernetes livenessProbe, Docker HEALTHCHECK);
 *   /readyz   200 while at least one worker accepts connections; 503 from the moment a stop is
 *             asked for, so endpoints stop sending traffic while requests in flight finish
 *             (Kubernetes readinessProbe).
 */
import http from 'node:http';
import { BindError } from './sockets.js';

export interface Verdict {
  ok: boolean;
  /** One line for the response body: why, when not ok. */
  why: string;
}

export interface HealthSource {
  liveness(): Verdict;
  readiness(): Verdict;
  metrics(): Promise<string>;
}

export class HealthServer {
  private readonly server: http.Server;

  constructor(private readonly source: HealthSource) {
    this.server = http.createServer((req, res) => void this.answer(req, res));
    // Probes and scrapers come back every few seconds; idle sockets need not linger.
    this.server.keepAliveTimeout = 5000;
  }

  /** Listens on HOST:PORT; resolves with the address it got (PORT 0 picks one). */
  listen(host: string, port: number, text: string): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(new BindError(`${text} (--metrics-bind)`, err.code === 'EADDRINUSE' ? 'address already in use (EADDRINUSE)' : err.message));
      };
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.removeListener('error', onError);
        const a = this.server.address() as { address: string; port: number };
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  close(): void {
    this.server.close();
    this.server.closeAllConnections();
  }

  private async answer(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.send(res, 405, 'only GET and HEAD are answered here\n', { Allow: 'GET, HEAD' });
    try {
      if (path === '/metrics') return this.send(res, 200, await this.source.metrics(), { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
      if (path === '/healthz' || path === '/livez') return this.verdict(res, this.source.liveness());
      if (path === '/readyz') return this.verdict(res, this.source.readiness());
      this.send(res, 404, 'not found: try /metrics, /healthz or /readyz\n');
    } catch (err) {
      this.send(res, 500, `${(err as Error).message}\n`);
    }
  }

  private verdict(res: http.ServerResponse, v: Verdict): void {
    this.send(res, v.ok ? 200 : 503, v.ok ? 'ok\n' : `${v.why}\n`);
  }

  private send(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body), ...headers });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }
}
