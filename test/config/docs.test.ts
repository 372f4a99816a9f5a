import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { renderSettingsDoc } from '../../src/config/docs.js';
import type { AnySetting } from '../../src/config/setting.js';
import { SETTINGS } from '../../src/config/settings.js';

const checkedIn = readFileSync(new URL('../../docs/settings.md', import.meta.url), 'utf8');
const rendered = renderSettingsDoc();

describe('docs/settings.md', () => {
  test('is what src/config/settings.ts renders', () => {
    if (checkedIn !== rendered) {
      expect.fail('docs/settings.md is stale: run `npm run build && npm run docs:settings` (or `npx tsx src/config/docs.ts > docs/settings.md`)');
    }
  });

  test('says it is generated, and documents every setting once, with its flags and variable', () => {
    expect(rendered).toContain('Generated');
    expect(rendered).toContain('src/config/settings.ts');
    for (const setting of SETTINGS as readonly AnySetting[]) {
      const heading = `### \`${setting.name}\``;
      expect(rendered.split(heading)).toHaveLength(2);
      const section = rendered.slice(rendered.indexOf(heading)).split('\n### ')[0]!;
      for (const flag of setting.cli) expect(section).toContain(`\`${flag}`);
      if (setting.env !== null) expect(section).toContain(`\`${setting.env}\``);
      expect(section).toContain(setting.help);
      expect(section).toContain(setting.desc.trim());
      // the setting sits under its own section heading
      const before = rendered.slice(0, rendered.indexOf(heading));
      expect(before.slice(before.lastIndexOf('\n## ') + 4).split('\n')[0]).toBe(setting.section);
    }
  });
});
