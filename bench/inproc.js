// The request path in one process, without the kernel: a TsgiConnection driven by a fake socket,
// one keep-alive request after another, for the CPU per request of the driver and the app alone
// (no syscalls, no load generator). For comparing changes to the shared path, and profiling it:
//
//   npx tsc -p tsconfig.json && node bench/inproc.js examples/hello.js:app
//   N=200000 node --cpu-prof bench/inproc.js bench/apps/hono.js:app
//
//   ADAPTER=1 ...            a fetch or node app through its TSGI adapter (tsgi/fetch, tsgi/node), as before the runners
//   GENUINE_RESPONSE=1 ...   the fetch runner with the platform's Response (no LightResponse)
//
// Prints microseconds of CPU per request (user+system, process.cpuUsage) over N requests after a
// warm-up of N/4.
import { EventEmitter } from 'node:events';
import { loadApp } from '../dist/loader/load-app.js';
import { EngineCore } from '../dist/engines/driver.js';
import { TsgiConnection } from '../dist/engines/tsgi.js';
import { createLogger } from '../dist/log.js';

const spec = process.argv[2] ?? 'examples/hello.js:app';
const N = Number(process.env.N ?? 100_000);
const REQUEST = Buffer.from(process.env.REQUEST ?? 'GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n', 'latin1');

class FakeSocket extends EventEmitter {
  remoteAddress = '127.0.0.1';
  remotePort = 40000;
  localAddress = '127.0.0.1';
  localPort = 8000;
  writableNeedDrain = false;
  destroyed = false;
  writable = true;
  bytes = 0;
  onWrite = null;
  write(data) {
    this.bytes += data.length;
    const done = this.onWrite;
    if (done !== null) {
      this.onWrite = null;
      done();
    }
    return true;
  }
  cork() {}
  uncork() {}
  pause() {}
  resume() {}
  isPaused() {
    return false;
  }
  setNoDelay() {}
  end() {}
  destroy() {
    this.destroyed = true;
  }
}

const log = createLogger({ level: 'error' });
const loaded = await loadApp(spec, process.cwd());
// A build from before the runners existed serves every app as TSGI.
const runners = await import('../dist/engines/runners.js').catch(() => null);
const runner = runners === null || process.env.ADAPTER === '1' ? null : runners.createRunner(loaded, log);
if (process.env.GENUINE_RESPONSE === '1') globalThis.Response = (await import('../dist/gateway/interfaces/light-response.js')).GenuineResponse;
const core = new EngineCore({
  app: loaded.app,
  log,
  server: { scriptName: '', multiprocess: true, errors: { write() {}, flush() {} } },
  limits: { maxRequestLine: 8190, maxHeaderCount: 100, maxHeaderFieldSize: 8190 },
  keepalive: 5,
  backlog: 511,
  ...(runner !== null ? { runner } : {}),
  onRequestDone: () => {},
});
const socket = new FakeSocket();
new TsgiConnection(core, socket, { maxRequestLine: 8190, maxHeaderCount: 100, maxHeaderFieldSize: 8190 });

function one() {
  return new Promise((resolve) => {
    socket.onWrite = resolve;
    socket.emit('data', REQUEST);
  });
}

async function run(n) {
  for (let i = 0; i < n; i++) await one();
}

await run(N / 4);
const before = process.cpuUsage();
const t0 = performance.now();
await run(N);
const cpu = process.cpuUsage(before);
const wall = performance.now() - t0;
const how = runner === null ? (loaded.interface === 'tsgi' ? '' : ', through the TSGI adapter') : process.env.GENUINE_RESPONSE === '1' ? ', runner, genuine Response' : ', runner';
console.log(`${spec} (${loaded.interface}${how}): ${((cpu.user + cpu.system) / N).toFixed(2)} us CPU per request, ${((wall * 1000) / N).toFixed(2)} us wall, ${Math.round(socket.bytes / (N * 1.25))} bytes per response`);
process.exit(0);
