/**
 * Settings from `TSGI_<NAME>` environment variables. An empty variable counts as unset, because
 * container tools often define variables they have no value for.
 */
import type { AnySetting } from './setting.js';
import { SETTINGS, type SettingName } from './settings.js';

export interface EnvValue {
  raw: string;
  /** The variable it came from, for error messages. */
  variable: string;
}

export function readEnvironment(env: NodeJS.ProcessEnv): Map<SettingName, EnvValue> {
  const values = new Map<SettingName, EnvValue>();
  for (const setting of SETTINGS as readonly AnySetting[]) {
    if (setting.env === null) continue;
    const raw = env[setting.env];
    if (raw !== undefined && raw !== '') values.set(setting.name as SettingName, { raw, variable: setting.env });
  }
  return values;
}
