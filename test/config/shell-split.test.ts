import { describe, expect, test } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { shellSplit } from '../../src/config/shell-split.js';

describe('shellSplit (TSGI_CMD_ARGS)', () => {
  test.each([
    ['', []],
    ['   ', []],
    ['-w 4', ['-w', '4']],
    ['  -w\t4 \n --reload ', ['-w', '4', '--reload']],
    [`--name 'my app'`, ['--name', 'my app']],
    [`--name "my app"`, ['--name', 'my app']],
    [`--name my\\ app`, ['--name', 'my app']],
    [`'single $HOME \\n'`, ['single $HOME \\n']],
    [`"a \\"quoted\\" \\\\ \\$x \\n"`, ['a "quoted" \\ $x \\n']],
    [`a'b'"c"d`, ['abcd']],
    [`''`, ['']],
    [`-b a \\\n-b b`, ['-b', 'a', '-b', 'b']],
    [`"line \\\ncontinued"`, ['line continued']],
    [`$(rm -rf /) \`x\``, ['$(rm', '-rf', '/)', '`x`']],
  ])('%j', (text, expected) => {
    expect(shellSplit(text)).toEqual(expected);
  });

  test.each([
    [`'open`, 'unterminated single quote'],
    [`"open`, 'unterminated double quote'],
    [`end\\`, 'trailing backslash'],
  ])('rejects %j', (text, why) => {
    expect(() => shellSplit(text)).toThrow(ConfigError);
    expect(() => shellSplit(text)).toThrow(`TSGI_CMD_ARGS: ${why}`);
  });
});
