/**
 * Settings from a config file (`-c/--config`). A `.json` file holds one object; a JavaScript file
 * (`.js`, `.mjs`, `.cjs`, or TypeScript `.ts`/`.mts`/`.cts`) provides a default export or
 * named exports. Keys are setting names; a key that is not one is an error, so a typo is never
 * silently ignored.
 */
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { extname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { enableTypeScript, isTypeScript } from '../loader/typescript.js';
import { closestName, sameWords } from './closest.js';
import { GUNICORN_RENAMED, gunicornSettingMessage } from './gunicorn.js';
import { ConfigError } from './errors.js';
import { SETTINGS, type SettingName } from './settings.js';

export const CONFIG_FILE_EXTENSIONS = ['.js', '.mjs', '.cjs', '.json', '.ts', '.mts', '.cts'] as const;

const SETTING_NAMES: readonly string[] = SETTINGS.map((setting) => setting.name);

// A config file is read again on every reload. A fresh URL each time bypasses the ESM cache; a
// CommonJS file is also in require's cache, keyed by path, which Node consults underneath.
let generation = 0;
const requireCache = createRequire(import.meta.url).cache;

/**
 * Reads `path` (absolute). `label` is how messages name the file; `origin` says where the path
 * itself came from (e.g. `--config on the command line`), for a file that cannot be read.
 */
export async function readConfigFile(path: string, label: string, origin: string): Promise<Map<SettingName, unknown>> {
  const extension = extname(path);
  if (!(CONFIG_FILE_EXTENSIONS as readonly string[]).includes(extension)) {
    throw new ConfigError(`${label} has an unsupported extension; use .js, .mjs, .cjs or .json`, { setting: 'config', source: origin });
  }
  const isFile = await stat(path).then((stats) => stats.isFile(), () => false);
  if (!isFile) throw new ConfigError(`config file ${path} does not exist`, { setting: 'config', source: origin });

  const settings = extension === '.json' ? await readJson(path, label) : await importModule(path, label);
  const values = new Map<SettingName, unknown>();
  for (const [key, value] of Object.entries(settings)) {
    if (value === undefined) continue;
    if (key === 'config') {
      throw new ConfigError('a config file cannot name another config file; remove the "config" key', { source: label });
    }
    if (!SETTING_NAMES.includes(key)) throw new ConfigError(unknownKeyMessage(key), { source: label });
    values.set(key as SettingName, value);
  }
  return values;
}

/** A tsgi name spelt Gunicorn's way or renamed, else what Gunicorn users should know, else the closest name. */
function unknownKeyMessage(key: string): string {
  const closest = GUNICORN_RENAMED[key] ?? closestName(key, SETTING_NAMES)!;
  const gunicorn = GUNICORN_RENAMED[key] === undefined && !sameWords(key, closest) ? gunicornSettingMessage(key) : undefined;
  return gunicorn ?? `unknown setting "${key}"; did you mean "${closest}"? (every setting: docs/settings.md)`;
}

async function readJson(path: string, label: string): Promise<Record<string, unknown>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`not valid JSON: ${firstLine(error)}`, { source: label }, { cause: error });
  }
  return settingsObject(parsed, label, 'the JSON value');
}

async function importModule(path: string, label: string): Promise<Record<string, unknown>> {
  let namespace: Record<string, unknown>;
  delete requireCache[path];
  try {
    // A TypeScript config file loads the way a TypeScript app does.
    if (isTypeScript(path)) await enableTypeScript();
    namespace = (await import(`${pathToFileURL(path).href}?generation=${++generation}`)) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError(`could not be loaded: ${firstLine(error)}`, { source: label }, { cause: error });
  }
  // A CommonJS file's module.exports arrives as `default`, so `default` wins over named exports.
  if ('default' in namespace) return settingsObject(namespace.default, label, 'the default export');
  return { ...namespace };
}

function settingsObject(value: unknown, label: string, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
    throw new ConfigError(`${what} must be an object of settings, got ${got}`, { source: label });
  }
  return value as Record<string, unknown>;
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return message.split('\n')[0]!;
}
