// tsgi in production: an annotated configuration. `tsgi -c config/tsgi.config.mjs app:app`
// Every key is a setting from docs/settings.md; the command line and TSGI_* variables win over
// this file, and PORT / WEB_CONCURRENCY set the defaults of bind and workers.
import { availableParallelism } from 'node:os';

export default {
  // Behind a proxy on the same host, listen on loopback or a unix socket; in a container, on all
  // interfaces ($PORT, default 8000).
  bind: [`0.0.0.0:${process.env.PORT ?? 8000}`],

  // One worker per core: each worker is one event loop. WEB_CONCURRENCY, when set, wins.
  workers: Number(process.env.WEB_CONCURRENCY ?? availableParallelism()),

  // Longer than the proxy's idle timeout towards tsgi (Nginx's upstream keepalive_timeout 4 s,
  // an AWS ALB's 60 s), so the proxy closes idle connections first and no request races a close.
  keepalive: 5,

  // A worker whose event loop is blocked this long is killed and replaced.
  timeout: 30,
  // Requests may take this long; a 504 (or an aborted stream) after that.
  requestTimeout: 60,
  // TERM and HUP: how long in-flight requests may finish. Keep it under the orchestrator's own
  // limit (Kubernetes terminationGracePeriodSeconds, systemd TimeoutStopSec).
  gracefulTimeout: 30,

  // Recycle workers now and then, spread out, to contain slow leaks.
  maxRequests: 100_000,
  maxRequestsJitter: 10_000,
  maxWorkerMemory: 1024, // MiB

  // Logs: JSON lines on stderr (level names, ISO times) for the log collector; access log on stdout.
  logFormat: 'json',
  accessLog: '-',
  accessLogJson: true,

  // Prometheus metrics and health checks from the master, on their own port.
  metricsBind: '0.0.0.0:9191',

  whenReady(server) {
    server.log.info(`tsgi ready: ${server.workers} workers`);
  },
};
