/** The package's public types: an app written against `tsgi` and `tsgi/validate` type-checks. */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const TSC = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
const PROJECT = fileURLToPath(new URL('./fixture/tsconfig.json', import.meta.url));

describe('package exports', () => {
  it('type-checks an app, a middleware and the validator through the package name', () => {
    const r = spawnSync(process.execPath, [TSC, '-p', PROJECT], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 60_000);

  it('exposes validate and the error classes at runtime', async () => {
    const root = await import('tsgi');
    const validate = await import('tsgi/validate');
    expect(typeof root.validate).toBe('function');
    expect(typeof validate.validate).toBe('function');
    expect(typeof root.TsgiError).toBe('function');
  });

  it('exposes the adapters and the test client at runtime', async () => {
    const fetchInterface = await import('tsgi/fetch');
    const nodeInterface = await import('tsgi/node');
    const testing = await import('tsgi/testing');
    for (const fn of [fetchInterface.fromFetch, fetchInterface.toFetch, nodeInterface.fromNode, nodeInterface.toNode, testing.testClient]) expect(typeof fn).toBe('function');
  });
});
