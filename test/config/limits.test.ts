import { describe, expect, test } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/http/events.js';
import { parserLimits } from '../../src/config/limits.js';
import { defaultConfig } from '../../src/config/load.js';
import { MAX_REQUEST_FIELDS } from '../../src/config/settings.js';

describe('parserLimits', () => {
  test('the default settings give the parser its default limits', () => {
    expect(parserLimits(defaultConfig({}, '/'))).toEqual(DEFAULT_LIMITS);
  });

  test("Gunicorn's zeros: no request-line limit, the most fields, no field-size limit", () => {
    const limits = parserLimits({ limitRequestLine: 0, limitRequestFields: 0, limitRequestFieldSize: 0 });
    expect(limits.maxRequestLine).toBe(0);
    expect(limits.maxHeaderCount).toBe(MAX_REQUEST_FIELDS);
    expect(limits.maxHeaderFieldSize).toBe(Number.MAX_SAFE_INTEGER);
  });

  test('other values pass through', () => {
    expect(parserLimits({ limitRequestLine: 100, limitRequestFields: 7, limitRequestFieldSize: 300 })).toEqual({
      maxRequestLine: 100,
      maxHeaderCount: 7,
      maxHeaderFieldSize: 300,
    });
  });
});
