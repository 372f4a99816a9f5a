/** The glob dialect of --reload-include and --reload-exclude. */
import { describe, expect, test } from 'vitest';
import { anyOf, globToRegExp } from '../../src/master/reloader.js';

describe('globToRegExp', () => {
  const cases: [glob: string, path: string, matches: boolean][] = [
    ['*.ts', 'app.ts', true],
    ['*.ts', 'src/app.ts', false], // `*` stops at `/`
    ['*.ts', '.hidden.ts', true], // dot names are not special
    ['?.ts', 'a.ts', true],
    ['?.ts', 'ab.ts', false],
    ['**/*.ts', 'app.ts', true], // `**/` may be no directory at all
    ['**/*.ts', 'a/b/c/app.ts', true],
    ['a/**/b', 'a/b', true],
    ['a/**/b', 'a/x/y/b', true],
    ['a/**/b', 'a/xb', false],
    ['src/**', 'src', true], // so the directory itself is pruned
    ['src/**', 'src/a/b.ts', true],
    ['src/**', 'srcs/a.ts', false],
    ['a**b', 'axxb', true], // not a whole segment: an ordinary `*`
    ['a**b', 'ax/b', false],
    ['*.{ts,json}', 'package.json', true],
    ['*.{ts,json}', 'app.mts', false],
    ['{src,lib}/*.{ts,mts}', 'lib/x.mts', true],
    ['file.{a,b{c,d}}', 'file.bd', true],
    ['file.{a,b{c,d}}', 'file.b', false],
    ['[abc].ts', 'b.ts', true],
    ['[a-c].ts', 'd.ts', false],
    ['[!abc].ts', 'd.ts', true],
    ['[!abc].ts', 'a.ts', false],
    ['[!a]', '/', false], // a negated class never crosses a directory
    ['a.b', 'axb', false], // RegExp characters are literal
    ['(x)+$', '(x)+$', true],
    ['\\*.ts', '*.ts', true],
    ['\\*.ts', 'a.ts', false],
    ['{a,b', '{a,b', true], // unclosed: literal
    ['[ab', '[ab', true],
    ['*~', 'app.ts~', true],
    ['.#*', '.#app.ts', true],
  ];
  test.each(cases)('%s against %s: %s', (glob, path, matches) => {
    expect(globToRegExp(glob).test(path)).toBe(matches);
  });
});

describe('anyOf', () => {
  const matcher = anyOf(['tmp', 'static/*.html', '*.log', './views/', '/srv/shared/**']);
  const cases: [relative: string, absolute: string, matches: boolean][] = [
    ['tmp', '/app/tmp', true], // by name…
    ['a/b/tmp/c.ts', '/app/a/b/tmp/c.ts', true], // …at any depth, with all it holds
    ['tmpl/c.ts', '/app/tmpl/c.ts', false],
    ['static/index.html', '/app/static/index.html', true], // with a `/`: from the root only
    ['x/static/index.html', '/app/x/static/index.html', false],
    ['static/css/a.css', '/app/static/css/a.css', false],
    ['logs/2024/app.log', '/app/logs/2024/app.log', true],
    ['views/index.html', '/app/views/index.html', true], // `./` and a trailing `/` are dropped
    ['x', '/srv/shared/x', true], // absolute patterns see absolute paths
    ['x', '/srv/other/x', false],
  ];
  test.each(cases)('%s (%s): %s', (relative, absolute, matches) => {
    expect(matcher(relative, absolute)).toBe(matches);
  });
});
