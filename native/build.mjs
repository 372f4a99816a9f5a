#!/usr/bin/env node
// Builds native/build/reaper.node, tsgi's orphan reaper for running as PID 1 (see reaper.c and
// docs/deploying.md). Needs a C compiler and Node's headers (node-gyp's, or the ones installed
// beside node, as in the official node images). Run by the Dockerfile's build stage and by
// `npm run build:native`; never by an install script, so installing tsgi runs no code.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'build', 'reaper.node');
const candidates = [
  process.env.NODE_INCLUDE_DIR,
  join(dirname(process.execPath), '..', 'include', 'node'),
  '/usr/include/node',
  '/usr/local/include/node',
].filter(Boolean);
const include = candidates.find((dir) => existsSync(join(dir, 'node_api.h')));
if (include === undefined) {
  console.error(`native/build.mjs: node_api.h not found in ${candidates.join(', ')}; set NODE_INCLUDE_DIR`);
  process.exit(1);
}
const cc = process.env.CC ?? 'cc';
mkdirSync(dirname(out), { recursive: true });
const args = ['-shared', '-fPIC', '-O2', '-Wall', '-Werror', '-I', include, join(here, 'reaper.c'), '-o', out];
const result = spawnSync(cc, args, { stdio: 'inherit' });
if (result.status !== 0) {
  console.error(`native/build.mjs: ${cc} ${args.join(' ')} failed`);
  process.exit(result.status ?? 1);
}
console.log(`native/build.mjs: built ${out}`);
