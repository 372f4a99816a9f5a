/**
 * Gunicorn users bring Gunicorn's flags and setting names. One tsgi does not have is answered with
 * what tsgi does instead and a pointer to docs/gunicorn.md, never with a look-alike tsgi flag
 * (`--preload` is not "did you mean --reload?"), and a bare port is not taken for a host name.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { parseCommandLine } from '../../src/config/cli.js';
import { parseBindAddress } from '../../src/config/bind.js';
import { ConfigError } from '../../src/config/errors.js';
import { GUNICORN_ONLY } from '../../src/config/gunicorn.js';
import { loadConfig } from '../../src/config/load.js';
import type { AnySetting } from '../../src/config/setting.js';
import { SETTINGS } from '../../src/config/settings.js';
import { configError, scratchDirectory } from './helpers.js';

const scratch = scratchDirectory();
afterAll(() => scratch.cleanup());

function refusal(argv: string[]): string {
  try {
    parseCommandLine(argv, 'the command line');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).not.toContain('\n');
    return (error as ConfigError).message;
  }
  throw new Error(`${argv.join(' ')} was accepted`);
}

const TSGI_FLAGS = new Set((SETTINGS as readonly AnySetting[]).flatMap((setting) => setting.cli));

describe('a Gunicorn flag tsgi does not have', () => {
  test('--preload says tsgi has no such flag, why, and points to docs/gunicorn.md, not to --reload', () => {
    const message = refusal(['--preload', 'app:app']);
    expect(message).toContain('--preload is a Gunicorn flag that tsgi does not have');
    expect(message).toContain('each worker loads the app itself');
    expect(message).toContain('docs/gunicorn.md');
    expect(message).not.toMatch(/did you mean/i);
  });

  test.each([
    [['--log-file', 'x.log'], 'use --error-logfile'],
    [['--limit-request-field_size', '100'], 'use --limit-request-field-size'],
    [['--reload-engine', 'poll'], 'use --reload-poll'],
    [['--http-parser', 'fast'], 'use --http'],
    [['-k', 'gevent'], 'one event loop'],
    [['--worker-class=uvicorn.workers.UvicornWorker'], 'one event loop'],
    [['-D'], 'supervisor'],
    [['-e', 'A=1'], 'environment'],
  ])('%s says what to use instead', (argv, instead) => {
    const message = refusal([...argv, 'app:app']);
    expect(message).toContain('Gunicorn flag that tsgi does not have');
    expect(message).toContain(instead);
    expect(message).toContain('docs/gunicorn.md');
  });

  test('every entry of the table answers this way, unless tsgi has since gained the flag', () => {
    for (const entry of GUNICORN_ONLY) {
      for (const flag of entry.flags) {
        if (TSGI_FLAGS.has(flag)) continue;
        const message = refusal([flag, 'x', 'app:app']);
        expect(message, flag).toContain(`${flag} is a Gunicorn flag that tsgi does not have`);
        expect(message, flag).toContain('docs/gunicorn.md');
      }
    }
  });

  test('an unknown flag that is not Gunicorn\'s still gets the closest tsgi flag', () => {
    expect(refusal(['--wrokers', '2', 'app:app'])).toMatch(/Did you mean --workers\?/);
  });

  test('a Gunicorn setting name in a config file gets the same answer, or the tsgi name', async () => {
    const preload = await configError(loadConfig(['-c', scratch.write('g1.json', JSON.stringify({ preload_app: true }))], {}, scratch.dir));
    expect(preload.message).toContain('"preload_app" is a Gunicorn setting that tsgi does not have');
    expect(preload.message).toContain('docs/gunicorn.md');
    const pidfile = await configError(loadConfig(['-c', scratch.write('g2.json', JSON.stringify({ pidfile: 'x.pid' }))], {}, scratch.dir));
    expect(pidfile.message).toContain('did you mean "pid"?');
    const procName = await configError(loadConfig(['-c', scratch.write('g3.json', JSON.stringify({ proc_name: 'web' }))], {}, scratch.dir));
    expect(procName.message).toContain('did you mean "name"?');
  });
});

describe('a bare port given to --bind', () => {
  test.each(['19114', ':19114'])('%s: did you mean 0.0.0.0:19114?', (text) => {
    let message = '';
    try {
      parseBindAddress(text);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('did you mean 0.0.0.0:19114?');
  });

  test('-b 19114 on the command line is refused before anything binds', async () => {
    const error = await configError(loadConfig(['-b', '19114', 'app:app'], {}, scratch.dir));
    expect(error.message).toContain('bind (from -b/--bind on the command line)');
    expect(error.message).toContain('did you mean 0.0.0.0:19114?');
  });
});
