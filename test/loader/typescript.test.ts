/**
 * TypeScript apps load with no build step: loadApp compiles `.ts`/`.mts`/`.cts` with tsx, in a
 * plain Node process that has no TypeScript support preloaded (tsgi's master and workers run that
 * way). The driver runs the built loader in dist/, like the e2e tests: run `npm run build` first.
 */
import { execFile, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { rawRequest } from '../helpers/raw.js';
import { BIN, ROOT, startTsgi, stopAll } from '../helpers/server.js';

const fixtures = join(ROOT, 'test/fixtures/loader/typescript');
const driver = join(fixtures, 'driver.mjs');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

type Report = { typeScriptLoaded: boolean } & (
  | { ok: true; modulePath: string; ms: number; body?: string; stack?: string }
  | { ok: false; code: string; message: string }
);

/** [spec, directory] in load order: the JavaScript app first, before anything loads tsx. */
const LOADS = {
  js: ['examples/hello:app', ROOT],
  esm: ['app:app', join(fixtures, 'esm')],
  esmFailing: ['app:failing', join(fixtures, 'esm')],
  esmFailingInHelper: ['app:failingInHelper', join(fixtures, 'esm')],
  cjs: ['app:app', join(fixtures, 'cjs')],
  cjsFailing: ['app:failing', join(fixtures, 'cjs')],
  cjsFailingInHelper: ['app:failingInHelper', join(fixtures, 'cjs')],
  mts: ['app.mts:app', join(fixtures, 'modules')],
  cts: ['app.cts:app', join(fixtures, 'modules')],
  syntax: ['syntax:app', join(fixtures, 'broken')],
  throws: ['throws', join(fixtures, 'broken')],
  example: ['examples/hello.ts:app', ROOT],
} as const satisfies Record<string, readonly [string, string]>;
type Load = keyof typeof LOADS;

let child: ChildProcess | undefined;
const reports = new Map<Load, Report>();

beforeAll(async () => {
  const built = join(ROOT, 'dist/loader/load-app.js');
  if (statSync(join(ROOT, 'src/loader/load-app.ts')).mtimeMs > statSync(built).mtimeMs) {
    throw new Error(`${built} is older than its source: run npm run build`);
  }
  const names = Object.keys(LOADS) as Load[];
  const stdout = await new Promise<string>((resolve, reject) => {
    child = execFile(
      process.execPath,
      [driver, JSON.stringify(names.map((name) => LOADS[name]))],
      { cwd: ROOT, timeout: 30_000, maxBuffer: 4 * 1024 * 1024 },
      (error, out, err) => (error ? reject(new Error(`driver failed: ${error.message}\n${err}`)) : resolve(out)),
    );
  });
  const parsed = JSON.parse(stdout) as Report[];
  names.forEach((name, index) => reports.set(name, parsed[index]!));
}, 40_000);

afterAll(async () => {
  if (child?.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  await stopAll();
});

function loaded(name: Load): Extract<Report, { ok: true }> {
  const report = reports.get(name)!;
  if (!report.ok) throw new Error(`expected ${name} to load, got ${report.code}: ${report.message}`);
  return report;
}

function failed(name: Load): Extract<Report, { ok: false }> {
  const report = reports.get(name)!;
  if (report.ok) throw new Error(`expected ${name} to fail, but it loaded ${report.modulePath}`);
  expect(report.code).toBe('TSGI_ERR_APP_IMPORT');
  expect(report.message).not.toContain('\n');
  return report;
}

/** 1-based number of the line of `file` that contains `text` (there must be exactly one). */
function lineOf(file: string, text: string): number {
  const lines = readFileSync(file, 'utf8').split('\n');
  const found = lines.flatMap((line, index) => (line.includes(text) ? [index + 1] : []));
  expect(found, `${text} in ${file}`).toHaveLength(1);
  return found[0]!;
}

describe('loadApp compiles TypeScript apps itself', () => {
  test('a JavaScript app does not load the TypeScript compiler', () => {
    const report = loaded('js');
    expect(report.modulePath).toBe(join(ROOT, 'examples/hello.js'));
    expect(report.typeScriptLoaded).toBe(false);
  });

  test('.ts in a "type": "module" package, with an enum and a sibling .ts helper', () => {
    const report = loaded('esm');
    expect(report.modulePath).toBe(join(fixtures, 'esm/app.ts'));
    expect(report.body).toBe('200 OK Hello from esm');
    expect(report.typeScriptLoaded).toBe(true);
  });

  test('.ts in a "type": "commonjs" package, with an enum and a sibling .ts helper', () => {
    const report = loaded('cjs');
    expect(report.modulePath).toBe(join(fixtures, 'cjs/app.ts'));
    expect(report.body).toBe('200 OK Hello from cjs');
  });

  test('.mts and .cts', () => {
    expect(loaded('mts').body).toBe('200 OK Hello from mts');
    expect(loaded('cts').body).toBe('200 OK Hello from cts');
  });

  test('examples/hello.ts, typed with `import type { App } from "tsgi"`', () => {
    expect(loaded('example').body).toBe('200 OK Hello, World!');
  });
});

describe('errors point at the TypeScript source', () => {
  for (const flavour of ['esm', 'cjs'] as const) {
    test(`stack traces name .ts lines (${flavour})`, () => {
      const app = join(fixtures, flavour, 'app.ts');
      const helper = join(fixtures, flavour, 'helper.ts');
      const thrown = loaded(`${flavour}Failing`).stack!;
      expect(thrown).toContain('thrown in app.ts');
      expect(thrown).toContain(`${app}:${lineOf(app, "throw new Error('thrown in app.ts')")}:`);

      const inHelper = loaded(`${flavour}FailingInHelper`).stack!;
      expect(inHelper).toContain(`${helper}:${lineOf(helper, 'throw new Error(')}:`);
      expect(inHelper).toContain(`${app}:${lineOf(app, 'explode({')}:`);
    });
  }

  test('TypeScript that does not parse is a SyntaxError with its location, on one line', () => {
    const file = join(fixtures, 'broken/syntax.ts');
    const report = failed('syntax');
    expect(report.message).toMatch(/^Importing syntax\.ts failed: SyntaxError: /);
    expect(report.message).toContain(`(at ${file}:${lineOf(file, "startResponse('200 OK', [];")}:`);
  });

  test('an error thrown while importing names its .ts line', () => {
    const file = join(fixtures, 'broken/throws.ts');
    const report = failed('throws');
    expect(report.message).toContain('Error: thrown at import');
    expect(report.message).toContain(`(at ${file}:${lineOf(file, 'throw new Error(')}:`);
  });
});

test('examples/hello.ts and the fixtures type-check against the published types', () => {
  const result = spawnSync(process.execPath, [TSC, '-p', join(fixtures, 'tsconfig.json')], { encoding: 'utf8', timeout: 60_000 });
  expect(result.stdout + result.stderr).toBe('');
  expect(result.status).toBe(0);
}, 60_000);

async function until(condition: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms:\n${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('tsgi serves a TypeScript app', () => {
  // Only app.ts in the directory, so `app:app` can only mean the TypeScript file.
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-ts-app-'));
  copyFileSync(join(ROOT, 'examples/hello.ts'), join(dir, 'app.ts'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('--check-config loads it in the master', () => {
    const result = spawnSync(process.execPath, [BIN, '--check-config', 'app:app'], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('app:app OK');
    expect(result.status).toBe(0);
  });

  test('every worker loads it and answers', async () => {
    const server = await startTsgi({ args: ['--workers', '2', 'app:app'], cwd: dir });
    const { responses } = await rawRequest(server.port, 'GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    expect(responses[0]!.status).toBe(200);
    expect(responses[0]!.body.toString()).toBe('Hello, World!');
    await until(() => (server.output().match(/Worker ready/g) ?? []).length >= 2, 15_000, server.output);
    expect(server.output()).not.toContain('could not load the app');
    expect((await server.stop('SIGTERM')).code).toBe(0);
  });
});
