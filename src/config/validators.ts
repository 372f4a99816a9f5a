/**
 * Range and format checks shared by settings. Each throws a ConfigError carrying only the reason;
 * the setting adds its own name (see `build` in setting.ts).
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from './errors.js';
import type { SettingContext } from './setting.js';

export function atLeast(min: number, meaning = ''): (value: number) => void {
  return (value) => {
    if (value < min) throw new ConfigError(`expected a number >= ${min}${meaning}, got ${value}`);
  };
}

export function between(min: number, max: number, meaning = ''): (value: number) => void {
  return (value) => {
    if (value < min || value > max) throw new ConfigError(`expected a number from ${min} to ${max}${meaning}, got ${value}`);
  };
}

export function nonEmpty(value: string | null): void {
  if (value === '') throw new ConfigError('expected a non-empty string, got ""');
}

export function eachNonEmpty(values: readonly string[]): void {
  if (values.some((value) => value.trim() === '')) throw new ConfigError(`expected non-empty strings, got ${JSON.stringify(values)}`);
}

/** A directory that exists; relative paths are taken from the directory tsgi started in. */
export function existingDirectory(value: string, ctx: SettingContext): void {
  const path = resolve(ctx.cwd, value);
  let isDirectory = false;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch {
    throw new ConfigError(`directory ${JSON.stringify(path)} does not exist`);
  }
  if (!isDirectory) throw new ConfigError(`${JSON.stringify(path)} is not a directory`);
}

// POSIX portable user and group names (useradd's rule), or a numeric id.
const ACCOUNT_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/;

export function userOrId(value: string | null): void {
  if (value === null) return;
  if (/^\d+$/.test(value) || ACCOUNT_NAME.test(value)) return;
  throw new ConfigError(`expected a name (letters, digits, _ . -) or a numeric id, got ${JSON.stringify(value)}`);
}

/**
 * A umask as people write one: `022` and `0o22` are octal, `0x12` hex, `18` decimal (Gunicorn
 * reads a leading zero as octal too).
 */
export function parseMode(text: string): number {
  let value = Number.NaN;
  if (/^0[0-9]+$/.test(text)) value = /^0[0-7]+$/.test(text) ? Number.parseInt(text.slice(1), 8) : Number.NaN;
  else if (/^0o[0-7]+$/i.test(text)) value = Number.parseInt(text.slice(2), 8);
  else if (/^0x[0-9a-f]+$/i.test(text)) value = Number.parseInt(text.slice(2), 16);
  else if (/^\d+$/.test(text)) value = Number(text);
  if (Number.isNaN(value)) throw new ConfigError(`expected an octal mode such as 022 or 0o022, got ${JSON.stringify(text)}`);
  return value;
}

/** A permission mask: 0 to 0777, shown in octal because that is how people write one. */
export function modeMask(value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0o777) {
    const shown = Number.isInteger(value) && value >= 0 ? `0${value.toString(8)}` : String(value);
    throw new ConfigError(`expected a mode from 0 to 0777, got ${shown}`);
  }
}

/** A path prefix: '' or "/a/b", no trailing slash, no query, no control characters. */
export function rootPath(value: string): void {
  if (value === '') return;
  if (!value.startsWith('/') || value.endsWith('/') || /[?#\s\x00-\x1f\x7f]/.test(value)) {
    throw new ConfigError(`expected '' or a path like /app (a leading slash, no trailing slash, no query), got ${JSON.stringify(value)}`);
  }
}
