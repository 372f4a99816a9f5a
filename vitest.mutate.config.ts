/**
 * The tests `npm run mutate` runs against each mutant: the in-process ones that import src/http,
 * src/gateway and src/engines directly. End-to-end tests start bin/tsgi.js on the compiled dist/,
 * which never holds a mutant, so they are left out (and so is the global setup that installs
 * system packages for them). The parser's scale tests are left out too: they bound the time of
 * whole-head parses on a shared machine, which means nothing while a mutant runs, and they take
 * seconds for each parser mutant; the slow mutants they would catch are named in docs/testing.md.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/http/**/*.test.ts', 'test/gateway/**/*.test.ts', 'test/engines/**/*.test.ts', 'test/interfaces/**/*.test.ts'],
    exclude: ['test/http/parser-scale.test.ts'],
    // One module graph for all files and runs: Stryker reruns a few tests per mutant thousands of
    // times, and re-importing the test files each time costs more than the tests.
    isolate: false,
    // A mutant that leaves a promise pending fails its test here, rather than making Stryker
    // time the whole runner out and restart it (which costs ten times as much).
    testTimeout: 5_000,
    hookTimeout: 5_000,
  },
});
