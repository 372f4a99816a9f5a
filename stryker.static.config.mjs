/**
 * `npm run mutate:static`: the mutants `npm run mutate` skips because they sit in code that runs
 * once, at import (ignoreStatic): the response and request grammar written as module-level
 * regular expressions and tables. Per-test coverage cannot narrow them down, so each one runs every
 * test of a small, fast set (vitest.static.config.ts) instead of the whole in-process suite.
 */
import base from './stryker.config.mjs';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  ...base,
  vitest: { configFile: 'vitest.static.config.ts', related: false },
  mutate: [
    'src/http/grammar.ts',
    // STATUS, ASCII, CONTENT_LENGTH and HOP_BY_HOP
    'src/gateway/app-headers.ts:19-34',
    // NEEDS_DECODING
    'src/http/target.ts:63-66',
  ],
  ignoreStatic: false,
  incrementalFile: 'reports/mutation-static/stryker-incremental.json',
  htmlReporter: { fileName: 'reports/mutation-static/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation-static/mutation.json' },
};
