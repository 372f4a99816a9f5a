import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Installs nginx, haproxy, openssl and systemd-socket-activate when missing (apt-get).
    globalSetup: ['test/helpers/global-setup.ts'],
    // End-to-end tests spawn real servers; two cores, so keep files from starving each other.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
