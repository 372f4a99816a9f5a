/**
 * --access-logfile: one line per finished request in the Apache/Gunicorn "combined" format,
 *   REMOTE_ADDR - - [day/Mon/year:hh:mm:ss +0000] "METHOD RAW_URI PROTOCOL" STATUS - "Referer" "User-Agent"
 * written asynchronously in batches so that logging costs little on the request path.
 */
import { pino } from 'pino';
import type { Environ } from '../gateway/types.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

let stampSecond = -1;
let stamp = '';

/** The timestamp changes once a second; it is formatted once a second. */
function timestamp(now: number): string {
  const second = Math.floor(now / 1000);
  if (second !== stampSecond) {
    const d = new Date(second * 1000);
    const p = (n: number): string => String(n).padStart(2, '0');
    stamp = `[${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000]`;
    stampSecond = second;
  }
  return stamp;
}

/** Quotes a client-controlled value so that it cannot forge a log line. */
function quoted(value: string | undefined): string {
  if (value === undefined || value === '') return '"-"';
  return JSON.stringify(value);
}

export function accessLine(environ: Environ, status: number, now: number): string {
  return `${environ.REMOTE_ADDR || '-'} - - ${timestamp(now)} ${quoted(`${environ.REQUEST_METHOD} ${environ.RAW_URI} ${environ.SERVER_PROTOCOL}`)} ${status} - ${quoted(environ.HTTP_REFERER)} ${quoted(environ.HTTP_USER_AGENT)}\n`;
}

export class AccessLog {
  private readonly destination: ReturnType<typeof pino.destination>;

  constructor(private readonly path: string) {
    this.destination = pino.destination({ dest: path === '-' ? 1 : path, sync: false, minLength: 4096, mkdir: true });
  }

  write(environ: Environ | null, status: number): void {
    if (environ !== null) this.destination.write(accessLine(environ, status, Date.now()));
  }

  reopen(): void {
    if (this.path !== '-') this.destination.reopen();
  }

  flush(): void {
    this.destination.flushSync();
  }
}
