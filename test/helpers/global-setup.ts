/**
 * vitest globalSetup: once per `npm test`, before any test file, installs the system packages
 * the end-to-end tests use (test/helpers/system.ts).
 */
import { ensurePackages, PACKAGES } from './system.js';

export default function setup(): void {
  const { missing, log } = ensurePackages(Object.values(PACKAGES));
  if (missing.length > 0) {
    process.stderr.write(`global setup: could not install ${missing.map((p) => p.name).join(', ')}; the tests that need them will fail\n${log.slice(-2000)}\n`);
  }
}
