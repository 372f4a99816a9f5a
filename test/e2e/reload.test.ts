/**
 * --reload on real files in a temp directory: saves reload, broken saves never take the server
 * down, a first start with broken code waits for a fix.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTsgi, stopAll, ROOT, type RunningServer } from '../helpers/server.js';
import { rawRequest } from '../helpers/raw.js';
import { sleep } from '../helpers/wait.js';

afterAll(stopAll);


function appSource(text: string): string {
  return `export const app = (environ, startResponse) => {\n  startResponse('200 OK', [['Content-Type', 'text/plain']]);\n  return [${JSON.stringify(text)}];\n};\n`;
}

async function get(port: number): Promise<{ status: number; body: string }> {
  const { responses } = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n', { timeoutMs: 5000 });
  return { status: responses[0]?.status ?? 0, body: responses[0]?.body.toString() ?? '' };
}

/** Polls until the server answers `want` (status 200), at most `timeoutMs`. */
async function answers(server: RunningServer, want: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await get(server.port);
    if (r.status === 200 && r.body === want) return;
    if (Date.now() > deadline) throw new Error(`still answering ${r.status} ${JSON.stringify(r.body)} instead of ${JSON.stringify(want)}:\n${server.output()}`);
    await sleep(50);
  }
}

function tempApp(source: string, name = 'app.js'): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-reload-'));
  writeFileSync(join(dir, name), source);
  return dir;
}

describe('--reload', () => {
  it('serves a save, survives a broken save, and recovers on the next good one', async () => {
    const dir = tempApp(appSource('v1'));
    const server = await startTsgi({ args: ['--reload', '--workers', '2', 'app:app'], cwd: dir });
    await server.waitFor(/Watching/);
    expect((await get(server.port)).body).toBe('v1');

    writeFileSync(join(dir, 'app.js'), appSource('v2'));
    await answers(server, 'v2');
    // Let the rolling reload finish: both v1 workers gone.
    const deadline = Date.now() + 10_000;
    while ((server.output().match(/Worker exiting/g) ?? []).length < 2 && Date.now() < deadline) await sleep(50);

    writeFileSync(join(dir, 'app.js'), "export const app = (environ, startResponse) => {\n  startResponse('200 OK', [];\n};\n");
    await server.waitFor(/Reload failed/, 10_000);
    // The error names the file and what is wrong, once.
    expect(server.output()).toMatch(/app\.js:2/);
    expect(server.output()).toMatch(/SyntaxError: missing \) after argument list/);
    for (let i = 0; i < 3; i++) expect(await get(server.port)).toEqual({ status: 200, body: 'v2' });

    writeFileSync(join(dir, 'app.js'), appSource('v3'));
    await answers(server, 'v3');
    const stopped = await server.stop();
    expect(stopped.code, server.output()).toBe(0);
  }, 60_000);

  it('answers 500 with the error when the code is broken from the start, then 200 once fixed', async () => {
    const dir = tempApp("export const app = () => { throw new Error('x') };\nthrow new Error('not ready yet');\n");
    const server = await startTsgi({ args: ['--reload', 'app:app'], cwd: dir });
    const broken = await get(server.port);
    expect(broken.status).toBe(500);
    expect(broken.body).toContain('not ready yet');
    writeFileSync(join(dir, 'app.js'), appSource('fixed'));
    await answers(server, 'fixed');
    await server.stop();
  }, 30_000);

  it('ignores changes under node_modules', async () => {
    const dir = tempApp(appSource('same'));
    mkdirSync(join(dir, 'node_modules'));
    const server = await startTsgi({ args: ['--reload', 'app:app'], cwd: dir });
    await server.waitFor(/Watching/);
    writeFileSync(join(dir, 'node_modules', 'dep.js'), 'export {};\n');
    await sleep(1000);
    expect(server.output()).not.toMatch(/Reloading/);
    await server.stop();
  });

  it('polls with --reload-poll', async () => {
    const dir = tempApp(appSource('p1'));
    const server = await startTsgi({ args: ['--reload', '--reload-poll', 'app:app'], cwd: dir });
    await server.waitFor(/Watching .* \(polling\)/);
    writeFileSync(join(dir, 'app.js'), appSource('p2'));
    await answers(server, 'p2');
    await server.stop();
  }, 30_000);

  it('reloads a TypeScript app', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsgi-reload-ts-'));
    copyFileSync(join(ROOT, 'examples/hello.ts'), join(dir, 'app.ts'));
    const server = await startTsgi({ args: ['--reload', 'app:app'], cwd: dir });
    expect((await get(server.port)).body).toBe('Hello, World!');
    writeFileSync(join(dir, 'app.ts'), `import type { App } from 'tsgi';\nexport const app: App = (environ, startResponse) => {\n  startResponse('200 OK', [['Content-Type', 'text/plain']]);\n  return ['typed v2'];\n};\n`);
    await answers(server, 'typed v2');
    await server.stop();
  }, 30_000);
});
