/**
 * Mutation testing (`npm run mutate`; docs/testing.md). Stryker changes the code under src/http,
 * src/gateway and the request driver one small way at a time and runs the tests that cover the
 * changed line; a mutant no test notices is a bug the suite would let through.
 *
 * Sized for two shared cores: per-test coverage runs only the tests that reach a mutant, two
 * runners at a time, and the incremental file lets a later run retest only what changed.
 */
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner', './test/mutation/message-ignorer.mjs'],
  // No mutants in log lines and error messages (test/mutation/message-ignorer.mjs says why).
  ignorers: ['messages'],
  vitest: { configFile: 'vitest.mutate.config.ts', related: false },
  coverageAnalysis: 'perTest',
  mutate: [
    'src/http/**/*.ts',
    'src/gateway/**/*.ts',
    '!src/gateway/types.ts',
    // The fetch and node adapters are tested end to end and through test/interfaces; not mutated yet.
    '!src/gateway/interfaces/**',
  ],
  // Four runners: a runner spends most of its time waiting (vitest between runs, timers in the
  // tests), so four of them use about one and a half cores.
  concurrency: 4,
  ignoreStatic: true,
  incremental: true,
  incrementalFile: 'reports/mutation/stryker-incremental.json',
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 90, low: 80, break: null },
  timeoutMS: 5_000,
  tempDirName: '.stryker-tmp',
  // Not copied into the sandbox: reports, and the sandboxes of a run going on beside this one.
  ignorePatterns: ['reports', '.stryker-tmp*', 'bench/results', 'dist'],
  // Stryker rewrites the tsconfig it copies into its sandbox with the TypeScript JS API, which
  // TypeScript 7 no longer has; ours has no extends or references to rewrite, so none is named.
  tsconfigFile: '',
  // Nothing type-checks the sandbox (vitest strips types), and a `// @ts-nocheck` line in the
  // example files would break the test that finds them quoted verbatim in docs/spec.md.
  disableTypeChecks: false,
  cleanTempDir: 'always',
};
