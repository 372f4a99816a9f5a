import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';

/** A fresh directory for config files; `cleanup` removes it. */
export function scratchDirectory(): { dir: string; write: (name: string, text: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-config-'));
  return {
    dir,
    write: (name, text) => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Awaits `promise`, expects a one-line ConfigError, and returns it. */
export async function configError(promise: Promise<unknown>): Promise<ConfigError> {
  let error: unknown;
  try {
    await promise;
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(ConfigError);
  const configError = error as ConfigError;
  expect(configError.code).toBe('TSGI_ERR_CONFIG');
  expect(configError.message).not.toContain('\n');
  return configError;
}
