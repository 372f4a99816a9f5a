/**
 * The source tree is layered, lowest first; a file may import only from its own layer or a lower
 * one. This test reads every import in src/ and fails on one that points up, naming it.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** Path prefixes (relative to src/) and their layer. The first match wins. */
const LAYERS: [prefix: string, layer: number][] = [
  ['errors.ts', 0],
  ['errors-registry.ts', 0],
  ['version.ts', 0],
  ['log.ts', 0],
  ['http/', 1],
  ['gateway/', 2],
  ['config/', 3],
  ['loader/', 3],
  ['ipc/', 3],
  ['engines/', 4],
  ['worker/', 5],
  ['master/', 6],
  ['cli.ts', 7],
  ['index.ts', 7],
];

function layerOf(path: string): number {
  for (const [prefix, layer] of LAYERS) if (path === prefix || (prefix.endsWith('/') && path.startsWith(prefix))) return layer;
  return -1;
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...sources(full));
    else if (name.endsWith('.ts')) out.push(full);
  }
  return out;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'(\.{1,2}\/[^']+)'|import\(\s*'(\.{1,2}\/[^']+)'\s*\)/g;

const files = sources(SRC).map((full) => relative(SRC, full));

describe('layers', () => {
  it('places every source file in a layer', () => {
    expect(files.filter((f) => layerOf(f) === -1)).toEqual([]);
  });

  it('has no import from a lower layer to a higher one', () => {
    const upward: string[] = [];
    for (const file of files) {
      const text = readFileSync(join(SRC, file), 'utf8');
      for (const m of text.matchAll(IMPORT)) {
        const spec = (m[1] ?? m[2])!;
        const target = relative(SRC, resolve(SRC, dirname(file), spec)).replace(/\.js$/, '.ts');
        if (layerOf(target) > layerOf(file)) upward.push(`${file} (layer ${layerOf(file)}) imports ${target} (layer ${layerOf(target)})`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('catches an upward import (the check itself works)', () => {
    const text = "import { x } from '../worker/main.js';";
    const m = [...text.matchAll(IMPORT)][0]!;
    const target = relative(SRC, resolve(SRC, 'http', m[1]!)).replace(/\.js$/, '.ts');
    expect(layerOf(target)).toBeGreaterThan(layerOf('http/parser.ts'));
  });
});
