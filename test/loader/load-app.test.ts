/**
 * loadApp against real modules, in a real Node process: vitest has its own module loader, which
 * would hide what Node does with CommonJS, syntax errors and missing packages. The driver runs
 * under tsx, as tsgi's workers do, and loads every spec below in one process.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixtures = join(root, 'test/fixtures/loader');
const driver = join(fixtures, 'driver.ts');

type Report =
  | { ok: true; modulePath: string; body: string; close: unknown }
  | { ok: false; name: string; code: string; message: string; cause: string | null };

const SPECS = [
  'esm-default',
  'esm-named:app',
  'esm-named:handlers.nested.deep',
  'cjs-app',
  'cjs-app.cjs:named',
  'cjs-app:hidden',
  'factory:create()',
  `factory:create('a', "b,c")`,
  `factory:createAsync("x")`,
  `factory:builder.make('y')`,
  'factory:broken()',
  'factory:rejects()',
  'factory:returnsObject()',
  'throws',
  'missing-dep',
  'missing-dep.cjs',
  'missing-relative',
  'syntax',
  'syntax.cjs',
  'syntax-dep',
  'not-callable',
  'nothing',
  'esm-named',
  'esm-named:pending',
  'esm-named:Server',
  'esm-named:answer',
  'esm-named:answer()',
  'esm-named:settings.debug.x',
  'esm-named:handlers.nope',
  'closeable:app',
  'ts-app:app',
  'ts-app.js:app',
  'dir-app',
  'nope',
  'app:',
] as const;

let child: ChildProcess | undefined;
const reports = new Map<string, Report>();

beforeAll(async () => {
  const stdout = await new Promise<string>((resolve, reject) => {
    child = execFile(
      process.execPath,
      ['--import', 'tsx', driver, JSON.stringify(SPECS)],
      { cwd: root, timeout: 30_000, maxBuffer: 4 * 1024 * 1024 },
      (error, out, err) => (error ? reject(new Error(`driver failed: ${error.message}\n${err}`)) : resolve(out)),
    );
  });
  const parsed = JSON.parse(stdout) as Report[];
  SPECS.forEach((spec, index) => reports.set(spec, parsed[index]!));
}, 40_000);

afterAll(() => {
  if (child?.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
});

function loaded(spec: (typeof SPECS)[number]): Extract<Report, { ok: true }> {
  const report = reports.get(spec)!;
  if (!report.ok) throw new Error(`expected ${spec} to load, got ${report.code}: ${report.message}`);
  return report;
}

function failed(spec: (typeof SPECS)[number], code: string): Extract<Report, { ok: false }> {
  const report = reports.get(spec)!;
  if (report.ok) throw new Error(`expected ${spec} to fail with ${code}, but it loaded ${report.modulePath}`);
  expect(report.code).toBe(code);
  expect(report.message).not.toContain('\n');
  return report;
}

describe('loadApp finds the app', () => {
  test('default export of an ES module, extension omitted', () => {
    const report = loaded('esm-default');
    expect(report.modulePath).toBe(join(fixtures, 'esm-default.mjs'));
    expect(report.body).toBe('200 OK esm-default');
  });

  test('named export and dotted path', () => {
    expect(loaded('esm-named:app').body).toBe('200 OK esm-named:app');
    expect(loaded('esm-named:handlers.nested.deep').body).toBe('200 OK esm-named:deep');
  });

  test('CommonJS: module.exports as the default, detected and undetectable named exports', () => {
    expect(loaded('cjs-app').body).toBe('200 OK cjs-default');
    expect(loaded('cjs-app.cjs:named').body).toBe('200 OK cjs-named');
    // Only reachable through mod.default[attr]: Node cannot see a computed export name.
    expect(loaded('cjs-app:hidden').body).toBe('200 OK cjs-hidden');
  });

  test('factories get their string arguments, sync or async, and `this` for a method', () => {
    expect(loaded('factory:create()').body).toBe('200 OK create:[]');
    expect(loaded(`factory:create('a', "b,c")`).body).toBe(`200 OK create:${JSON.stringify(['a', 'b,c'])}`);
    expect(loaded(`factory:createAsync("x")`).body).toBe(`200 OK createAsync:${JSON.stringify(['x'])}`);
    expect(loaded(`factory:builder.make('y')`).body).toBe('200 OK builder:y');
  });

  test("close() is the app's own, bound to the app", () => {
    const report = loaded('closeable:app');
    expect(report.close).toBe('closed 1 time(s), this is app: true');
    expect(loaded('esm-default').close).toBeNull();
  });

  test('TypeScript modules load under tsx, also by their .js name', () => {
    expect(loaded('ts-app:app').body).toBe('200 OK ts-app');
    expect(loaded('ts-app.js:app').modulePath).toBe(join(fixtures, 'ts-app.ts'));
  });

  test('a directory loads its index module', () => {
    expect(loaded('dir-app').modulePath).toBe(join(fixtures, 'dir-app', 'index.mjs'));
  });
});

describe('loadApp says exactly what went wrong', () => {
  test('malformed spec', () => {
    expect(failed('app:', 'TSGI_ERR_APP_SPEC').name).toBe('AppSpecError');
  });

  test('module not found lists what was tried', () => {
    const report = failed('nope', 'TSGI_ERR_APP_NOT_FOUND');
    expect(report.message).toContain('nope.mjs');
    expect(report.message).toContain('nope/index.js');
  });

  test('an error thrown while importing keeps its message, location and cause', () => {
    const report = failed('throws', 'TSGI_ERR_APP_IMPORT');
    expect(report.message).toContain('Error: boom at import');
    expect(report.message).toContain(`${join(fixtures, 'throws.mjs')}:3:7`);
    expect(report.cause).toBe('boom at import');
  });

  test('a missing dependency is an import error naming the package, not a missing app', () => {
    for (const spec of ['missing-dep', 'missing-dep.cjs'] as const) {
      const report = failed(spec, 'TSGI_ERR_APP_IMPORT');
      expect(report.message).toContain("'tsgi-test-package-that-does-not-exist'");
      expect(report.message).toContain('npm install tsgi-test-package-that-does-not-exist');
      expect(report.message).toContain(join(fixtures, spec.endsWith('.cjs') ? spec : `${spec}.mjs`));
    }
    const relative = failed('missing-relative', 'TSGI_ERR_APP_IMPORT');
    expect(relative.message).toContain('no-such-helper.mjs');
    expect(relative.message).not.toContain('npm install');
  });

  test('syntax errors say where, for ESM and CommonJS', () => {
    expect(failed('syntax', 'TSGI_ERR_APP_IMPORT').message).toContain(`SyntaxError: Unexpected token ';' (at ${join(fixtures, 'syntax.mjs')}:3)`);
    expect(failed('syntax.cjs', 'TSGI_ERR_APP_IMPORT').message).toContain(`(at ${join(fixtures, 'syntax.cjs')}:2)`);
    expect(failed('syntax-dep', 'TSGI_ERR_APP_IMPORT').message).toContain(`in a module imported by ${join(fixtures, 'syntax-dep.mjs')}`);
  });

  test('a missing attribute names the exports that exist', () => {
    expect(failed('nothing', 'TSGI_ERR_APP_ATTRIBUTE').message).toBe('nothing.mjs has no export "default"; it exports nothing');
    const noDefault = failed('esm-named', 'TSGI_ERR_APP_ATTRIBUTE').message;
    expect(noDefault).toContain('its exports are: ');
    for (const name of ['Server', 'answer', 'app', 'handlers', 'pending', 'settings']) expect(noDefault).toContain(name);
    expect(noDefault).toContain('e.g. esm-named.mjs:app');
    expect(failed('esm-named:handlers.nope', 'TSGI_ERR_APP_ATTRIBUTE').message).toContain('has no property "nope"; it has: main, nested');
    expect(failed('esm-named:settings.debug.x', 'TSGI_ERR_APP_ATTRIBUTE').message).toContain('settings.debug is a boolean');
  });

  test('not callable says what it is instead', () => {
    expect(failed('not-callable', 'TSGI_ERR_APP_NOT_CALLABLE').message).toContain('not-callable.mjs:default is an object, not a TSGI app');
    expect(failed('esm-named:answer', 'TSGI_ERR_APP_NOT_CALLABLE').message).toContain('is a number');
    expect(failed('esm-named:Server', 'TSGI_ERR_APP_NOT_CALLABLE').message).toContain('is a class');
    const promise = failed('esm-named:pending', 'TSGI_ERR_APP_NOT_CALLABLE').message;
    expect(promise).toContain('is a Promise');
    expect(promise).toContain('export a factory');
    expect(failed('esm-named:answer()', 'TSGI_ERR_APP_NOT_CALLABLE').message).toContain('cannot be called as a factory');
    expect(failed('factory:returnsObject()', 'TSGI_ERR_APP_NOT_CALLABLE').message).toContain('returnsObject() returned an object');
  });

  test('a factory that throws or rejects', () => {
    const sync = failed('factory:broken()', 'TSGI_ERR_APP_FACTORY');
    expect(sync.message).toContain('TypeError: factory broke');
    expect(sync.message).toContain(`(at ${join(fixtures, 'factory.mjs')}:`);
    expect(sync.cause).toBe('factory broke');
    expect(failed('factory:rejects()', 'TSGI_ERR_APP_FACTORY').cause).toBe('async factory broke');
  });
});
