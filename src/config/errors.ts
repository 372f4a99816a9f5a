import { TsgiError } from '../errors.js';

/**
 * A setting with a value tsgi cannot use. The message is one line: which setting, where the value
 * came from, what was wrong and what is valid, e.g.
 * `workers (from TSGI_WORKERS): expected a positive integer, got "0"`.
 *
 * Validators know the setting but not the source; the resolver adds the source with `from()`.
 */
export class ConfigError extends TsgiError {
  readonly setting: string | undefined;
  readonly source: string | undefined;
  readonly reason: string;

  constructor(reason: string, where: { setting?: string; source?: string } = {}, options?: { cause?: unknown }) {
    super('TSGI_ERR_CONFIG', formatMessage(reason, where.setting, where.source), options);
    this.reason = reason;
    this.setting = where.setting;
    this.source = where.source;
  }

  /** The same error, saying where the value came from (unless it already does). */
  from(source: string): ConfigError {
    if (this.source !== undefined) return this;
    return new ConfigError(this.reason, { setting: this.setting, source }, { cause: this.cause });
  }
}

function formatMessage(reason: string, setting: string | undefined, source: string | undefined): string {
  if (setting === undefined) return source === undefined ? reason : `${source}: ${reason}`;
  return source === undefined ? `${setting}: ${reason}` : `${setting} (from ${source}): ${reason}`;
}
