/**
 * --statsd-host: the master pushes the totals to a StatsD server over UDP once a second, with
 * Gunicorn's metric names under `tsgi.` (gunicorn.requests → tsgi.requests, ...):
 *   tsgi.requests:N|c                 requests finished since the last push
 *   tsgi.request.status.CODE:N|c      the same, per status
 *   tsgi.request.duration:MS|ms|@R    request durations; each worker keeps a uniform sample of
 *                                     at most 512 a second, sent with their sample rate R
 *   tsgi.workers:N|g                  workers serving
 *   tsgi.backlog:N|g                  connections waiting to be accepted, all listeners
 * Lines go in datagrams of at most 1432 bytes (a 1500-byte MTU less IP and UDP headers).
 */
import dgram from 'node:dgram';
import { isIP } from 'node:net';
import type { Aggregate } from './metrics.js';

const MAX_DATAGRAM = 1432;

export class StatsdPusher {
  private readonly socket: dgram.Socket;
  private readonly prefix: string;
  private lastRequests = new Map<number, number>();
  private lastTotal = 0;

  constructor(
    private readonly host: string,
    private readonly port: number,
    prefix: string,
  ) {
    this.prefix = prefix === '' || prefix.endsWith('.') ? prefix : `${prefix}.`;
    this.socket = dgram.createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
    // A StatsD server that is down makes sends fail (ECONNREFUSED); metrics are best effort.
    this.socket.on('error', () => {});
    this.socket.unref();
  }

  /** The lines of one push: counters as the change since the last push. */
  lines(a: Aggregate, samples: { ms: number[]; of: number }, workers: number, backlog: number): string[] {
    const p = `${this.prefix}tsgi.`;
    const byStatus = new Map<number, number>();
    let total = 0;
    for (const [key, n] of a.requests) {
      const status = Number(key.slice(key.indexOf(',') + 1));
      byStatus.set(status, (byStatus.get(status) ?? 0) + n);
      total += n;
    }
    const out: string[] = [];
    if (total > this.lastTotal) out.push(`${p}requests:${total - this.lastTotal}|c`);
    for (const [status, n] of byStatus) {
      const delta = n - (this.lastRequests.get(status) ?? 0);
      if (delta > 0) out.push(`${p}request.status.${status}:${delta}|c`);
    }
    this.lastTotal = total;
    this.lastRequests = byStatus;
    const rate = samples.of > 0 ? samples.ms.length / samples.of : 1;
    const suffix = rate < 1 ? `|@${rate.toFixed(4)}` : '';
    for (const ms of samples.ms) out.push(`${p}request.duration:${ms.toFixed(3)}|ms${suffix}`);
    out.push(`${p}workers:${workers}|g`, `${p}backlog:${backlog}|g`);
    return out;
  }

  push(lines: string[]): void {
    let datagram = '';
    for (const line of lines) {
      if (datagram !== '' && datagram.length + 1 + line.length > MAX_DATAGRAM) {
        this.socket.send(datagram, this.port, this.host);
        datagram = '';
      }
      datagram = datagram === '' ? line : `${datagram}\n${line}`;
    }
    if (datagram !== '') this.socket.send(datagram, this.port, this.host);
  }

  close(): void {
    this.socket.close();
  }
}
