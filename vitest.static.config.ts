/**
 * The tests `npm run mutate:static` runs against every static mutant (stryker.static.config.mjs):
 * those that read the grammar, the response header checks and the request targets directly.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // As vitest.mutate.config.ts: one module graph, and a pending promise fails within 5 s.
    isolate: false,
    testTimeout: 5_000,
    hookTimeout: 5_000,
    include: [
      'test/http/grammar.test.ts',
      'test/http/corpus.test.ts',
      'test/http/parser.test.ts',
      'test/http/target.test.ts',
      'test/gateway/app-headers.test.ts',
      'test/gateway/cycle.test.ts',
    ],
  },
});
