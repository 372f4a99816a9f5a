import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { configError, scratchDirectory } from './helpers.js';

const scratch = scratchDirectory();
afterAll(() => scratch.cleanup());
const cwd = scratch.dir;

describe('config files', () => {
  test('.mjs with a default export', async () => {
    scratch.write('default.mjs', `export default { workers: 3, bind: ['127.0.0.1:9001', 'unix:/tmp/t.sock'], reload: true };`);
    const { config, sources } = await loadConfig(['-c', 'default.mjs'], {}, cwd);
    expect(config).toMatchObject({ workers: 3, bind: ['127.0.0.1:9001', 'unix:/tmp/t.sock'], reload: true, config: 'default.mjs' });
    expect(sources).toMatchObject({ workers: 'file', bind: 'file', reload: 'file', config: 'cli' });
  });

  test('.mjs with named exports', async () => {
    scratch.write('named.mjs', `export const workers = 2;\nexport const logLevel = 'debug';\nexport const umask = 0o022;`);
    const { config } = await loadConfig(['--config', 'named.mjs'], {}, cwd);
    expect(config).toMatchObject({ workers: 2, logLevel: 'debug', umask: 0o22 });
  });

  test('.cjs through module.exports', async () => {
    scratch.write('common.cjs', `module.exports = { timeout: 12.5, accessLog: '-' };`);
    const { config } = await loadConfig(['-c', 'common.cjs'], {}, cwd);
    expect(config).toMatchObject({ timeout: 12.5, accessLog: '-' });
  });

  test('.json, with an absolute path and strings where numbers are expected', async () => {
    const path = scratch.write('settings.json', JSON.stringify({ maxRequests: '1000', maxRequestsJitter: 50, user: 'www-data' }));
    const { config } = await loadConfig(['-c', path], {}, '/');
    expect(config).toMatchObject({ maxRequests: 1000, maxRequestsJitter: 50, user: 'www-data' });
  });

  test('a key set to undefined counts as unset', async () => {
    scratch.write('undefined.mjs', `export default { workers: undefined };`);
    const { sources } = await loadConfig(['-c', 'undefined.mjs'], {}, cwd);
    expect(sources.workers).toBe('default');
  });

  test('an unknown key names the closest setting, also for Gunicorn spellings', async () => {
    scratch.write('typo.json', JSON.stringify({ wrokers: 2 }));
    const typo = await configError(loadConfig(['-c', 'typo.json'], {}, cwd));
    expect(typo.message).toBe('typo.json: unknown setting "wrokers"; did you mean "workers"? (every setting: docs/settings.md)');

    scratch.write('gunicorn.mjs', `export const graceful_timeout = 10;`);
    const snake = await configError(loadConfig(['-c', 'gunicorn.mjs'], {}, cwd));
    expect(snake.message).toContain('unknown setting "graceful_timeout"; did you mean "gracefulTimeout"?');
  });

  test('a bad value names the file', async () => {
    scratch.write('bad.json', JSON.stringify({ workers: 0 }));
    expect((await configError(loadConfig(['-c', 'bad.json'], {}, cwd))).message).toBe(
      'workers (from bad.json): expected a number >= 1, got 0',
    );
    scratch.write('badtype.mjs', `export default { bind: 8000 };`);
    expect((await configError(loadConfig(['-c', 'badtype.mjs'], {}, cwd))).message).toBe(
      'bind (from badtype.mjs): expected a list of strings, got 8000',
    );
    scratch.write('badnull.json', JSON.stringify({ errorLog: null }));
    expect((await configError(loadConfig(['-c', 'badnull.json'], {}, cwd))).message).toBe(
      'errorLog (from badnull.json): expected a string, got null',
    );
  });

  test('a file outside the working directory is named by its absolute path', async () => {
    const path = scratch.write('outside.json', JSON.stringify({ backlog: -5 }));
    const error = await configError(loadConfig(['-c', path], {}, join(cwd, '..', '..')));
    expect(error.message).toContain(`backlog (from `);
    expect(error.message).toContain('outside.json): expected a number >= 1, got -5');
  });

  test('files that cannot be used', async () => {
    scratch.write('broken.json', '{ "workers": 2, }');
    expect((await configError(loadConfig(['-c', 'broken.json'], {}, cwd))).message).toMatch(/^broken\.json: not valid JSON: SyntaxError: /);

    scratch.write('array.json', '[1, 2]');
    expect((await configError(loadConfig(['-c', 'array.json'], {}, cwd))).message).toBe(
      'array.json: the JSON value must be an object of settings, got an array',
    );

    scratch.write('function.mjs', 'export default function config() {}');
    expect((await configError(loadConfig(['-c', 'function.mjs'], {}, cwd))).message).toBe(
      'function.mjs: the default export must be an object of settings, got a function',
    );

    scratch.write('throws.mjs', "throw new RangeError('config exploded');");
    const thrown = await configError(loadConfig(['-c', 'throws.mjs'], {}, cwd));
    expect(thrown.message).toBe('throws.mjs: could not be loaded: RangeError: config exploded');
    expect((thrown.cause as Error).message).toBe('config exploded');

    scratch.write('nested.json', JSON.stringify({ config: 'other.json' }));
    expect((await configError(loadConfig(['-c', 'nested.json'], {}, cwd))).message).toBe(
      'nested.json: a config file cannot name another config file; remove the "config" key',
    );

    const missing = await configError(loadConfig(['-c', 'absent.mjs'], {}, cwd));
    expect(missing.message).toBe(`config (from -c/--config on the command line): config file ${join(cwd, 'absent.mjs')} does not exist`);
  });
});
