/**
 * How setting values look to people: in `--print-config`, in `--help` defaults and in
 * docs/settings.md.
 */
import { defaultValue, type AnySetting } from './setting.js';
import { SETTINGS, type Config, type SettingName } from './settings.js';

export type ConfigSource = 'default' | 'file' | 'env' | 'cli';

/** A value in the notation a config file would use; functions show their name. */
export function formatValue(value: unknown): string {
  if (typeof value === 'function') return `[function ${value.name || 'anonymous'}]`;
  if (value === undefined) return 'undefined';
  return JSON.stringify(value);
}

/** The default as help and docs show it: `defaultText` when it depends on the environment. */
export function displayDefault(setting: AnySetting): string {
  if (setting.defaultText !== undefined) return setting.defaultText;
  const value = defaultValue(setting, { env: {}, cwd: '.' });
  return value === null ? 'none' : formatValue(value);
}

/**
 * `--print-config`: one `name = value` line per setting, sorted by name and aligned, as Gunicorn
 * prints it. With `sources`, each line also says where its value came from.
 */
export function formatConfig(config: Config, sources?: Partial<Record<SettingName, ConfigSource>>): string {
  const names = SETTINGS.map((setting) => setting.name).sort() as SettingName[];
  const width = Math.max(...names.map((name) => name.length));
  const lines = names.map((name) => {
    const line = `${name.padEnd(width)} = ${formatValue(config[name])}`;
    const source = sources?.[name];
    return source === undefined ? line : `${line}  (${source})`;
  });
  return `${lines.join('\n')}\n`;
}
