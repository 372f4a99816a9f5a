/**
 * Renders docs/settings.md from the settings table. Run `npm run docs:settings` after changing a
 * setting; test/config/docs.test.ts fails while the checked-in file is stale.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { displayDefault } from './format.js';
import { SECTIONS, type AnySetting } from './setting.js';
import { SETTINGS } from './settings.js';

export function renderSettingsDoc(): string {
  const all = SETTINGS as readonly AnySetting[];
  const out: string[] = [
    '# Settings',
    '',
    '<!-- Generated file: edit src/config/settings.ts, then run `npm run docs:settings`. -->',
    '',
    '> **Generated** from `src/config/settings.ts` by `npm run docs:settings`. Edit the table, not this file.',
    '',
    'Every setting can be given on the command line, in a `TSGI_*` environment variable, or in a',
    'config file (`-c/--config`). Precedence, highest first: command line, `TSGI_CMD_ARGS` (extra',
    'command-line arguments, shell-split), `TSGI_*` variables, the config file, defaults.',
    '',
    "A setting's variable is `TSGI_` and its long flag in capitals, dashes as underscores:",
    '`--keep-alive` is `TSGI_KEEP_ALIVE`, `--access-logfile` is `TSGI_ACCESS_LOGFILE`; the app is',
    '`TSGI_APP`. An empty variable counts as unset. A `TSGI_*` variable that is no setting is ignored',
    'with a warning, logged once at start, that names the closest setting. `tsgi --print-config` shows',
    'the result.',
    '',
  ];
  for (const section of SECTIONS) {
    const settings = all.filter((setting) => setting.section === section);
    if (settings.length === 0) continue;
    out.push(`## ${section}`, '');
    for (const setting of settings) out.push(...renderSetting(setting));
  }
  return `${out.join('\n').trimEnd()}\n`;
}

function renderSetting(setting: AnySetting): string[] {
  const type = setting.type === 'choice' ? `one of ${setting.choices!.map((choice) => `\`${choice}\``).join(', ')}` : setting.type;
  const lines = [
    `### \`${setting.name}\``,
    '',
    '| | |',
    '|---|---|',
    `| Command line | ${commandLine(setting)} |`,
    `| Environment | ${setting.env === null ? 'none' : `\`${setting.env}\``} |`,
    `| Type | ${type} |`,
    `| Default | ${defaultCell(setting)} |`,
    '',
    setting.help,
    '',
  ];
  const desc = setting.desc.trim();
  if (desc !== '') lines.push(desc, '');
  return lines;
}

function defaultCell(setting: AnySetting): string {
  const shown = displayDefault(setting);
  return setting.defaultText !== undefined || shown === 'none' ? shown : `\`${shown}\``;
}

function commandLine(setting: AnySetting): string {
  if (setting.positional) return `\`tsgi [options] ${setting.meta}\` (positional)`;
  if (setting.cli.length === 0) return 'none (config file only)';
  const suffix = setting.type === 'bool' ? '' : ` ${setting.meta}`;
  return setting.cli.map((flag) => `\`${flag}${suffix}\``).join(', ');
}

// `node dist/config/docs.js` prints the document.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  process.stdout.write(renderSettingsDoc());
}
