/**
 * A reload (SIGHUP) reads the config file again: the new contents must win over Node's module
 * caches. Runs in a real Node process, under tsx as tsgi does.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, test } from 'vitest';
import { scratchDirectory } from './helpers.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const driver = fileURLToPath(new URL('./fixtures/reread-driver.ts', import.meta.url));
const scratch = scratchDirectory();
let child: ChildProcess | undefined;

afterAll(() => {
  if (child?.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  scratch.cleanup();
});

test('loading the same config file twice sees the second version (.mjs, .cjs, .json)', async () => {
  const stdout = await new Promise<string>((resolve, reject) => {
    child = execFile(process.execPath, ['--import', 'tsx', driver, scratch.dir], { cwd: root, timeout: 30_000 }, (error, out, err) =>
      error ? reject(new Error(`driver failed: ${error.message}\n${err}`)) : resolve(out),
    );
  });
  expect(JSON.parse(stdout)).toEqual({ 'reread.mjs': [2, 3], 'reread.cjs': [2, 3], 'reread.json': [2, 3] });
}, 40_000);
