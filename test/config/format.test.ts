import { describe, expect, test } from 'vitest';
import { formatConfig, formatValue } from '../../src/config/format.js';
import { defaultConfig, loadConfig } from '../../src/config/load.js';
import { SETTINGS } from '../../src/config/settings.js';

describe('--print-config', () => {
  test('one aligned `name = value` line per setting, sorted by name', () => {
    const config = defaultConfig({}, '/');
    const text = formatConfig(config);
    const lines = text.trimEnd().split('\n');
    const names = SETTINGS.map((setting) => setting.name).sort();
    expect(lines.map((line) => line.split(' ')[0])).toEqual(names);
    const equalsColumn = new Set(lines.map((line) => line.indexOf(' = ')));
    expect(equalsColumn.size).toBe(1);
    for (const line of lines) {
      const [name, value] = line.split(/ += /) as [keyof typeof config, string];
      expect(value).toBe(formatValue(config[name]));
    }
    expect(text.endsWith('\n')).toBe(true);
  });

  test('values read back as JSON and sources can be shown', async () => {
    const { config, sources } = await loadConfig(['-w', '3', '-b', '[::1]:1'], { TSGI_NAME: 'api' }, '/');
    const text = formatConfig(config, sources);
    expect(text).toContain(`workers${' '.repeat(text.indexOf(' = ') - 'workers'.length)} = 3  (cli)`);
    expect(text).toMatch(/^bind += \["\[::1\]:1"\]  \(cli\)$/m);
    expect(text).toMatch(/^name += "api"  \(env\)$/m);
    expect(text).toMatch(/^accessLog += null  \(default\)$/m);
  });

  test('formatValue', () => {
    expect(formatValue('-')).toBe('"-"');
    expect(formatValue(null)).toBe('null');
    expect(formatValue(['a'])).toBe('["a"]');
    expect(formatValue(function onStarting() {})).toBe('[function onStarting]');
  });
});
