/**
 * Settings from `TSGI_<FLAG>` environment variables (`--keep-alive` is `TSGI_KEEP_ALIVE`). An empty
 * variable counts as unset, because container tools often define variables they have no value for.
 *
 * A `TSGI_*` variable that is no setting is reported as a warning naming the closest setting: a
 * config file key that is no setting is an error, but the environment also holds variables meant
 * for other programs and other versions of tsgi, so an unknown name must not stop a server.
 */
import { WORKER_ENV } from '../ipc/messages.js';
import { closestName } from './closest.js';
import type { AnySetting } from './setting.js';
import { SETTINGS, type SettingName } from './settings.js';

export interface EnvValue {
  raw: string;
  /** The variable it came from, for error messages. */
  variable: string;
}

/**
 * `TSGI_*` variables that are not settings but tsgi's own: extra command-line arguments, the
 * worker's boot information, and the sockets a new master inherits on USR2 (`LISTEN_FDS_ENV` in
 * master/sockets.ts; test/config/env.test.ts checks the two agree).
 */
export const RESERVED_VARIABLES: ReadonlySet<string> = new Set(['TSGI_CMD_ARGS', WORKER_ENV, 'TSGI_LISTEN_FDS']);

const ALL = SETTINGS as readonly AnySetting[];
const SETTING_VARIABLES = new Map(ALL.flatMap((setting) => (setting.env === null ? [] : [[setting.env, setting] as const])));

export function readEnvironment(env: NodeJS.ProcessEnv): Map<SettingName, EnvValue> {
  const values = new Map<SettingName, EnvValue>();
  for (const [variable, setting] of SETTING_VARIABLES) {
    const raw = env[variable];
    if (raw !== undefined && raw !== '') values.set(setting.name as SettingName, { raw, variable });
  }
  return values;
}

/** One line per `TSGI_*` variable that is neither a setting nor reserved, naming the closest setting. */
export function unknownVariables(env: NodeJS.ProcessEnv): string[] {
  const known = [...SETTING_VARIABLES.keys()];
  const warnings: string[] = [];
  for (const variable of Object.keys(env).sort()) {
    if (!variable.startsWith('TSGI_') || SETTING_VARIABLES.has(variable) || RESERVED_VARIABLES.has(variable)) continue;
    const closest = closestName(variable, known)!;
    const flag = SETTING_VARIABLES.get(closest)!.cli.find((f) => f.startsWith('--'));
    warnings.push(
      `the environment variable ${variable} is not a tsgi setting and is ignored; did you mean ${closest}${flag === undefined ? '' : ` (${flag})`}? Every setting: docs/settings.md`,
    );
  }
  return warnings;
}
