/**
 * Rules about settings taken together, checked once every setting has its final value. A setting
 * that only means something next to another one is refused without it, rather than silently doing
 * nothing: `--reload-poll` without `--reload` would leave the user waiting for a reload.
 */
import { ConfigError } from './errors.js';
import type { ConfigSource } from './format.js';
import type { Config, SettingName } from './settings.js';

/** Settings that only act while `--reload` watches files (reloadBatch also paces SIGHUP reloads). */
const NEEDS_RELOAD = ['reloadExtraFile', 'reloadInclude', 'reloadExclude', 'reloadPoll', 'reloadDelay'] as const satisfies readonly SettingName[];

/**
 * `sources` says which settings were given (anything but 'default'); `where` names the place a
 * given setting came from, as in every other ConfigError.
 */
export function checkCombinations(
  config: Config,
  sources: Record<SettingName, ConfigSource>,
  where: Partial<Record<SettingName, string>>,
): void {
  if (!config.reload) {
    const given = NEEDS_RELOAD.find((name) => sources[name] !== 'default');
    if (given !== undefined) {
      throw new ConfigError('only works with --reload; add --reload, or remove it', { setting: given, source: where[given] });
    }
  }
}
