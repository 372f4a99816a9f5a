/**
 * The engine options that come straight from the settings table: the parser's limits, the
 * timeouts and the bounds on connections and requests in flight. One place, so a worker and the
 * in-process benches (bench/lib/engine-options.js) build the same engine.
 */
import type { Config } from '../config/settings.js';
import { parserLimits } from '../config/limits.js';
import type { EngineOptions } from '../engines/engine.js';

export type EngineSettings = Pick<
  EngineOptions,
  'limits' | 'keepalive' | 'backlog' | 'requestTimeout' | 'headerTimeout' | 'bodyTimeout' | 'limitConcurrency' | 'workerConnections'
>;

export function engineSettings(config: Config): EngineSettings {
  return {
    limits: parserLimits(config),
    keepalive: config.keepalive,
    backlog: config.backlog,
    requestTimeout: config.requestTimeout,
    headerTimeout: config.headerTimeout,
    bodyTimeout: config.bodyTimeout,
    limitConcurrency: config.limitConcurrency,
    workerConnections: config.workerConnections,
  };
}
