// Raw HTTP/1.1 exchanges with each server before any load: they prove the server answers 200
// with the expected body, and record the exact response bytes in each mode, since a server that
// sends fewer header bytes has less to write per request.
import net from 'node:net';

const PROBE_TIMEOUT_MS = 5000;

/** Sends one GET and resolves with the first complete response (framed by Content-Length). */
function exchange(url, { close }) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    let received = Buffer.alloc(0);
    const finish = (err, value) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    const timer = setTimeout(() => finish(new Error(`probe of ${url}: no complete response within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
    socket.on('connect', () => socket.write(`GET / HTTP/1.1\r\nHost: ${hostname}:${port}\r\n${close ? 'Connection: close\r\n' : ''}\r\n`));
    socket.on('error', (err) => finish(err));
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      const split = received.indexOf('\r\n\r\n');
      if (split < 0) return;
      const head = received.subarray(0, split).toString('latin1');
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? NaN);
      if (!Number.isFinite(length)) {
        finish(new Error(`probe of ${url}: response has no Content-Length: ${JSON.stringify(head)}`));
        return;
      }
      if (received.length < split + 4 + length) return;
      finish(null, { head, body: received.subarray(split + 4, split + 4 + length).toString('latin1'), bytes: split + 4 + length });
    });
  });
}

export async function probe(url, expectedBody) {
  const out = {};
  for (const close of [false, true]) {
    const { head, body, bytes } = await exchange(url, { close });
    const [statusLine, ...fields] = head.split('\r\n');
    if (!/^HTTP\/1\.1 200 /.test(statusLine) || body !== expectedBody) {
      throw new Error(`probe of ${url}: expected 200 with ${JSON.stringify(expectedBody)}, got ${JSON.stringify(`${head}\r\n\r\n${body}`.slice(0, 300))}`);
    }
    out[close ? 'close' : 'keepalive'] = { statusLine, headerNames: fields.map((f) => f.slice(0, f.indexOf(':'))), bytes };
  }
  return out;
}
