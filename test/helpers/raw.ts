/**
 * Raw HTTP over a socket: send exact bytes, collect exact bytes, and split the answer into
 * responses. Tests use this where a real client would hide what the server really sent.
 */
import net from 'node:net';

export interface RawOptions {
  /** Resolve once this many complete responses arrived (default: wait for the server to close). */
  responses?: number;
  timeoutMs?: number;
  /** Half-close after sending (the request is all there is). */
  end?: boolean;
  host?: string;
  socketPath?: string;
}

export interface ParsedResponse {
  status: number;
  reason: string;
  headers: [string, string][];
  body: Buffer;
  header(name: string): string | undefined;
}

export interface RawResult {
  data: Buffer;
  responses: ParsedResponse[];
  /** True when the server closed the connection (as opposed to us stopping after N responses). */
  closed: boolean;
}

/** Sends `payload` (a latin1 string or bytes) and collects what comes back. */
export function rawRequest(port: number, payload: string | Buffer | (string | Buffer)[], options: RawOptions = {}): Promise<RawResult> {
  const timeoutMs = options.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    const socket = options.socketPath !== undefined ? net.connect(options.socketPath) : net.connect(port, options.host ?? '127.0.0.1');
    let data = Buffer.alloc(0);
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ data, responses: parseResponses(data, true), closed });
    };
    const timer = setTimeout(() => {
      if (options.responses !== undefined) reject(new Error(`timed out; received:\n${data.toString('latin1')}`));
      else finish(false);
    }, timeoutMs);
    socket.on('connect', () => {
      const parts = Array.isArray(payload) ? payload : [payload];
      for (const p of parts) socket.write(typeof p === 'string' ? Buffer.from(p, 'latin1') : p);
      if (options.end === true) socket.end();
    });
    socket.on('data', (d) => {
      data = Buffer.concat([data, d]);
      if (options.responses !== undefined && parseResponses(data, false).length >= options.responses) finish(false);
    });
    socket.on('error', (err) => {
      if ((err as NodeJS.ErrnoException).code === 'ECONNRESET') finish(true);
      else if (!done) {
        done = true;
        clearTimeout(timer);
        reject(err);
      }
    });
    socket.on('close', () => finish(true));
  });
}

/**
 * Splits a byte stream into final HTTP/1.1 responses (Content-Length, chunked, or to the end
 * when `toEnd`), skipping interim 1xx ones. Only complete responses are returned.
 */
export function parseResponses(data: Buffer, toEnd: boolean): ParsedResponse[] {
  const out: ParsedResponse[] = [];
  let pos = 0;
  for (;;) {
    const headEnd = data.indexOf('\r\n\r\n', pos);
    if (headEnd === -1) break;
    const lines = data.toString('latin1', pos, headEnd).split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0]!);
    if (m === null) throw new Error(`not a status line: ${JSON.stringify(lines[0])}`);
    const status = Number(m[1]);
    const headers: [string, string][] = lines.slice(1).map((l) => {
      const c = l.indexOf(':');
      return [l.slice(0, c), l.slice(c + 1).trim()];
    });
    const get = (name: string): string | undefined => headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
    let bodyStart = headEnd + 4;
    let body: Buffer;
    if (status < 200) {
      // Interim responses (100 Continue) are not answers; tests that care read the raw bytes.
      pos = bodyStart;
      continue;
    }
    const te = get('transfer-encoding');
    const cl = get('content-length');
    if (te !== undefined && /chunked/i.test(te)) {
      const parts: Buffer[] = [];
      let p = bodyStart;
      let complete = false;
      for (;;) {
        const lineEnd = data.indexOf('\r\n', p);
        if (lineEnd === -1) break;
        const size = parseInt(data.toString('latin1', p, lineEnd), 16);
        if (size === 0) {
          const end = data.indexOf('\r\n\r\n', lineEnd);
          if (end === -1 && data.indexOf('\r\n', lineEnd + 2) !== lineEnd + 2) break;
          p = end === -1 ? lineEnd + 4 : end + 4;
          complete = true;
          break;
        }
        if (lineEnd + 2 + size + 2 > data.length) break;
        parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
        p = lineEnd + 2 + size + 2;
      }
      if (!complete) break;
      body = Buffer.concat(parts);
      pos = p;
    } else if (cl !== undefined) {
      const n = Number(cl);
      if (bodyStart + n > data.length) break;
      body = data.subarray(bodyStart, bodyStart + n);
      pos = bodyStart + n;
    } else if (status === 204 || status === 304) {
      body = Buffer.alloc(0);
      pos = bodyStart;
    } else {
      if (!toEnd) break;
      body = data.subarray(bodyStart);
      pos = data.length;
    }
    out.push({ status, reason: m[2]!, headers, body, header: get });
    bodyStart = pos;
  }
  return out;
}

/** A raw connection a test drives step by step: write, wait for bytes, close. */
export interface RawConnection {
  socket: net.Socket;
  /** Everything received so far. */
  data(): Buffer;
  write(payload: string | Buffer): void;
  /** Resolves once what was received satisfies `check` (bounded). */
  until(check: (received: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Resolves when the server has closed the connection (bounded); true if it did. */
  closed(timeoutMs?: number): Promise<boolean>;
  destroy(): void;
}

export function openRaw(port: number, host = '127.0.0.1'): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host);
    let data = Buffer.alloc(0);
    let isClosed = false;
    const waiters = new Set<() => void>();
    const notify = (): void => {
      for (const w of waiters) w();
    };
    socket.on('data', (d) => {
      data = Buffer.concat([data, d]);
      notify();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      isClosed = true;
      notify();
    });
    const wait = (done: () => boolean, what: () => string, timeoutMs: number): Promise<void> =>
      new Promise((res, rej) => {
        if (done()) return res();
        const timer = setTimeout(() => {
          waiters.delete(check);
          rej(new Error(`timed out after ${timeoutMs} ms waiting for ${what()}; received:\n${data.toString('latin1')}`));
        }, timeoutMs);
        const check = (): void => {
          if (!done()) return;
          clearTimeout(timer);
          waiters.delete(check);
          res();
        };
        waiters.add(check);
      });
    socket.once('connect', () =>
      resolve({
        socket,
        data: () => data,
        write: (payload) => void socket.write(typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload),
        async until(check, timeoutMs = 5000) {
          await wait(() => check(data.toString('latin1')), () => String(check), timeoutMs);
          return data.toString('latin1');
        },
        async closed(timeoutMs = 5000) {
          try {
            await wait(() => isClosed, () => 'the server to close', timeoutMs);
            return true;
          } catch {
            return false;
          }
        },
        destroy: () => socket.destroy(),
      }),
    );
    socket.once('error', reject);
  });
}
