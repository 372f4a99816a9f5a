/**
 * The `tsgi` command line, built from the settings table: one option per setting, the app as the
 * positional argument. Parsing only collects what was written; types and ranges are checked later,
 * with every other source, by the setting itself.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { ConfigError } from './errors.js';
import { displayDefault } from './format.js';
import { gunicornFlagMessage } from './gunicorn.js';
import type { AnySetting } from './setting.js';
import { SETTINGS, type SettingName } from './settings.js';

/**
 * Thrown when the command line asks for text instead of a server (`--help`, `--version`). The
 * caller prints `output` to stdout and exits with `exitCode`.
 */
export class CliExit extends Error {
  readonly exitCode: number;
  readonly output: string;
  constructor(exitCode: number, output: string) {
    super(`tsgi printed ${exitCode === 0 ? 'help or version' : 'an error'} and should exit with code ${exitCode}`);
    this.name = 'CliExit';
    this.exitCode = exitCode;
    this.output = output;
  }
}

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The commander program for `tsgi`. Its output is captured, never written, so it can be reused. */
export function buildProgram(): { program: Command; attributes: Map<string, AnySetting>; output: string[] } {
  const output: string[] = [];
  const attributes = new Map<string, AnySetting>();
  const program = new Command('tsgi')
    .description('Serve a TSGI app with a pre-fork HTTP/1.1 server.')
    .usage('[options] [MODULE[:ATTR]]')
    .version(VERSION, '-v, --version', 'Print the tsgi version and exit.')
    .helpOption('-h, --help', 'Print this help and exit.')
    .showSuggestionAfterError(true)
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeOut: (text) => output.push(text), writeErr: () => {} });

  for (const setting of SETTINGS as readonly AnySetting[]) {
    if (setting.positional) {
      program.argument(`[${setting.meta}]`, `${setting.help} (default: ${displayDefault(setting)})`);
      continue;
    }
    if (setting.cli.length === 0) continue;
    for (const option of optionsFor(setting)) {
      attributes.set(option.attributeName(), setting);
      program.addOption(option.helpGroup(`${setting.section}:`));
    }
  }
  return { program, attributes, output };
}

/** `--worker-class` from commander's "unknown option '--worker-class=gevent'". */
function unknownFlag(message: string): string {
  const quoted = /unknown option '([^']*)'/.exec(message)?.[1] ?? '';
  return quoted.split('=')[0]!;
}

function optionsFor(setting: AnySetting): Option[] {
  const flags = setting.cli.join(', ');
  const choices = setting.choices === undefined ? '' : ` One of: ${setting.choices.join(', ')}.`;
  const description = `${setting.help}${choices} (default: ${displayDefault(setting)})`;
  if (setting.type === 'bool') {
    // The hidden --no-FLAG lets the command line turn off what a config file turned on.
    const long = setting.cli.find((flag) => flag.startsWith('--'))!;
    return [new Option(flags, description), new Option(`--no-${long.slice(2)}`).hideHelp()];
  }
  const option = new Option(`${flags} <${setting.meta}>`, description);
  if (setting.type === 'list') option.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
  return [option];
}

/** `tsgi --help`. */
export function helpText(): string {
  return buildProgram().program.helpInformation();
}

/**
 * Reads the settings written on a command line, as written: strings, string arrays for lists,
 * booleans for flags. `source` names it in errors: the real command line or `TSGI_CMD_ARGS`. Throws CliExit for --help/--version, ConfigError for anything commander
 * rejects (unknown option, missing value, extra arguments).
 */
export function parseCommandLine(argv: readonly string[], source: string): Map<SettingName, unknown> {
  const { program, attributes, output } = buildProgram();
  try {
    program.parse([...argv], { from: 'user' });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') {
      throw new CliExit(0, output.join(''));
    }
    const gunicorn = error.code === 'commander.unknownOption' ? gunicornFlagMessage(unknownFlag(error.message)) : undefined;
    if (gunicorn !== undefined) throw new ConfigError(gunicorn, { source }, { cause: error });
    const reason = error.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').replace(/\.$/, '');
    throw new ConfigError(`${reason}; run tsgi --help to see every option`, { source }, { cause: error });
  }

  const values = new Map<SettingName, unknown>();
  for (const [attribute, value] of Object.entries(program.opts())) {
    const setting = attributes.get(attribute);
    if (setting !== undefined && value !== undefined) values.set(setting.name as SettingName, value);
  }
  const [app] = program.processedArgs as (string | undefined)[];
  const positional = (SETTINGS as readonly AnySetting[]).find((setting) => setting.positional);
  if (app !== undefined && positional !== undefined) values.set(positional.name as SettingName, app);
  return values;
}
