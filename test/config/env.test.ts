/**
 * `TSGI_*` variables: each name derives from the setting's long flag, and a `TSGI_*` name that is
 * no setting is a warning naming the closest one (a typo must not be silently ignored, and must
 * not stop a server either).
 */
import { describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { SETTINGS } from '../../src/config/settings.js';
import type { AnySetting } from '../../src/config/setting.js';
import { WORKER_ENV } from '../../src/ipc/messages.js';
import { LISTEN_FDS_ENV } from '../../src/master/sockets.js';

const ALL = SETTINGS as readonly AnySetting[];

describe('TSGI_* names follow the long flags', () => {
  test('every setting with a long flag is TSGI_ + the flag in capitals, dashes as underscores', () => {
    for (const setting of ALL) {
      const long = setting.cli.find((flag) => flag.startsWith('--'));
      if (long === undefined) continue;
      expect(setting.env, setting.name).toBe(`TSGI_${long.slice(2).toUpperCase().replace(/-/g, '_')}`);
    }
  });

  test('--access-logfile is TSGI_ACCESS_LOGFILE, --keep-alive is TSGI_KEEP_ALIVE, --error-logfile is TSGI_ERROR_LOGFILE', async () => {
    const { config, sources } = await loadConfig([], { TSGI_ACCESS_LOGFILE: '-', TSGI_KEEP_ALIVE: '7', TSGI_ERROR_LOGFILE: 'err.log' }, process.cwd());
    expect([config.accessLog, sources.accessLog]).toEqual(['-', 'env']);
    expect([config.keepalive, sources.keepalive]).toEqual([7, 'env']);
    expect([config.errorLog, sources.errorLog]).toEqual(['err.log', 'env']);
  });

  test('the app, which has no flag, is TSGI_APP', async () => {
    expect((await loadConfig([], { TSGI_APP: 'examples/hello:app' }, process.cwd())).app).toBe('examples/hello:app');
  });
});

describe('an unknown TSGI_* name is a warning that names the closest setting', () => {
  const cases: [string, string][] = [
    ['TSGI_WORKER', 'TSGI_WORKERS'],
    ['TSGI_ACCESS_LOG', 'TSGI_ACCESS_LOGFILE'],
    ['TSGI_KEEPALIVE', 'TSGI_KEEP_ALIVE'],
    ['TSGI_GRACEFULL_TIMEOUT', 'TSGI_GRACEFUL_TIMEOUT'],
  ];
  for (const [typo, meant] of cases) {
    test(`${typo} → did you mean ${meant}?`, async () => {
      const { config, warnings } = await loadConfig([], { [typo]: '3' }, process.cwd());
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(typo);
      expect(warnings[0]).toContain(`did you mean ${meant}`);
      expect(warnings[0]).toContain('docs/settings.md');
      expect(warnings[0]).not.toContain('\n');
      // Ignored, not applied to a guess and not an error.
      expect(config.workers).toBe(1);
    });
  }

  test('one warning per unknown name, none for settings or other variables', async () => {
    const { warnings } = await loadConfig([], { TSGI_WORKERS: '2', TSGI_WORKER: '2', TSGI_KEEPALIVE: '1', PATH: '/bin', WORKER: 'x' }, process.cwd());
    expect(warnings).toHaveLength(2);
    expect(warnings.join(' ')).toContain('TSGI_WORKER ');
    expect(warnings.join(' ')).toContain('TSGI_KEEPALIVE');
  });

  test("tsgi's own variables are not confusable with settings and are not warned about", async () => {
    expect(WORKER_ENV).not.toBe('TSGI_WORKER');
    for (const name of ['TSGI_CMD_ARGS', WORKER_ENV, LISTEN_FDS_ENV]) {
      const { warnings } = await loadConfig([], { [name]: name === 'TSGI_CMD_ARGS' ? '-w 2' : '1' }, process.cwd());
      expect(warnings, name).toEqual([]);
    }
  });
});
