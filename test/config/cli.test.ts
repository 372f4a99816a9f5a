import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { CliExit, helpText, parseCommandLine } from '../../src/config/cli.js';
import { displayDefault } from '../../src/config/format.js';
import type { AnySetting } from '../../src/config/setting.js';
import { SETTINGS } from '../../src/config/settings.js';

const ALL = SETTINGS as readonly AnySetting[];

function exitOf(argv: string[]): CliExit {
  try {
    parseCommandLine(argv, 'the command line');
  } catch (error) {
    if (error instanceof CliExit) return error;
    throw error;
  }
  throw new Error(`${argv.join(' ')} did not ask to exit`);
}

describe('tsgi --help', () => {
  const help = helpText();
  // Commander wraps long descriptions to the terminal width.
  const flat = help.replace(/\s+/g, ' ');

  test('shows every option with its default, grouped by section', () => {
    for (const setting of ALL) {
      if (setting.positional) {
        expect(help).toContain(`[${setting.meta}]`);
        continue;
      }
      // Hooks are functions: they come from a config file only and have no flag.
      if (setting.cli.length === 0) continue;
      for (const flag of setting.cli) expect(help).toContain(flag);
      expect(flat).toContain(setting.help);
      expect(flat).toContain(`(default: ${displayDefault(setting)})`);
      expect(help).toContain(`${setting.section}:`);
    }
  });

  test('--help and -h print it; --version and -v print the package version', () => {
    for (const flag of ['--help', '-h']) {
      const exit = exitOf([flag]);
      expect(exit.exitCode).toBe(0);
      expect(exit.output).toBe(help);
    }
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) expect(exitOf([flag]).output).toBe(`${version}\n`);
  });
});

describe('parseCommandLine', () => {
  test('keeps values as written, for the settings to check', () => {
    const values = parseCommandLine(['app:app', '-w', 'x', '-b', 'a', '--bind', 'b', '--reload', '--keep-alive', '7'], 'the command line');
    expect(Object.fromEntries(values)).toEqual({ app: 'app:app', workers: 'x', bind: ['a', 'b'], reload: true, keepalive: '7' });
  });

  test('options and the positional argument may come in any order', () => {
    expect(Object.fromEntries(parseCommandLine(['-w', '2', 'mod:app', '--log-level=debug'], 'x'))).toEqual({
      workers: '2',
      app: 'mod:app',
      logLevel: 'debug',
    });
  });

  test('an option value may start with a dash (so validation, not parsing, rejects -1)', () => {
    expect(parseCommandLine(['-t', '-1'], 'x').get('timeout')).toBe('-1');
  });

  test('nothing written, nothing returned', () => {
    expect(parseCommandLine([], 'x').size).toBe(0);
  });
});
