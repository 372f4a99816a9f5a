/**
 * Everything a server sends back for some bytes, in a form two servers can be compared by: the
 * responses byte for byte (Date values and the server's own port masked), whatever follows them,
 * and whether the server closed the connection. The differential tests use it.
 */
import net from 'node:net';
import { parseResponses } from './raw.js';
import type { Delivery } from '../corpus/requests.js';

export interface Transcript {
  /** What came back, Date values and the server's port masked. */
  text: string;
  /** Complete responses in it. */
  responses: number;
  /** The server closed the connection. */
  closed: boolean;
}

export interface TranscriptOptions {
  /** Stop once this many responses arrived and nothing more came for `quietMs` (default: wait for the close). */
  responses?: number;
  quietMs?: number;
  timeoutMs?: number;
  /** Milliseconds between writes (default: a yield), long enough for the server to read each apart. */
  gapMs?: number;
}

/**
 * Sends `pieces` on a fresh connection, one write each (a yield between them, so the server reads
 * them apart as far as the scheduler allows), and collects the answer until the server closes, or
 * until the expected responses are in and the line is quiet, or the timeout.
 */
export function transcript(port: number, pieces: Buffer[], options: TranscriptOptions = {}): Promise<Transcript> {
  const quietMs = options.quietMs ?? 60;
  const timeoutMs = options.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let data = Buffer.alloc(0);
    let done = false;
    let quiet: NodeJS.Timeout | null = null;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (quiet !== null) clearTimeout(quiet);
      socket.destroy();
      resolve({ text: mask(data, port), responses: countResponses(data), closed });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    const settle = (): void => {
      if (options.responses === undefined || countResponses(data) < options.responses) return;
      if (quiet !== null) clearTimeout(quiet);
      // A response that said close is followed by the close itself: wait for it (bounded by the timeout).
      if (/\r\nConnection: close\r\n/i.test(lastHead(data))) return;
      quiet = setTimeout(() => finish(false), quietMs);
    };
    socket.on('connect', async () => {
      try {
        for (let i = 0; i < pieces.length && !socket.destroyed; i++) {
          socket.write(pieces[i]!);
          if (pieces.length > 1) await new Promise((r) => (options.gapMs === undefined ? setImmediate(r) : setTimeout(r, options.gapMs)));
        }
      } catch (err) {
        reject(err);
      }
      settle();
    });
    socket.on('data', (d) => {
      data = Buffer.concat([data, d]);
      settle();
    });
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
  });
}

/** The pieces of `raw` (latin1) for a delivery; `pipeline` makes the pipelined bytes of a case. */
export function piecesFor(raw: string, delivery: Delivery, pipeline: (raw: string) => string): Buffer[] {
  const bytes = Buffer.from(delivery === 'pipelined' || delivery === 'cut after each head' ? pipeline(raw) : raw, 'latin1');
  const pieces: Buffer[] = [];
  if (delivery === 'byte by byte') {
    for (let i = 0; i < bytes.length; i++) pieces.push(bytes.subarray(i, i + 1));
  } else if (delivery === 'cut after each head') {
    let from = 0;
    for (let end = bytes.indexOf('\r\n\r\n'); end !== -1; end = bytes.indexOf('\r\n\r\n', from)) {
      pieces.push(bytes.subarray(from, end + 4));
      from = end + 4;
    }
    if (from < bytes.length) pieces.push(bytes.subarray(from));
  } else {
    pieces.push(bytes);
  }
  return pieces;
}

/** How long to leave between the writes of a delivery. */
export function gapFor(delivery: Delivery): number | undefined {
  return delivery === 'cut after each head' ? 15 : undefined;
}

function countResponses(data: Buffer): number {
  try {
    return parseResponses(data, false).length;
  } catch {
    return 0;
  }
}

function lastHead(data: Buffer): string {
  const text = data.toString('latin1');
  const at = text.lastIndexOf('HTTP/1.');
  return at === -1 ? '' : text.slice(at, text.indexOf('\r\n\r\n', at) + 4);
}

/** Date values and the server's own port (in an echoed SERVER_PORT) are the only bytes allowed to differ. */
function mask(data: Buffer, port: number): string {
  const p = String(port);
  return data
    .toString('latin1')
    .replace(/\r\nDate: [^\r\n]*/g, '\r\nDate: *')
    .split(`"SERVER_PORT":"${p}"`)
    .join(`"SERVER_PORT":"${'*'.repeat(p.length)}"`);
}
