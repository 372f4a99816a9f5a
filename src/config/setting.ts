/**
 * What one entry of the settings table looks like, and the helpers that build entries.
 *
 * A setting knows how to turn a raw value into a typed one (`coerce`: text from the command line or
 * the environment, or whatever a config file holds) and what a valid value is (`validate`). The
 * command line, the environment, config files, `--print-config` and docs/settings.md all read the
 * same entry, as in Gunicorn's config.py.
 */
import { ConfigError } from './errors.js';

export type SettingType = 'int' | 'float' | 'string' | 'bool' | 'list' | 'map' | 'choice' | 'hook';

/** Sections group settings in `tsgi --help` and docs/settings.md, in this order. */
export const SECTIONS = [
  'Config File',
  'Server Socket',
  'Worker Processes',
  'Security',
  'Logging',
  'Metrics',
  'Process Naming',
  'Debugging',
  'Server Mechanics',
  'Proxies',
  'SSL',
  'Server Hooks',
] as const;
export type Section = (typeof SECTIONS)[number];

/** What defaults and validators may look at: the environment and directory tsgi started in. */
export interface SettingContext {
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/**
 * An environment variable that changes a setting's default, below every other source (Gunicorn
 * reads `WEB_CONCURRENCY` and `PORT` this way). `toText` turns its value into the setting's text.
 */
export interface FallbackEnv {
  name: string;
  toText: (value: string) => string;
}

export interface Setting<N extends string = string, V = unknown> {
  readonly name: N;
  readonly section: Section;
  /** Command-line flags, short first; empty for settings only a config file can set (hooks). */
  readonly cli: readonly string[];
  /** True for the positional argument (the app); `cli` is then empty. */
  readonly positional: boolean;
  /**
   * The `TSGI_*` variable that sets it: `TSGI_` + the long flag in capitals (`--keep-alive` is
   * `TSGI_KEEP_ALIVE`); null when the environment cannot (hooks).
   */
  readonly env: string | null;
  /** Placeholder shown in help, e.g. `INT`. */
  readonly meta: string;
  readonly type: SettingType;
  readonly choices?: readonly string[];
  /** A value, or a function of the environment and directory (then `defaultText` documents it). */
  readonly default: V | ((ctx: SettingContext) => V);
  /** How docs and help show the default when it is not a plain value. */
  readonly defaultText?: string;
  readonly fallbackEnv?: FallbackEnv;
  /** One sentence: the `--help` text. */
  readonly help: string;
  /** Markdown for docs/settings.md. */
  readonly desc: string;
  /** Turns a raw value into this setting's type; throws ConfigError naming the setting. */
  coerce(raw: unknown): V;
  /** Throws ConfigError naming the setting when the value is out of range or malformed. */
  validate(value: V, ctx: SettingContext): void;
}

// Settings of every value type travel together in the table and the resolver, so the value type
// is `any` here; `Config` keeps each one's real type.
export type AnySetting = Setting<string, any>;

export type SettingValue<S> = S extends Setting<string, infer V> ? V : never;

interface Spec<N extends string, V> {
  name: N;
  section: Section;
  cli?: readonly string[];
  positional?: boolean;
  /**
   * null: the environment cannot set it. Otherwise the name is derived (see `envName`), never
   * chosen, so that a user who knows the flag knows the variable.
   */
  env?: null;
  meta?: string;
  default: V | ((ctx: SettingContext) => V);
  defaultText?: string;
  fallbackEnv?: FallbackEnv;
  help: string;
  desc: string;
  validate?: (value: V, ctx: SettingContext) => void;
}

export function intSetting<const N extends string>(
  spec: Spec<N, number> & { parse?: (text: string) => number },
): Setting<N, number> {
  return build(spec, 'int', 'INT', (raw, fail) => {
    if (typeof raw === 'number' && Number.isInteger(raw)) return raw;
    if (typeof raw === 'string') {
      const text = raw.trim();
      if (spec.parse) return spec.parse(text);
      if (/^[+-]?\d+$/.test(text)) return Number(text);
    }
    return fail('an integer');
  });
}

export function floatSetting<const N extends string>(spec: Spec<N, number>): Setting<N, number> {
  return build(spec, 'float', 'NUMBER', (raw, fail) => {
    if (typeof raw === 'number' && Number.isFinite(raw)) return raw;
    if (typeof raw === 'string' && /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(raw.trim())) return Number(raw);
    return fail('a number');
  });
}

const TRUE_WORDS = new Set(['1', 'true', 'yes', 'on']);
const FALSE_WORDS = new Set(['0', 'false', 'no', 'off']);

export function boolSetting<const N extends string>(spec: Spec<N, boolean>): Setting<N, boolean> {
  return build(spec, 'bool', '', (raw, fail) => {
    if (typeof raw === 'boolean') return raw;
    if (typeof raw === 'string') {
      const word = raw.trim().toLowerCase();
      if (TRUE_WORDS.has(word)) return true;
      if (FALSE_WORDS.has(word)) return false;
    }
    return fail('true or false (or 1/0, yes/no, on/off)');
  });
}

export function stringSetting<const N extends string>(spec: Spec<N, string>): Setting<N, string> {
  return build(spec, 'string', 'STRING', (raw, fail) => (typeof raw === 'string' ? raw : fail('a string')));
}

/** A string that may be unset (null), e.g. `--access-logfile` which is off by default. */
export function optionalStringSetting<const N extends string>(spec: Spec<N, string | null>): Setting<N, string | null> {
  return build(spec, 'string', 'STRING', (raw, fail) =>
    typeof raw === 'string' || raw === null ? raw : fail('a string or null'),
  );
}

/**
 * A repeatable option (`-b A -b B`). The environment gives it comma-separated, a config file gives
 * an array or one string. The source with the highest precedence replaces the list; lists from
 * several sources are not merged (Gunicorn does the same).
 */
export function listSetting<const N extends string>(spec: Spec<N, string[]>): Setting<N, string[]> {
  return build(spec, 'list', 'STRING', (raw, fail) => {
    if (typeof raw === 'string') {
      return raw
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '');
    }
    if (Array.isArray(raw) && raw.every((item) => typeof item === 'string')) return [...raw];
    return fail('a list of strings');
  });
}

/**
 * A map of names to values, as Gunicorn's dict settings (`secure_scheme_headers`). A config file
 * gives an object; the command line and the environment give `NAME=VALUE` pairs separated by
 * commas (an empty string is the empty map).
 */
export function mapSetting<const N extends string>(spec: Spec<N, Record<string, string>>): Setting<N, Record<string, string>> {
  return build(spec, 'map', 'NAME=VALUE,...', (raw, fail) => {
    const pairs = typeof raw === 'string' ? raw.split(',') : Array.isArray(raw) && raw.every((item) => typeof item === 'string') ? raw.flatMap((item: string) => item.split(',')) : null;
    if (pairs !== null) {
      const map: Record<string, string> = {};
      for (const pair of pairs) {
        if (pair.trim() === '') continue;
        const eq = pair.indexOf('=');
        if (eq <= 0) return fail(`NAME=VALUE pairs separated by commas (${JSON.stringify(pair.trim())} has no "=")`);
        map[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
      }
      return map;
    }
    if (raw !== null && typeof raw === 'object' && !Array.isArray(raw) && Object.values(raw).every((value) => typeof value === 'string')) {
      return { ...(raw as Record<string, string>) };
    }
    return fail('an object of strings, or NAME=VALUE pairs separated by commas');
  });
}

export function choiceSetting<const N extends string, const C extends string>(
  spec: Spec<N, C> & { choices: readonly C[] },
): Setting<N, C> {
  const choices = spec.choices;
  const setting = build(spec, 'choice', choices.join('|'), (raw, fail) =>
    typeof raw === 'string' && (choices as readonly string[]).includes(raw) ? (raw as C) : fail(`one of ${choices.join(', ')}`),
  );
  return { ...setting, choices };
}

/**
 * A function called by the server at some point of its life (Gunicorn's server hooks). Only a
 * config file can set one. `arity` is how many arguments the server passes; a hook may declare
 * fewer, never more.
 */
export function hookSetting<const N extends string, F extends (...args: any[]) => unknown>(
  spec: Omit<Spec<N, F | null>, 'cli' | 'env' | 'positional' | 'default'> & { arity: number },
): Setting<N, F | null> {
  const { arity } = spec;
  return build({ ...spec, cli: [], env: null, default: null }, 'hook', 'FUNCTION', (raw, fail) => {
    if (raw === null) return null;
    if (typeof raw !== 'function') return fail(`a function taking up to ${arity} argument(s)`);
    if (raw.length > arity) return fail(`a function taking up to ${arity} argument(s) (this one declares ${raw.length})`);
    return raw as F;
  });
}

type Coerce<V> = (raw: unknown, fail: (expected: string) => never) => V;

function build<N extends string, V>(spec: Spec<N, V>, type: SettingType, meta: string, coerce: Coerce<V>): Setting<N, V> {
  const validate = spec.validate;
  return {
    name: spec.name,
    section: spec.section,
    cli: spec.cli ?? [],
    positional: spec.positional ?? false,
    env: spec.env === null ? null : envName(spec.name, spec.cli ?? []),
    meta: spec.meta ?? meta,
    type,
    default: spec.default,
    defaultText: spec.defaultText,
    fallbackEnv: spec.fallbackEnv,
    help: spec.help,
    desc: spec.desc,
    coerce(raw) {
      return withName(spec.name, () =>
        coerce(raw, (expected) => {
          throw new ConfigError(`expected ${expected}, got ${describeRaw(raw)}`);
        }),
      );
    },
    validate(value, ctx) {
      withName(spec.name, () => validate?.(value, ctx));
    },
  };
}

/**
 * Runs `check`, adding the setting's name to a ConfigError that has none: parsers and validators
 * are shared between settings, so they leave the name for us to fill in.
 */
function withName<T>(name: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof ConfigError && error.setting === undefined) {
      throw new ConfigError(error.reason, { setting: name, source: error.source }, { cause: error.cause });
    }
    throw error;
  }
}

/**
 * The variable for a setting: from its long flag (`--access-logfile` → `TSGI_ACCESS_LOGFILE`), or,
 * for the positional app, which has no flag, from its name (`app` → `TSGI_APP`).
 */
export function envName(name: string, cli: readonly string[]): string {
  const long = cli.find((flag) => flag.startsWith('--'));
  const words = long !== undefined ? long.slice(2).replace(/-/g, '_') : name.replace(/[A-Z]/g, (letter) => `_${letter}`);
  return `TSGI_${words.toUpperCase()}`;
}

/** A value as the user wrote it, for error messages. */
export function describeRaw(raw: unknown): string {
  if (typeof raw === 'string') return JSON.stringify(raw);
  if (typeof raw === 'function') return 'a function';
  if (Array.isArray(raw)) return `an array (${JSON.stringify(raw)})`;
  if (raw !== null && typeof raw === 'object') return 'an object';
  return String(raw);
}

/** The default for this environment and directory (before `fallbackEnv` is considered). */
export function defaultValue<V>(setting: Setting<string, V>, ctx: SettingContext): V {
  const value = setting.default;
  return typeof value === 'function' && setting.type !== 'hook' ? (value as (ctx: SettingContext) => V)(ctx) : (value as V);
}
