import { describe, expect, test } from 'vitest';
import { defaultConfig } from '../../src/config/load.js';
import { defaultValue, envName, hookSetting, SECTIONS, type AnySetting } from '../../src/config/setting.js';
import { SETTINGS, type Config } from '../../src/config/settings.js';

const ALL = SETTINGS as readonly AnySetting[];

describe('the settings table', () => {
  test('names are unique camelCase', () => {
    const names = ALL.map((setting) => setting.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[a-z][a-zA-Z0-9]*$/);
  });

  test('flags are unique, well formed, short flag first', () => {
    const flags = ALL.flatMap((setting) => setting.cli);
    expect(new Set(flags).size).toBe(flags.length);
    for (const setting of ALL) {
      for (const flag of setting.cli) expect(flag).toMatch(/^(-[a-zA-Z]|--[a-z][a-z0-9-]*)$/);
      const longs = setting.cli.filter((flag) => flag.startsWith('--'));
      if (!setting.positional && setting.type !== 'hook') expect(longs).toHaveLength(1);
      expect([...setting.cli].sort((a, b) => a.length - b.length)).toEqual([...setting.cli]);
    }
    // Taken by --help and --version.
    expect(flags).not.toContain('-h');
    expect(flags).not.toContain('-v');
  });

  test('environment variables are TSGI_ + the long flag (the app: its name), and unique', () => {
    for (const setting of ALL) if (setting.env !== null) expect(setting.env).toBe(envName(setting.name, setting.cli));
    expect(envName('gracefulTimeout', ['--graceful-timeout'])).toBe('TSGI_GRACEFUL_TIMEOUT');
    expect(envName('accessLog', ['--access-logfile'])).toBe('TSGI_ACCESS_LOGFILE');
    expect(envName('workers', ['-w', '--workers'])).toBe('TSGI_WORKERS');
    expect(envName('app', [])).toBe('TSGI_APP');
    const names = ALL.flatMap((setting) => (setting.env === null ? [] : [setting.env]));
    expect(new Set(names).size).toBe(names.length);
    // Hooks are functions: only a config file can hold one.
    for (const setting of ALL) if (setting.type === 'hook') expect(setting.env).toBeNull();
  });

  test('every setting is documented and in a known section', () => {
    for (const setting of ALL) {
      expect(SECTIONS).toContain(setting.section);
      // help is one sentence on one line; desc carries the rest.
      expect(setting.help).toMatch(/^[A-Z\w].*[.)]$/);
      expect(setting.help).not.toContain('\n');
      expect(setting.desc.trim().length).toBeGreaterThan(20);
      if (typeof setting.default === 'function' && setting.type !== 'hook') expect(setting.defaultText).toBeDefined();
      if (setting.type === 'choice') expect(setting.choices).toContain(setting.default);
    }
  });

  test('Config has exactly one field per setting, each default valid', () => {
    const config: Config = defaultConfig({}, process.cwd());
    expect(Object.keys(config).sort()).toEqual(ALL.map((setting) => setting.name).sort());
    for (const setting of ALL) expect(() => setting.validate(config[setting.name as keyof Config], { env: {}, cwd: process.cwd() })).not.toThrow();
  });

  test('the brief\'s Gunicorn defaults', () => {
    const config = defaultConfig({}, '/');
    expect(config).toMatchObject({
      bind: ['127.0.0.1:8000'],
      workers: 1,
      http: 'tsgi',
      backlog: 2048,
      timeout: 30,
      gracefulTimeout: 30,
      keepalive: 5,
      limitRequestLine: 4094,
      limitRequestFields: 100,
      limitRequestFieldSize: 8190,
      maxRequests: 0,
      maxRequestsJitter: 0,
      requestTimeout: 0,
      logLevel: 'info',
      accessLog: null,
      errorLog: '-',
      logFormat: 'auto',
      name: null,
      config: null,
      pid: null,
      chdir: '/',
      reload: false,
      reloadBatch: 1,
      printConfig: false,
      checkConfig: false,
      user: null,
      group: null,
      umask: 0,
      app: null,
    });
  });

  test('PORT and WEB_CONCURRENCY change the defaults', () => {
    const config = defaultConfig({ PORT: '5000', WEB_CONCURRENCY: '3' }, '/');
    expect(config.bind).toEqual(['0.0.0.0:5000']);
    expect(config.workers).toBe(3);
  });
});

describe('hook settings (for server hooks to come)', () => {
  const onStarting = hookSetting<'onStarting', (server: unknown) => void>({
    name: 'onStarting',
    section: 'Server Hooks',
    arity: 1,
    help: 'Called once in the master before the first worker starts.',
    desc: 'A config-file-only function.',
  });

  test('only a config file can set one', () => {
    expect(onStarting.cli).toEqual([]);
    expect(onStarting.env).toBeNull();
    expect(onStarting.type).toBe('hook');
    expect(defaultValue(onStarting, { env: {}, cwd: '/' })).toBeNull();
  });

  test('takes a function of at most `arity` parameters, or null', () => {
    const hook = (server: unknown): void => void server;
    expect(onStarting.coerce(hook)).toBe(hook);
    expect(onStarting.coerce(() => {})).toBeInstanceOf(Function);
    expect(onStarting.coerce(null)).toBeNull();
    expect(() => onStarting.coerce((a: unknown, b: unknown) => [a, b])).toThrow(
      'onStarting: expected a function taking up to 1 argument(s) (this one declares 2)',
    );
    expect(() => onStarting.coerce('console.log')).toThrow('onStarting: expected a function taking up to 1 argument(s), got "console.log"');
  });
});
