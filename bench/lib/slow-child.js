// The slow clients of bench/slow-clients.js, in a process of their own so that their event loop
// does not delay the normal client's: opens COUNT connections to 127.0.0.1:PORT and sends each one's
// request head one byte every TRICKLE_MS, never finishing it. Reports over IPC, when every
// connection has been closed by the server (or after MAX_MS), when each was cut and what it got.
import net from 'node:net';

const [port, count, trickleMs, maxMs] = process.argv.slice(2).map(Number);
const HEAD = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow\r\nX-Padding: ' + 'x'.repeat(4000);

const conns = [];
const started = performance.now();
let opened = 0;
let failed = 0;

function open(i) {
  const socket = net.connect(port, '127.0.0.1');
  const conn = { socket, openedAt: 0, closedAt: 0, sent: 0, got: '' };
  conns[i] = conn;
  socket.setNoDelay(true);
  socket.on('connect', () => {
    conn.openedAt = performance.now();
    opened++;
  });
  socket.on('data', (d) => {
    if (conn.got.length < 64) conn.got += d.toString('latin1');
  });
  socket.on('error', (err) => {
    if (conn.openedAt === 0) failed++;
    conn.error = err.code;
  });
  socket.on('close', () => {
    conn.closedAt = performance.now();
    check();
  });
}

// Open in batches, so the accept queue is not the thing measured.
let next = 0;
const opener = setInterval(() => {
  for (let k = 0; k < 250 && next < count; k++) open(next++);
  if (next >= count) clearInterval(opener);
}, 20);

// Every tick, one byte to a slice of the connections: each gets a byte every trickleMs.
const SLICES = 10;
let slice = 0;
const trickler = setInterval(() => {
  for (let i = slice; i < conns.length; i += SLICES) {
    const c = conns[i];
    if (c === undefined || c.openedAt === 0 || c.closedAt !== 0 || c.sent >= HEAD.length) continue;
    c.socket.write(HEAD[c.sent++]);
  }
  slice = (slice + 1) % SLICES;
}, trickleMs / SLICES);

const limit = setTimeout(finish, maxMs);

function check() {
  if (next >= count && conns.every((c) => c.closedAt !== 0)) finish();
}

function finish() {
  clearInterval(opener);
  clearInterval(trickler);
  clearTimeout(limit);
  const cut = conns.filter((c) => c.openedAt !== 0 && c.closedAt !== 0).map((c) => c.closedAt - c.openedAt);
  const report = {
    count,
    opened,
    failed,
    cut: cut.length,
    stillOpen: conns.filter((c) => c.closedAt === 0).length,
    got408: conns.filter((c) => c.got.startsWith('HTTP/1.1 408')).length,
    gotOther: conns.filter((c) => c.got !== '' && !c.got.startsWith('HTTP/1.1 408')).length,
    closedSilently: conns.filter((c) => c.closedAt !== 0 && c.got === '').length,
    bytesSentMedian: median(conns.map((c) => c.sent)),
    cutMs: cut.sort((a, b) => a - b),
    allOpenAt: performance.now() - started,
  };
  for (const c of conns) c?.socket.destroy();
  process.send(report, () => process.exit(0));
}

function median(values) {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  return sorted.length === 0 ? null : sorted[sorted.length >> 1];
}

process.send({ started: true });
