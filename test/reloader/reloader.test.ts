/**
 * The --reload file watcher on real files in a temporary directory, with chokidar's real OS
 * events (and real polling). Every wait is bounded; every Reloader is closed after its test.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { Reloader, type ReloaderOptions } from '../../src/master/reloader.js';

const DEBOUNCE_MS = 150;
/** How long "nothing happens" is watched for: well past the debounce and chokidar's atomic window. */
const QUIET_MS = 600;

const log = pino({ level: 'silent' });
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-reload-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `text` to `root/path`, creating directories. */
function put(root: string, path: string, text = 'x'): string {
  const file = join(root, path);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, text);
  return file;
}

interface Watching {
  reloader: Reloader;
  calls: string[][];
  /** Resolves with the next call, or rejects after `timeoutMs`. */
  nextCall(timeoutMs?: number): Promise<string[]>;
  /** Resolves once `ms` passed, failing if any call happened meanwhile. */
  quiet(ms?: number): Promise<void>;
}

async function watching(options: Partial<ReloaderOptions> & { root: string }): Promise<Watching> {
  const calls: string[][] = [];
  const waiters: ((changed: string[]) => void)[] = [];
  const reloader = new Reloader(
    { extraFiles: [], include: [], exclude: [], poll: false, debounceMs: DEBOUNCE_MS, log, ...options },
    (changed) => {
      calls.push(changed);
      for (const waiter of waiters.splice(0)) waiter(changed);
    },
  );
  cleanups.push(() => reloader.close());
  await reloader.start();
  return {
    reloader,
    calls,
    nextCall: (timeoutMs = 5000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no change reported within ${timeoutMs} ms`)), timeoutMs);
        waiters.push((changed) => {
          clearTimeout(timer);
          resolve(changed);
        });
      }),
    quiet: async (ms = QUIET_MS) => {
      const before = calls.length;
      await new Promise((resolve) => setTimeout(resolve, ms));
      expect(calls.slice(before)).toEqual([]);
    },
  };
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('Reloader', () => {
  test('a burst of writes is one call naming the file', async () => {
    const root = scratch();
    const file = put(root, 'app.ts', 'v0');
    // Writes further apart than chokidar's own 50 ms coalescing of changes, closer than the delay:
    // only the debounce can make them one call.
    const w = await watching({ root, debounceMs: 300 });
    const call = w.nextCall();
    for (let i = 1; i <= 5; i++) {
      appendFileSync(file, `v${i}`);
      await pause(80);
    }
    expect(await call).toEqual([file]);
    await w.quiet();
    expect(w.calls).toHaveLength(1);
  });

  test("an editor's atomic save (write a temporary file, rename it over) is one call", async () => {
    const root = scratch();
    const file = put(root, 'src/app.ts', 'v0');
    const w = await watching({ root });
    const call = w.nextCall();
    const temporary = put(root, 'src/.app.ts.swp', 'swap');
    put(root, 'src/4913', '');
    rmSync(join(root, 'src/4913'));
    writeFileSync(`${file}.tmp-123`, 'v1');
    renameSync(`${file}.tmp-123`, file);
    rmSync(temporary);
    const changed = await call;
    expect(changed).toContain(file);
    expect(changed.filter((path) => path.endsWith('.swp') || path.endsWith('4913'))).toEqual([]);
    await w.quiet();
    expect(w.calls).toHaveLength(1);
  });

  test('files added and removed count as changes; several files in a burst come together', async () => {
    const root = scratch();
    const old = put(root, 'old.ts');
    const w = await watching({ root });
    const call = w.nextCall();
    const added = put(root, 'routes/new.ts');
    rmSync(old);
    expect(await call).toEqual([added, old].sort());
  });

  test('node_modules, .git, dist, build, coverage, .tsgi* and editor files never trigger', async () => {
    const root = scratch();
    const ignored = ['node_modules/pkg/index.js', '.git/index', 'dist/app.js', 'build/app.js', 'coverage/lcov.info', '.tsgi.pid', 'src/app.ts~', 'src/.#app.ts', 'src/app.ts.swp'];
    for (const path of ignored) put(root, path, 'v0');
    const w = await watching({ root });
    for (const path of ignored) put(root, path, 'v1');
    put(root, 'node_modules/new-pkg/index.js');
    await w.quiet();
    expect(w.calls).toEqual([]);
  });

  test('--reload-exclude: by name at any depth, by path from the root, a directory and all in it', async () => {
    const root = scratch();
    const w = await watching({ root, exclude: ['*.log', 'static/*.html', 'uploads'] });
    put(root, 'logs/app.log');
    put(root, 'static/index.html');
    put(root, 'uploads/2024/cat.png');
    await w.quiet();
    expect(w.calls).toEqual([]);

    const call = w.nextCall();
    const counted = [put(root, 'static/css/site.css'), put(root, 'app.ts')];
    expect(await call).toEqual(counted.sort());
  });

  test('--reload-include: only matching files trigger, and excludes still win', async () => {
    const root = scratch();
    const w = await watching({ root, include: ['*.{ts,json}', 'views/**'], exclude: ['*.test.ts'] });
    put(root, 'README.md');
    put(root, 'src/app.test.ts');
    put(root, 'public/logo.svg');
    await w.quiet();
    expect(w.calls).toEqual([]);

    const call = w.nextCall();
    const counted = [put(root, 'src/deep/app.ts'), put(root, 'package.json'), put(root, 'views/layout/main.html')];
    expect(await call).toEqual(counted.sort());
  });

  test('--reload-extra-file: a file outside the root, and one in an excluded directory, trigger', async () => {
    const root = scratch();
    const outside = put(scratch(), 'settings.json', '{}');
    const linked = put(root, 'node_modules/my-lib/index.js', 'v0');
    const w = await watching({ root, extraFiles: [outside, linked], include: ['*.ts'] });

    let call = w.nextCall();
    writeFileSync(outside, '{"debug":true}');
    expect(await call).toEqual([outside]);

    call = w.nextCall();
    writeFileSync(linked, 'v1');
    expect(await call).toEqual([linked]);

    // Saved the way editors do, twice: the file is replaced, and still watched afterwards.
    for (const text of ['{"a":1}', '{"a":2}']) {
      call = w.nextCall();
      writeFileSync(`${outside}.tmp`, text);
      renameSync(`${outside}.tmp`, outside);
      expect(await call).toEqual([outside]);
    }

    // Its neighbours stay ignored.
    put(root, 'node_modules/my-lib/other.js');
    put(join(outside, '..'), 'other.json');
    await w.quiet();
    expect(w.calls).toHaveLength(4);
  });

  test('an extra file that does not exist is reported, not silently waited for', async () => {
    const root = scratch();
    const lines: string[] = [];
    const missing = join(scratch(), 'not-yet.json');
    const reloader = new Reloader(
      { root, extraFiles: [missing], include: [], exclude: [], poll: false, debounceMs: DEBOUNCE_MS, log: pino({ level: 'warn' }, { write: (line: string) => lines.push(line) }) },
      () => {},
    );
    cleanups.push(() => reloader.close());
    await reloader.start();
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!).msg).toContain(`${missing} (--reload-extra-file) does not exist`);
  });

  test('--reload-poll: changes are found by polling', async () => {
    const root = scratch();
    const file = put(root, 'app.ts', 'v0');
    const w = await watching({ root, poll: true });
    const call = w.nextCall();
    writeFileSync(file, 'v1, longer so that the size changes as well');
    expect(await call).toEqual([file]);
    put(root, 'node_modules/pkg/index.js');
    await w.quiet();
    expect(w.calls).toHaveLength(1);
  });

  test('close() stops everything: a pending burst is dropped and no later change is reported', async () => {
    const root = scratch();
    const file = put(root, 'app.ts', 'v0');
    const w = await watching({ root });
    const call = w.nextCall();
    writeFileSync(file, 'v1');
    expect(await call).toEqual([file]);

    writeFileSync(file, 'v2');
    await pause(20); // the event has arrived; the debounce has not run out
    await w.reloader.close();
    writeFileSync(file, 'v3');
    await w.quiet(DEBOUNCE_MS + QUIET_MS);
    expect(w.calls).toHaveLength(1);
  });

  test('a handler that throws is logged, and the watcher keeps working', async () => {
    const root = scratch();
    const file = put(root, 'app.ts', 'v0');
    const errors: string[] = [];
    const logged = pino({ level: 'error' }, { write: (line: string) => errors.push(line) });
    let calls = 0;
    const second = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the second change was not reported within 5000 ms')), 5000);
      const reloader = new Reloader({ root, extraFiles: [], include: [], exclude: [], poll: false, debounceMs: DEBOUNCE_MS, log: logged }, () => {
        calls++;
        if (calls === 1) throw new Error('handler broke');
        clearTimeout(timer);
        resolve();
      });
      cleanups.push(() => reloader.close());
      void reloader.start().then(async () => {
        writeFileSync(file, 'v1');
        while (calls === 0) await pause(20);
        writeFileSync(file, 'v2');
      });
    });
    await second;
    expect(errors.join('')).toContain('handler broke');
  });
});

describe('close() leaves nothing running', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child?.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  });

  // A process whose only work was a Reloader exits by itself once it is closed: no watcher, poll
  // timer or debounce timer keeps the event loop alive.
  test.each([false, true])('a process exits by itself after close() (poll: %s)', async (poll) => {
    const root = scratch();
    const script = `
      import { writeFileSync } from 'node:fs';
      import { pino } from 'pino';
      import { Reloader } from ${JSON.stringify(fileURLToPath(new URL('../../src/master/reloader.ts', import.meta.url)))};
      const file = ${JSON.stringify(put(root, 'app.ts', 'v0'))};
      let reported;
      const changed = new Promise((resolve) => (reported = resolve));
      const reloader = new Reloader(
        { root: ${JSON.stringify(root)}, extraFiles: [], include: [], exclude: [], poll: ${poll}, debounceMs: 50, log: pino({ level: 'silent' }) },
        reported,
      );
      await reloader.start();
      writeFileSync(file, 'v1, a longer text');
      console.log(JSON.stringify(await changed));
      writeFileSync(file, 'v2'); // a burst still pending when close() runs
      await reloader.close();
    `;
    const started = Date.now();
    const stdout = await new Promise<string>((resolve, reject) => {
      child = execFile(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '--eval', script],
        { cwd: fileURLToPath(new URL('../../', import.meta.url)), timeout: 15_000, killSignal: 'SIGKILL' },
        (error, out, err) => (error ? reject(new Error(`the process did not exit by itself: ${error.message}\n${err}`)) : resolve(out)),
      );
    });
    expect(JSON.parse(stdout)).toEqual([join(root, 'app.ts')]);
    expect(Date.now() - started).toBeLessThan(15_000);
  }, 20_000);
});
