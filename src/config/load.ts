/**
 * Resolves the final configuration from every source. Highest precedence first:
 *
 *   1. the command line,
 *   2. `TSGI_CMD_ARGS` (extra command-line arguments, shell-split),
 *   3. `TSGI_<FLAG>` environment variables (`--keep-alive` is `TSGI_KEEP_ALIVE`),
 *   4. the config file (`-c/--config`, which the three sources above may name),
 *   5. defaults, some of which read the environment (`PORT`, `WEB_CONCURRENCY`), as in Gunicorn.
 *
 * Each setting takes its value from the highest source that has one, and every value, defaults
 * included, goes through the setting's own coercion and validation.
 */
import { isAbsolute, relative, resolve } from 'node:path';
import { parseCommandLine } from './cli.js';
import { checkCombinations } from './combinations.js';
import { ConfigError } from './errors.js';
import { readEnvironment, unknownVariables } from './env.js';
import { readConfigFile } from './file.js';
import type { ConfigSource } from './format.js';
import { defaultValue, type AnySetting, type SettingContext } from './setting.js';
import { SETTINGS, type Config, type SettingName } from './settings.js';
import { shellSplit } from './shell-split.js';

export interface LoadedConfig {
  config: Config;
  /** The app spec (`MODULE[:ATTR]`) from any source, or undefined when none named one. */
  app: string | undefined;
  sources: Record<SettingName, ConfigSource>;
  /**
   * What deserves a warning but does not stop tsgi (a `TSGI_*` variable that is no setting), one
   * line each. The master logs them once, at start.
   */
  warnings: string[];
}

/** A source's values and how error messages name the place a value came from. */
interface Layer {
  source: ConfigSource;
  values: Map<SettingName, unknown>;
  where: (setting: AnySetting) => string;
}

const ALL = SETTINGS as readonly AnySetting[];

/**
 * `argv` is the command line without `node` and the script (`process.argv.slice(2)`). Throws
 * ConfigError for any invalid value, and CliExit (from cli.ts) for `--help` and `--version`.
 */
export async function loadConfig(argv: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<LoadedConfig> {
  const ctx: SettingContext = { env, cwd };
  const layers: Layer[] = [
    {
      source: 'cli',
      values: parseCommandLine(argv, 'the command line'),
      where: (setting) => (setting.positional ? 'the command line' : `${setting.cli.join('/')} on the command line`),
    },
  ];
  const extraArgs = env.TSGI_CMD_ARGS;
  if (extraArgs !== undefined && extraArgs.trim() !== '') {
    layers.push({
      source: 'env',
      values: parseCommandLine(shellSplit(extraArgs), 'TSGI_CMD_ARGS'),
      where: (setting) => (setting.positional ? 'TSGI_CMD_ARGS' : `${setting.cli.join('/')} in TSGI_CMD_ARGS`),
    });
  }
  const fromEnv = readEnvironment(env);
  layers.push({
    source: 'env',
    values: new Map([...fromEnv].map(([name, { raw }]) => [name, raw])),
    where: (setting) => fromEnv.get(setting.name as SettingName)?.variable ?? String(setting.env),
  });

  // The config file is itself a setting, so it can only come from the sources above it.
  const configSetting = ALL.find((setting) => setting.name === 'config')!;
  const configPath = resolveFrom(configSetting, layers, ctx);
  if (configPath !== undefined && configPath.value !== null) {
    const path = resolve(cwd, configPath.value as string);
    const label = displayPath(path, cwd);
    layers.push({ source: 'file', values: await readConfigFile(path, label, configPath.where), where: () => label });
  }

  const config: Record<string, unknown> = {};
  const sources: Record<string, ConfigSource> = {};
  const where: Record<string, string> = {};
  for (const setting of ALL) {
    const found = resolveFrom(setting, layers, ctx);
    if (found !== undefined) {
      config[setting.name] = found.value;
      sources[setting.name] = found.source;
      where[setting.name] = found.where;
    } else {
      config[setting.name] = resolveDefault(setting, ctx);
      sources[setting.name] = 'default';
    }
  }
  checkCombinations(config as Config, sources as Record<SettingName, ConfigSource>, where);
  return {
    config: config as Config,
    app: (config.app as string | null) ?? undefined,
    sources: sources as Record<SettingName, ConfigSource>,
    warnings: unknownVariables(env),
  };
}

/** Every setting at its default for this environment and directory. */
export function defaultConfig(env: NodeJS.ProcessEnv = {}, cwd: string = process.cwd()): Config {
  const config: Record<string, unknown> = {};
  for (const setting of ALL) config[setting.name] = resolveDefault(setting, { env, cwd });
  return config as Config;
}

function resolveFrom(
  setting: AnySetting,
  layers: readonly Layer[],
  ctx: SettingContext,
): { value: unknown; source: ConfigSource; where: string } | undefined {
  for (const layer of layers) {
    if (!layer.values.has(setting.name as SettingName)) continue;
    const where = layer.where(setting);
    return { value: check(setting, layer.values.get(setting.name as SettingName), where, ctx), source: layer.source, where };
  }
  return undefined;
}

/** The default, or what the setting's fallback variable (`PORT`, `WEB_CONCURRENCY`) says. */
function resolveDefault(setting: AnySetting, ctx: SettingContext): unknown {
  const fallback = setting.fallbackEnv;
  const text = fallback === undefined ? undefined : ctx.env[fallback.name];
  if (fallback !== undefined && text !== undefined && text !== '') {
    return check(setting, fallback.toText(text), fallback.name, ctx);
  }
  return check(setting, defaultValue(setting, ctx), 'the default', ctx);
}

function check(setting: AnySetting, raw: unknown, where: string, ctx: SettingContext): unknown {
  try {
    const value: unknown = setting.coerce(raw);
    setting.validate(value, ctx);
    return value;
  } catch (error) {
    throw error instanceof ConfigError ? error.from(where) : error;
  }
}

function displayPath(path: string, cwd: string): string {
  const fromCwd = relative(cwd, path);
  return fromCwd.startsWith('..') || isAbsolute(fromCwd) ? path : fromCwd;
}
