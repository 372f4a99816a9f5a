import { afterAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { configError, scratchDirectory } from './helpers.js';

const scratch = scratchDirectory();
afterAll(() => scratch.cleanup());
const cwd = scratch.dir;

describe('precedence: CLI > TSGI_CMD_ARGS > TSGI_<FLAG> > config file > defaults', () => {
  const file = scratch.write('layers.json', JSON.stringify({ workers: 2, timeout: 2, keepalive: 2, backlog: 2, name: 'file' }));
  const env = { TSGI_CONFIG: file, TSGI_WORKERS: '3', TSGI_TIMEOUT: '3', TSGI_KEEP_ALIVE: '3', TSGI_CMD_ARGS: '-w 4 -t 4' };

  test('each setting comes from the highest source that has it, and says which', async () => {
    const { config, sources } = await loadConfig(['--workers', '5'], env, cwd);
    expect([config.workers, sources.workers]).toEqual([5, 'cli']);
    expect([config.timeout, sources.timeout]).toEqual([4, 'env']); // TSGI_CMD_ARGS
    expect([config.keepalive, sources.keepalive]).toEqual([3, 'env']); // TSGI_KEEP_ALIVE
    expect([config.backlog, sources.backlog]).toEqual([2, 'file']);
    expect([config.name, sources.name]).toEqual(['file', 'file']);
    expect([config.gracefulTimeout, sources.gracefulTimeout]).toEqual([30, 'default']);
    expect([config.config, sources.config]).toEqual([file, 'env']);
  });

  test('TSGI_CMD_ARGS beats TSGI_<FLAG>', async () => {
    const { config } = await loadConfig([], { TSGI_WORKERS: '3', TSGI_CMD_ARGS: '--workers 4' }, cwd);
    expect(config.workers).toBe(4);
  });

  test('PORT and WEB_CONCURRENCY rank below a config file', async () => {
    const path = scratch.write('below.json', JSON.stringify({ workers: 6, bind: 'unix:/tmp/x.sock' }));
    const { config, sources } = await loadConfig(['-c', path], { PORT: '5000', WEB_CONCURRENCY: '9' }, cwd);
    expect(config.workers).toBe(6);
    expect(config.bind).toEqual(['unix:/tmp/x.sock']);
    expect(sources.bind).toBe('file');
    const defaults = await loadConfig([], { PORT: '5000', WEB_CONCURRENCY: '9' }, cwd);
    expect(defaults.config.bind).toEqual(['0.0.0.0:5000']);
    expect(defaults.config.workers).toBe(9);
    expect(defaults.sources.workers).toBe('default');
  });

  test('a list from a higher source replaces the lower one', async () => {
    const { config } = await loadConfig(['-b', '127.0.0.1:1', '--bind', 'unix:/tmp/s'], { TSGI_BIND: '0.0.0.0:2,[::1]:3' }, cwd);
    expect(config.bind).toEqual(['127.0.0.1:1', 'unix:/tmp/s']);
    const fromEnv = await loadConfig([], { TSGI_BIND: ' 0.0.0.0:2 , [::1]:3 ' }, cwd);
    expect(fromEnv.config.bind).toEqual(['0.0.0.0:2', '[::1]:3']);
  });

  test('--no-FLAG turns off a flag a lower source turned on', async () => {
    const onInEnv = { TSGI_RELOAD: 'yes' };
    expect((await loadConfig([], onInEnv, cwd)).config.reload).toBe(true);
    expect((await loadConfig(['--no-reload'], onInEnv, cwd)).config.reload).toBe(false);
    expect((await loadConfig(['--reload'], {}, cwd)).config.reload).toBe(true);
  });

  test('an empty environment variable counts as unset', async () => {
    const { config, sources } = await loadConfig([], { TSGI_WORKERS: '', PORT: '', TSGI_CMD_ARGS: '  ' }, cwd);
    expect([config.workers, sources.workers]).toEqual([1, 'default']);
    expect(config.bind).toEqual(['127.0.0.1:8000']);
  });

  test('the app comes from the positional argument, TSGI_CMD_ARGS, TSGI_APP or the file', async () => {
    expect((await loadConfig(['hello:app', '-w', '2'], {}, cwd)).app).toBe('hello:app');
    expect((await loadConfig([], { TSGI_CMD_ARGS: 'env:app' }, cwd)).app).toBe('env:app');
    expect((await loadConfig([], { TSGI_APP: 'var:app' }, cwd)).app).toBe('var:app');
    const path = scratch.write('app.json', JSON.stringify({ app: 'file:app' }));
    expect((await loadConfig(['-c', path], {}, cwd)).app).toBe('file:app');
    expect((await loadConfig([], {}, cwd)).app).toBeUndefined();
  });

  test('values are typed: numbers, floats, booleans, umask in octal', async () => {
    const { config } = await loadConfig(['-t', '2.5', '--umask', '022', '--print-config'], { TSGI_CHECK_CONFIG: 'true' }, cwd);
    expect(config.timeout).toBe(2.5);
    expect(config.umask).toBe(0o22);
    expect(config.printConfig).toBe(true);
    expect(config.checkConfig).toBe(true);
    expect((await loadConfig(['-m', '0o027'], {}, cwd)).config.umask).toBe(0o27);
    expect((await loadConfig(['-m', '18'], {}, cwd)).config.umask).toBe(18);
  });
});

describe('errors name the setting, the source, what is wrong and what is valid', () => {
  test.each([
    [['-w', '0'], {}, 'workers (from -w/--workers on the command line): expected a number >= 1, got 0'],
    [['-w', 'many'], {}, 'workers (from -w/--workers on the command line): expected an integer, got "many"'],
    [['-w', '2.5'], {}, 'expected an integer, got "2.5"'],
    [[], { TSGI_WORKERS: '-1' }, 'workers (from TSGI_WORKERS): expected a number >= 1, got -1'],
    [[], { WEB_CONCURRENCY: 'four' }, 'workers (from WEB_CONCURRENCY): expected an integer, got "four"'],
    [[], { PORT: 'http' }, 'bind (from PORT): "0.0.0.0:http" has port "http"'],
    [[], { TSGI_CMD_ARGS: '--timeout soon' }, 'timeout (from -t/--timeout in TSGI_CMD_ARGS): expected a number, got "soon"'],
    [['--http', 'h2'], {}, 'http (from --http on the command line): expected one of tsgi, node, got "h2"'],
    [['--log-level', 'warn'], {}, 'expected one of debug, info, warning, error, critical, got "warn"'],
    [['--limit-request-line', '9000'], {}, 'limitRequestLine (from --limit-request-line on the command line): expected a number from 0 to 8190 (0 = no limit), got 9000'],
    [['--limit-request-fields', '40000'], {}, 'expected a number from 0 to 32768'],
    [['--keep-alive', '-1'], {}, 'keepalive (from --keep-alive on the command line): expected a number >= 0, got -1'],
    [[], { TSGI_RELOAD: 'maybe' }, 'reload (from TSGI_RELOAD): expected true or false (or 1/0, yes/no, on/off), got "maybe"'],
    [['-m', '0999'], {}, 'umask (from -m/--umask on the command line): expected an octal mode such as 022'],
    [['-m', '01000'], {}, 'umask (from -m/--umask on the command line): expected a mode from 0 to 0777, got 01000'],
    [['-m', '-1'], {}, 'umask (from -m/--umask on the command line): expected an octal mode such as 022'],
    [['-u', 'bad user'], {}, 'user (from -u/--user on the command line): expected a name'],
    [['--chdir', 'no/such/dir'], {}, 'chdir (from --chdir on the command line): directory'],
    [['--wrkers', '2'], {}, "the command line: unknown option '--wrkers' (Did you mean --workers?); run tsgi --help to see every option"],
    [['-w'], {}, "the command line: option '-w, --workers <INT>' argument missing"],
    [['one', 'two'], {}, 'the command line: too many arguments'],
    [[], { TSGI_CMD_ARGS: '--nope' }, "TSGI_CMD_ARGS: unknown option '--nope'"],
    [[], { TSGI_CMD_ARGS: '--name "unclosed' }, 'TSGI_CMD_ARGS: unterminated double quote'],
    [['-c', 'missing.json'], {}, 'config (from -c/--config on the command line): config file'],
    [[], { TSGI_CONFIG: 'settings.yaml' }, 'config (from TSGI_CONFIG): settings.yaml has an unsupported extension; use .js, .mjs, .cjs or .json'],
  ] as [string[], NodeJS.ProcessEnv, string][])('%j %j', async (argv, env, message) => {
    const error = await configError(loadConfig(argv, env, cwd));
    expect(error.message).toContain(message);
  });

  test('the error keeps the setting and the source as fields', async () => {
    const error = await configError(loadConfig([], { TSGI_BACKLOG: '0' }, cwd));
    expect(error.setting).toBe('backlog');
    expect(error.source).toBe('TSGI_BACKLOG');
    expect(error.reason).toBe('expected a number >= 1, got 0');
  });
});
