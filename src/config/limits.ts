/**
 * The parser limits a worker applies, from the Security settings. Gunicorn's conventions for 0
 * become the numbers the sans-IO parser works with.
 */
import type { ParserLimits } from '../http/events.js';
import { MAX_REQUEST_FIELDS } from './settings.js';
import type { Config } from './settings.js';

export function parserLimits(config: Pick<Config, 'limitRequestLine' | 'limitRequestFields' | 'limitRequestFieldSize'>): ParserLimits {
  return {
    // ParserLimits already reads 0 as "no limit" for the request line.
    maxRequestLine: config.limitRequestLine,
    // Gunicorn: "limit_request_fields <= 0" means the maximum, 32768.
    maxHeaderCount: config.limitRequestFields === 0 ? MAX_REQUEST_FIELDS : config.limitRequestFields,
    // 0 = no limit (Gunicorn 23's documented meaning).
    maxHeaderFieldSize: config.limitRequestFieldSize === 0 ? Number.MAX_SAFE_INTEGER : config.limitRequestFieldSize,
  };
}
