// Bun.serve, run by the bun binary from the `bun` npm package: WORKERS processes each serving the
// same port with reusePort (Bun's way across cores; the kernel spreads the connections).
//
//   WORKERS=2 PORT=... HOST=127.0.0.1 node bench/baseline/bun-serve.js
// Bun cannot share an ephemeral port between processes, so with PORT=0 one is picked here first.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { log } from './cluster.js';

const WORKERS = Number(process.env.WORKERS ?? 2);
const HOST = process.env.HOST ?? '127.0.0.1';
const BUN = createRequire(import.meta.url).resolve('bun/bin/bun.exe');
const WORKER = fileURLToPath(new URL('./bun-worker.js', import.meta.url));

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, HOST, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const port = Number(process.env.PORT ?? 0) || (await freePort());
const children = [];
let stopping = false;
let announced = false;
for (let i = 0; i < WORKERS; i++) {
  const child = spawn(BUN, [WORKER], { env: { ...process.env, PORT: String(port), HOST }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  child.stdout.on('data', (d) => {
    if (!String(d).includes('listening')) return;
    if (!announced) {
      announced = true;
      log(`Listening at: http://${HOST}:${port} (${process.pid})`);
    }
    log(`Worker ready (pid: ${child.pid})`);
  });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      log(`Worker (pid: ${child.pid}) exited (${signal ?? code}); stopping`);
      stop();
    }
    if (children.every((c) => c.exitCode !== null || c.signalCode !== null)) process.exit();
  });
}

function stop() {
  stopping = true;
  for (const child of children) child.kill('SIGTERM');
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
