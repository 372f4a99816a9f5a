/** The configuration: one settings table and everything derived from it. */
export { loadConfig, defaultConfig, type LoadedConfig } from './load.js';
export { SETTINGS, MAX_REQUEST_LINE, MAX_REQUEST_FIELDS, type Config, type SettingName } from './settings.js';
export { ConfigError } from './errors.js';
export { CliExit, helpText } from './cli.js';
export { formatConfig, formatValue, type ConfigSource } from './format.js';
export { parseBindAddress, DEFAULT_PORT, type BindAddress } from './bind.js';
export { parserLimits } from './limits.js';
export { renderSettingsDoc } from './docs.js';
export type { Setting, SettingType, Section, SettingContext } from './setting.js';
