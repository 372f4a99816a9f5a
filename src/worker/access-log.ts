/**
 * --access-logfile: one line per finished request, built from the RequestRecord every request
 * ends with (refusals, timeouts and abandoned requests included).
 *
 * The line follows --access-logformat, Gunicorn's atoms (see ATOMS below); the default is the
 * Apache/Gunicorn "combined" format followed by the request time in seconds:
 *   REMOTE_ADDR - USER [day/Mon/year:hh:mm:ss +0000] "METHOD TARGET PROTOCOL" STATUS BYTES "Referer" "User-Agent" SECONDS
 * --access-log-json writes one JSON object per request instead.
 *
 * Writing: the first line of a turn of the event loop is written at once (synchronously); lines
 * that follow in the same turn are written together at the end of it (setImmediate), so a busy
 * worker makes one write per turn, not one per request; whatever is pending is written when the
 * process exits. A line is in the file (the kernel's page cache) as its request ends, at any
 * traffic: `tail -f` and `kubectl logs` see it at once, and a worker killed with SIGKILL or aborted
 * for a missed heartbeat loses at most the lines of the turn it was in.
 */
import { pino } from 'pino';
import type { RequestRecord } from '../engines/engine.js';
import { DEFAULT_ACCESS_LOG_FORMAT } from '../config/access-log-format.js';

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

/**
 * A client-controlled value made safe for a text log line, as Nginx does: `"`, `\`, control
 * characters and anything outside printable ASCII become \xHH, so no value can end the quoted
 * field, forge a line, or smuggle terminal escapes. An empty value is `-`.
 */
export function escapeValue(value: string | undefined): string {
  if (value === undefined || value === '') return '-';
  let plain = true;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) {
      plain = false;
      break;
    }
  }
  if (plain) return value;
  let out = '';
  for (const ch of value) {
    const c = ch.codePointAt(0)!;
    if (c >= 0x20 && c <= 0x7e && c !== 0x22 && c !== 0x5c) out += ch;
    else for (const byte of Buffer.from(ch, c <= 0xff ? 'latin1' : 'utf8')) out += `\\x${byte.toString(16).padStart(2, '0').toUpperCase()}`;
  }
  return out;
}

/** `Content-Type` → `HTTP_CONTENT_TYPE`, the environ key of a request header. */
function environKey(header: string): string {
  const key = header.toUpperCase().replace(/-/g, '_');
  return key === 'CONTENT_TYPE' || key === 'CONTENT_LENGTH' ? key : `HTTP_${key}`;
}

function requestHeader(record: RequestRecord, header: string): string | undefined {
  const environ = record.environ;
  if (environ === null) return undefined;
  const value = environ[environKey(header)];
  return typeof value === 'string' ? value : undefined;
}

function responseHeader(record: RequestRecord, header: string): string | undefined {
  const wanted = header.toLowerCase();
  let found: string | undefined;
  for (const [name, value] of record.responseHeaders) {
    if (name.toLowerCase() === wanted) found = found === undefined ? value : `${found}, ${value}`;
  }
  return found;
}

/** RFC 7617: the user-id of `Authorization: Basic base64(user-id ":" password)`. */
function basicUser(record: RequestRecord): string | undefined {
  const auth = requestHeader(record, 'authorization');
  if (auth === undefined || !/^basic /i.test(auth)) return undefined;
  const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? undefined : decoded.slice(0, colon);
}

function pathOf(record: RequestRecord): string {
  const path = record.environ?.PATH_INFO;
  if (typeof path === 'string') return `${record.environ?.SCRIPT_NAME ?? ''}${path}`;
  const q = record.target.indexOf('?');
  return q === -1 ? record.target : record.target.slice(0, q);
}

function queryOf(record: RequestRecord): string {
  const query = record.environ?.QUERY_STRING;
  if (typeof query === 'string') return query;
  const q = record.target.indexOf('?');
  return q === -1 ? '' : record.target.slice(q + 1);
}

type Atom = (record: RequestRecord, now: number) => string;

const micros = (record: RequestRecord): number => Math.round(record.durationMs * 1000);

/** Gunicorn's access log atoms (docs: settings, access_log_format). */
const ATOMS: Record<string, Atom> = {
  h: (r) => escapeValue(r.remoteAddr),
  l: () => '-',
  u: (r) => escapeValue(basicUser(r)),
  t: (_r, now) => timestamp(now),
  r: (r) => (r.method === '' ? '-' : escapeValue(`${r.method} ${r.target} ${r.protocol}`)),
  m: (r) => escapeValue(r.method),
  U: (r) => escapeValue(pathOf(r)),
  q: (r) => escapeValue(queryOf(r)),
  H: (r) => escapeValue(r.protocol),
  s: (r) => (r.status === 0 ? '-' : String(r.status)),
  B: (r) => String(r.bytesSent),
  b: (r) => (r.bytesSent === 0 ? '-' : String(r.bytesSent)),
  f: (r) => escapeValue(requestHeader(r, 'referer')),
  a: (r) => escapeValue(requestHeader(r, 'user-agent')),
  T: (r) => String(Math.floor(r.durationMs / 1000)),
  M: (r) => String(Math.floor(r.durationMs)),
  D: (r) => String(micros(r)),
  L: (r) => {
    const us = micros(r);
    return `${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, '0')}`;
  },
  p: () => `<${process.pid}>`,
};

/**
 * Compiles a format once into a list of pieces. `%(NAME)s` is an atom, `%({Header}i)s` a request
 * header, `%({Header}o)s` a response header, `%({NAME}e)s` an environment variable of the worker,
 * `%%` a percent sign; an unknown atom prints `-`, as in Gunicorn.
 */
export function compileFormat(format: string): (record: RequestRecord, now: number) => string {
  const pieces: (string | Atom)[] = [];
  const re = /%\((\{[^}]*\}[ioe]|[A-Za-z]+)\)[sd]|%%/g;
  let last = 0;
  for (const m of format.matchAll(re)) {
    if (m.index! > last) pieces.push(format.slice(last, m.index));
    last = m.index! + m[0].length;
    if (m[0] === '%%') {
      pieces.push('%');
      continue;
    }
    const name = m[1]!;
    if (name.startsWith('{')) {
      const key = name.slice(1, -2);
      const kind = name.at(-1);
      if (kind === 'i') pieces.push((r) => escapeValue(requestHeader(r, key)));
      else if (kind === 'o') pieces.push((r) => escapeValue(responseHeader(r, key)));
      else pieces.push(() => escapeValue(process.env[key]));
    } else {
      pieces.push(ATOMS[name] ?? (() => '-'));
    }
  }
  if (last < format.length) pieces.push(format.slice(last));
  return (record, now) => {
    let line = '';
    for (const piece of pieces) line += typeof piece === 'string' ? piece : piece(record, now);
    return line;
  };
}

/** --access-log-json: one object per request; JSON.stringify escapes whatever the client sent. */
export function jsonLine(record: RequestRecord, now: number): string {
  return JSON.stringify({
    time: new Date(now).toISOString(),
    remote_addr: record.remoteAddr,
    method: record.method,
    target: record.target,
    path: pathOf(record),
    query: queryOf(record),
    protocol: record.protocol,
    status: record.status,
    bytes_sent: record.bytesSent,
    bytes_received: record.bytesReceived,
    duration_ms: Math.round(record.durationMs * 1000) / 1000,
    referer: requestHeader(record, 'referer') ?? null,
    user_agent: requestHeader(record, 'user-agent') ?? null,
    user: basicUser(record) ?? null,
    outcome: record.outcome,
    pid: process.pid,
  });
}

export interface AccessLogOptions {
  /** A file path, or '-' for standard output. */
  path: string;
  /** --access-logformat; null for the default. */
  format: string | null;
  /** --access-log-json */
  json: boolean;
}

export class AccessLog {
  private readonly destination: ReturnType<typeof pino.destination>;
  private readonly line: (record: RequestRecord, now: number) => string;
  private pending = '';
  /** A line was written in this turn of the event loop; more wait for its end. */
  private inTurn = false;
  private readonly endTurn = (): void => {
    this.inTurn = false;
    this.flush();
  };

  constructor(private readonly options: AccessLogOptions) {
    const { path } = options;
    this.destination = pino.destination({ dest: path === '-' ? 1 : path, sync: true, minLength: 0, mkdir: true });
    this.line = options.json ? jsonLine : compileFormat(options.format ?? DEFAULT_ACCESS_LOG_FORMAT);
    process.on('exit', () => this.flush());
  }

  write(record: RequestRecord): void {
    const line = `${this.line(record, Date.now())}\n`;
    if (this.inTurn) {
      this.pending += line;
      return;
    }
    this.inTurn = true;
    setImmediate(this.endTurn);
    this.writeNow(line);
  }

  reopen(): void {
    this.flush();
    if (this.options.path !== '-') this.destination.reopen();
  }

  /** Writes what is pending now (synchronously). */
  flush(): void {
    if (this.pending === '') return;
    const text = this.pending;
    this.pending = '';
    this.writeNow(text);
  }

  private writeNow(text: string): void {
    try {
      this.destination.write(text);
    } catch (err) {
      process.stderr.write(`tsgi: could not write the access log ${this.options.path}: ${(err as Error).message}\n`);
    }
  }
}
