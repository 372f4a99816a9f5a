// Time from saving a file to the new code answering, with `tsgi --reload`, for examples/hello.ts
// and examples/hello.js. Each save rewrites the app with a new body; the clock stops at the first
// response carrying it. Run: node bench/reload.js [--saves N]
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import http from 'node:http';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin/tsgi.js');
const SAVES = Number(process.argv[process.argv.indexOf('--saves') + 1] || 10);

const get = (port) =>
  new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('error', () => resolve(''));
  });

function source(example, marker) {
  const text = readFileSync(join(ROOT, 'examples', example), 'utf8');
  return text.replace("'Hello, World!'", JSON.stringify(marker));
}

async function measure(example) {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-reload-bench-'));
  const file = example.endsWith('.ts') ? 'app.ts' : 'app.js';
  copyFileSync(join(ROOT, 'examples', example), join(dir, file));
  const proc = spawn(process.execPath, [BIN, '--reload', '--bind', '127.0.0.1:0', 'app:app'], { cwd: dir, env: { ...process.env, TSGI_LOG_FORMAT: 'json' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let out = '';
  proc.stderr.on('data', (d) => (out += d));
  try {
    const deadline = Date.now() + 15_000;
    while (!/Watching/.test(out) || !/Worker ready/.test(out)) {
      if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`tsgi did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const port = Number(/127\.0\.0\.1:(\d+)/.exec(out)[1]);
    const times = [];
    for (let i = 0; i < SAVES; i++) {
      await new Promise((r) => setTimeout(r, 300));
      const marker = `save ${i}`;
      const start = performance.now();
      writeFileSync(join(dir, file), source(example, marker));
      for (;;) {
        if ((await get(port)) === marker) break;
        if (performance.now() - start > 10_000) throw new Error(`save ${i} never answered:\n${out}`);
        await new Promise((r) => setTimeout(r, 2));
      }
      times.push(performance.now() - start);
    }
    return times;
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
console.log(`save → new code answering, ${SAVES} saves each, default --reload-delay 0.1 s (ms)`);
console.log('app                 median   p90    max');
for (const example of ['hello.ts', 'hello.js']) {
  const t = await measure(example);
  console.log(`examples/${example.padEnd(12)} ${pct(t, 50).toFixed(0).padStart(6)} ${pct(t, 90).toFixed(0).padStart(5)} ${Math.max(...t).toFixed(0).padStart(6)}`);
}
