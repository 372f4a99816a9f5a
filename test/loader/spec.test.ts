import { describe, expect, test } from 'vitest';
import { AppSpecError } from '../../src/loader/errors.js';
import { parseAppSpec } from '../../src/loader/spec.js';

describe('parseAppSpec', () => {
  test.each([
    ['app', { module: 'app', path: ['default'], args: null }],
    ['examples/hello', { module: 'examples/hello', path: ['default'], args: null }],
    ['./app.js:app', { module: './app.js', path: ['app'], args: null }],
    ['app:handlers.main', { module: 'app', path: ['handlers', 'main'], args: null }],
    ['app:$_x.y1', { module: 'app', path: ['$_x', 'y1'], args: null }],
    ['app:create()', { module: 'app', path: ['create'], args: [] }],
    ['app:create( )', { module: 'app', path: ['create'], args: [] }],
    [`app:create('arg', "x")`, { module: 'app', path: ['create'], args: ['arg', 'x'] }],
    [`app:create('a,b', ")")`, { module: 'app', path: ['create'], args: ['a,b', ')'] }],
    [`app:create('it\\'s', "say \\"hi\\"", '\\n\\t\\\\', '\\x41\\u00e9')`, { module: 'app', path: ['create'], args: ["it's", 'say "hi"', '\n\t\\', 'Aé'] }],
    [`app:create('trailing',)`, { module: 'app', path: ['create'], args: ['trailing'] }],
    [`app:factories.build('a:b')`, { module: 'app', path: ['factories', 'build'], args: ['a:b'] }],
    // docs/spec.md §7.2: `\0` is NUL even before a digit; a line break stands for itself; ws around ATTR.
    [`app: create('\\01', 'a\nb') `, { module: 'app', path: ['create'], args: ['\u00001', 'a\nb'] }],
  ])('%s', (spec, expected) => {
    expect(parseAppSpec(spec)).toEqual(expected);
  });

  test.each([
    [':app', 'MODULE is empty'],
    ['app:', 'ATTR after ":" is empty'],
    ['app:1x', 'expected a name at "1x"'],
    ['app:a..b', 'expected a name at ".b"'],
    ['app:a.', 'expected a name at ""'],
    ['app:a b', 'unexpected " b" after "a"'],
    ['app:create(1)', 'factory arguments must be quoted strings, got "1)"'],
    ['app:create(x)', 'factory arguments must be quoted strings'],
    ["app:create('a' 'b')", 'expected "," or ")" after an argument'],
    ["app:create('a'", 'expected "," or ")" after an argument, got "the end"'],
    ["app:create('a)", 'a string argument is not closed'],
    ["app:create('a')x", 'unexpected "x" after the call'],
    ["app:create('\\q')", 'unsupported escape "\\\\q"'],
    ['app:create(process.exit())', 'factory arguments must be quoted strings'],
    ['app:create(`a`)', 'factory arguments must be quoted strings'],
    ["app:create('\\u{41}')", 'unsupported escape'],
    ["app:create('\\b')", 'unsupported escape'],
    ['app:create(,)', 'factory arguments must be quoted strings'],
  ])('rejects %s', (spec, why) => {
    let error: unknown;
    try {
      parseAppSpec(spec);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(AppSpecError);
    const specError = error as AppSpecError;
    expect(specError.code).toBe('TSGI_ERR_APP_SPEC');
    expect(specError.message).toContain(`Invalid app spec ${JSON.stringify(spec)}: `);
    expect(specError.message).toContain(why);
    expect(specError.message).not.toContain('\n');
  });
});
