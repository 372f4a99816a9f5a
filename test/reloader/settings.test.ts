/** The --reload-* settings, read through the real configuration loader. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { loadConfig } from '../../src/config/load.js';

const cwd = mkdtempSync(join(tmpdir(), 'tsgi-reload-config-'));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

async function refused(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<ConfigError> {
  const error: unknown = await loadConfig(argv, env, cwd).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as ConfigError).message).not.toContain('\n');
  return error as ConfigError;
}

describe('reload settings', () => {
  test('defaults: nothing extra, no globs, OS events, a 0.1 s delay', async () => {
    const { config } = await loadConfig([], {}, cwd);
    expect([config.reloadExtraFile, config.reloadInclude, config.reloadExclude, config.reloadPoll, config.reloadDelay]).toEqual([[], [], [], false, 0.1]);
  });

  test('from the command line: lists repeat, --reload-delay is in seconds', async () => {
    const { config, sources } = await loadConfig(
      ['--reload', '--reload-extra-file', 'a.json', '--reload-extra-file', '/etc/b.conf', '--reload-include', '*.ts', '--reload-include', 'views/**', '--reload-exclude', '*.log', '--reload-poll', '--reload-delay', '0.5'],
      {},
      cwd,
    );
    expect(config.reloadExtraFile).toEqual(['a.json', '/etc/b.conf']);
    expect(config.reloadInclude).toEqual(['*.ts', 'views/**']);
    expect(config.reloadExclude).toEqual(['*.log']);
    expect(config.reloadPoll).toBe(true);
    expect(config.reloadDelay).toBe(0.5);
    expect(sources.reloadPoll).toBe('cli');
  });

  test('from the environment (comma-separated lists) and a config file', async () => {
    const { config } = await loadConfig([], { TSGI_RELOAD: '1', TSGI_RELOAD_INCLUDE: '*.ts, *.json', TSGI_RELOAD_POLL: 'yes' }, cwd);
    expect(config.reloadInclude).toEqual(['*.ts', '*.json']);
    expect(config.reloadPoll).toBe(true);

    const file = join(cwd, 'dev.json');
    writeFileSync(file, JSON.stringify({ reload: true, reloadExclude: ['tmp', '*.sqlite'], reloadDelay: 1 }));
    const fromFile = await loadConfig(['-c', file], {}, cwd);
    expect(fromFile.config.reloadExclude).toEqual(['tmp', '*.sqlite']);
    expect(fromFile.config.reloadDelay).toBe(1);
  });

  test('bad values name the setting', async () => {
    expect((await refused(['--reload', '--reload-delay', '-1'])).message).toContain('reloadDelay');
    expect((await refused(['--reload', '--reload-delay', 'soon'])).message).toContain('reloadDelay');
    expect((await refused(['--reload', '--reload-include', ''])).message).toContain('reloadInclude');
  });
});

describe('--reload-* without --reload is refused', () => {
  const given: [string, string[], NodeJS.ProcessEnv][] = [
    ['reloadExtraFile', ['--reload-extra-file', 'a.json'], {}],
    ['reloadInclude', ['--reload-include', '*.ts'], {}],
    ['reloadExclude', ['--reload-exclude', '*.log'], {}],
    ['reloadPoll', ['--reload-poll'], {}],
    ['reloadDelay', ['--reload-delay', '1'], {}],
    ['reloadPoll', [], { TSGI_RELOAD_POLL: 'true' }],
  ];
  test.each(given)('%s (%j %j)', async (setting, argv, env) => {
    const error = await refused(argv, env);
    expect(error.setting).toBe(setting);
    expect(error.message).toContain('only works with --reload');
    expect(error.message).toContain(Object.keys(env).length > 0 ? Object.keys(env)[0] : `${argv[0]} on the command line`);
  });

  test('from a config file, naming the file', async () => {
    const file = join(cwd, 'forgot.json');
    writeFileSync(file, JSON.stringify({ reloadInclude: ['*.ts'] }));
    expect((await refused(['-c', file])).message).toBe('reloadInclude (from forgot.json): only works with --reload; add --reload, or remove it');
  });

  test('--no-reload turns off a config file that reloads, and then its reload-* settings are refused too', async () => {
    const file = join(cwd, 'dev-reload.json');
    writeFileSync(file, JSON.stringify({ reload: true, reloadPoll: true }));
    expect((await loadConfig(['-c', file], {}, cwd)).config.reloadPoll).toBe(true);
    expect((await refused(['-c', file, '--no-reload'])).setting).toBe('reloadPoll');
  });

  test('--reload goes with --check-config and --print-config', async () => {
    const { config } = await loadConfig(['--reload', '--reload-poll', '--check-config', '--print-config'], {}, cwd);
    expect([config.reload, config.checkConfig, config.printConfig]).toEqual([true, true, true]);
  });
});
