/**
 * Keeps the error codes, their registry and docs/errors.md in step: a code used in src/ must be
 * registered, and a registered code must be documented.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { ERROR_CODES } from '../../src/errors-registry.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const docs = readFileSync(join(root, 'docs/errors.md'), 'utf8');
const registered: string[] = ERROR_CODES.map((entry) => entry.code);
const CODE = /TSGI_ERR_[A-Z0-9_]*[A-Z0-9]/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

describe('error codes', () => {
  test('the registry lists each code once, each with a one-line meaning', () => {
    expect(new Set(registered).size).toBe(registered.length);
    for (const { code, meaning } of ERROR_CODES) {
      expect(code).toMatch(/^TSGI_ERR_[A-Z0-9_]*[A-Z0-9]$/);
      expect(meaning).toMatch(/^[A-Z].*\.$/);
      expect(meaning).not.toContain('\n');
    }
  });

  test('every code used in src/ is in src/errors-registry.ts', () => {
    const unregistered: string[] = [];
    for (const file of sourceFiles(join(root, 'src'))) {
      for (const code of readFileSync(file, 'utf8').match(CODE) ?? []) {
        if (!registered.includes(code)) unregistered.push(`${code} (${file.slice(root.length)})`);
      }
    }
    expect(unregistered, 'add these codes to src/errors-registry.ts and docs/errors.md').toEqual([]);
  });

  test('every registered code has a section in docs/errors.md, and docs/errors.md names no other code', () => {
    for (const code of registered) expect(docs, `document ${code} in docs/errors.md`).toContain(`### \`${code}\``);
    const documented = new Set(docs.match(CODE) ?? []);
    expect([...documented].filter((code) => !registered.includes(code))).toEqual([]);
  });

  test('the codes the loader and the config raise are registered', () => {
    for (const code of [
      'TSGI_ERR_CONFIG',
      'TSGI_ERR_APP_SPEC',
      'TSGI_ERR_APP_NOT_FOUND',
      'TSGI_ERR_APP_IMPORT',
      'TSGI_ERR_APP_ATTRIBUTE',
      'TSGI_ERR_APP_NOT_CALLABLE',
      'TSGI_ERR_APP_FACTORY',
    ]) {
      expect(registered).toContain(code);
    }
  });
});
