#!/usr/bin/env node
// The tsgi command. It runs the compiled dist/; in a source checkout where dist/ was never built
// (a fresh clone after `npm ci`), it builds it first with the TypeScript compiler from the dev
// dependencies. Installing the package runs no script: the published tarball carries dist/.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const dist = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(dist) && existsSync(new URL('../src/cli.ts', import.meta.url))) {
  let tsc = null;
  try {
    // The package's exports hide bin/; its package.json says where tsc is.
    const manifest = createRequire(import.meta.url).resolve('typescript/package.json');
    tsc = join(dirname(manifest), JSON.parse(readFileSync(manifest, 'utf8')).bin.tsc);
  } catch {
    // A production install (npm ci --omit=dev) of a source checkout: nothing to build with.
  }
  if (tsc === null) {
    process.stderr.write('tsgi: dist/ is not built and TypeScript is not installed: run `npm ci && npm run build` first\n');
    process.exit(1);
  }
  process.stderr.write('tsgi: building dist/ from src/ (first run in this checkout)\n');
  const tsconfig = fileURLToPath(new URL('../tsconfig.json', import.meta.url));
  const built = spawnSync(process.execPath, [tsc, '-p', tsconfig], { stdio: 'inherit' });
  if (built.status !== 0) process.exit(built.status ?? 1);
}
import('../dist/cli.js').then(
  (cli) => cli.main(process.argv.slice(2)),
  (err) => {
    process.stderr.write(`tsgi: cannot start: ${err && err.message ? err.message : err}\nRun \`npm run build\` if dist/ is missing.\n`);
    process.exit(1);
  },
);
