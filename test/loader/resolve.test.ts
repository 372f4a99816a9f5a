import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { AppNotFoundError } from '../../src/loader/errors.js';
import { MODULE_EXTENSIONS, resolveModulePath } from '../../src/loader/resolve.js';

const fixtures = fileURLToPath(new URL('../fixtures/loader/', import.meta.url));

describe('resolveModulePath', () => {
  test.each([
    ['esm-default', 'esm-default.mjs'],
    ['esm-default.mjs', 'esm-default.mjs'],
    ['./cjs-app', 'cjs-app.cjs'],
    ['plain', 'plain.js'],
    ['ts-app', 'ts-app.ts'],
    // NodeNext style: the .js name of a TypeScript source.
    ['ts-app.js', 'ts-app.ts'],
    ['dir-app', join('dir-app', 'index.mjs')],
    ['pkg/module', join('pkg', 'module.mjs')],
  ])('%s → %s', (module, file) => {
    expect(resolveModulePath(module, fixtures)).toBe(join(fixtures, file));
  });

  test('an absolute MODULE ignores cwd', () => {
    expect(resolveModulePath(join(fixtures, 'plain'), '/')).toBe(join(fixtures, 'plain.js'));
  });

  test('prefers .js over the other extensions, in the documented order', () => {
    expect(MODULE_EXTENSIONS).toEqual(['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts']);
  });

  test('a missing module lists every path tried', () => {
    let error: unknown;
    try {
      resolveModulePath('missing/app', fixtures);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(AppNotFoundError);
    const notFound = error as AppNotFoundError;
    expect(notFound.code).toBe('TSGI_ERR_APP_NOT_FOUND');
    const base = resolve(fixtures, 'missing/app');
    expect(notFound.tried).toEqual([
      base,
      ...MODULE_EXTENSIONS.map((extension) => base + extension),
      ...MODULE_EXTENSIONS.map((extension) => join(base, `index${extension}`)),
    ]);
    for (const extension of MODULE_EXTENSIONS) expect(notFound.message).toContain(`missing/app${extension}`);
    expect(notFound.message).toContain(`not found in ${resolve(fixtures)}`);
    expect(notFound.message).not.toContain('\n');
  });

  test('a Gunicorn-style dotted module gets a hint when the path form exists', () => {
    expect(() => resolveModulePath('pkg.module', fixtures)).toThrow(/did you mean pkg\/module\?/);
    expect(() => resolveModulePath('nothing.here', fixtures)).not.toThrow(/did you mean/);
    expect(() => resolveModulePath('nothing.here', fixtures)).toThrow(AppNotFoundError);
  });
});
