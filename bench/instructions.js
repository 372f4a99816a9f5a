// Instructions per request on the tsgi engine's hot path, in process: a TsgiConnection driven by a
// fake socket (no syscalls, no load generator), so a run under callgrind counts tsgi's own work.
//
//   valgrind --tool=callgrind --callgrind-out-file=/dev/null node --single-threaded --predictable \
//     bench/instructions.js REQUESTS [PEER] [HEADERS]
//
// Run it with REQUESTS = 0 and with REQUESTS = N and divide the difference by N: what is left is
// the cost of one request (parse, environ, app, response head), without start-up. N must be large
// (the default is 100,000): compiling the hot functions costs millions of instructions, which 20,000
// requests still show as a few thousand each. PEER is the
// client's address (default 203.0.113.9, a peer --forwarded-allow-ips does not trust; 127.0.0.1 is
// trusted by default); HEADERS `xff` adds X-Forwarded-For and X-Forwarded-Proto. `node
// bench/instructions.js --callgrind` runs the whole comparison and prints a table (REQUESTS, REPEAT).
import { EventEmitter } from 'node:events';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(import.meta.url);

class FakeSocket extends EventEmitter {
  constructor(remoteAddress) {
    super();
    this.remoteAddress = remoteAddress;
    this.remotePort = 40000;
    this.localAddress = '127.0.0.1';
    this.localPort = 8000;
    this.destroyed = false;
    this.writableNeedDrain = false;
    this.written = 0;
    this.responses = 0;
  }
  cork() {}
  uncork() {}
  write(chunk) {
    this.written += chunk.length;
    this.responses++;
    return true;
  }
  end() {}
  destroy() {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('close');
  }
  pause() {}
  resume() {}
  isPaused() {
    return false;
  }
  setNoDelay() {}
}

async function drive(requests, peer, headers) {
  const { TsgiConnection } = await import('../dist/engines/tsgi.js');
  const { EngineCore } = await import('../dist/engines/driver.js');
  const { makeEngineOptions } = await import('./lib/engine-options.js');
  const options = await makeEngineOptions();
  const core = new EngineCore(options);
  const socket = new FakeSocket(peer);
  const extra = headers === 'xff' ? 'X-Forwarded-For: 198.51.100.7\r\nX-Forwarded-Proto: https\r\n' : '';
  const request = Buffer.from(`GET / HTTP/1.1\r\nHost: localhost:8000\r\nUser-Agent: bench\r\nAccept: */*\r\n${extra}\r\n`, 'latin1');
  const conn = new TsgiConnection(core, socket, options.limits);
  for (let i = 0; i < requests; i++) {
    socket.emit('data', request);
    // The hello app answers synchronously; anything asynchronous settles here now and then.
    if ((i & 1023) === 1023) await new Promise((resolve) => setImmediate(resolve));
  }
  await new Promise((resolve) => setImmediate(resolve));
  if (requests > 0 && socket.responses < requests) throw new Error(`only ${socket.responses} of ${requests} requests were answered`);
  conn.destroy();
  core.destroyAll();
}

function callgrind(requests, peer, headers) {
  const r = spawnSync(
    'valgrind',
    ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, '--single-threaded', '--predictable', HERE, String(requests), peer, headers],
    { encoding: 'utf8', timeout: 600_000 },
  );
  const m = /Collected : (\d+)/.exec(r.stderr);
  if (m === null) throw new Error(`callgrind gave no count:\n${r.stderr.slice(-2000)}`);
  return Number(m[1]);
}

if (process.argv[2] === '--callgrind') {
  const n = Number(process.env.REQUESTS ?? 100000);
  // Runs differ by up to a few percent (what V8's heuristics do differs); the median of REPEAT is shown.
  const repeat = Number(process.env.REPEAT ?? 3);
  const cases = [
    ['untrusted peer', '203.0.113.9', 'plain'],
    ['trusted peer, no forwarding headers', '127.0.0.1', 'plain'],
    ['trusted peer, X-Forwarded-For and -Proto', '127.0.0.1', 'xff'],
  ];
  console.log(`instructions per request (callgrind, ${n} requests minus 0; median and range of ${repeat} runs)`);
  for (const [name, peer, headers] of cases) {
    const base = callgrind(0, peer, headers);
    const runs = [];
    for (let r = 0; r < repeat; r++) runs.push(Math.round((callgrind(n, peer, headers) - base) / n));
    runs.sort((a, b) => a - b);
    console.log(`${name.padEnd(44)} ${runs[runs.length >> 1]}  (${runs[0]} to ${runs.at(-1)})`);
  }
} else {
  await drive(Number(process.argv[2] ?? 1000), process.argv[3] ?? '203.0.113.9', process.argv[4] ?? 'plain');
}
