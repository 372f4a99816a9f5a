// EngineOptions for an in-process engine, from the default configuration (as a worker builds them),
// with the hello app and a silent logger.

import { defaultConfig } from '../../dist/config/load.js';
import { engineSettings } from '../../dist/worker/engine-settings.js';
import { connectionOptions } from '../../dist/worker/connection-options.js';

export async function makeEngineOptions(overrides = {}) {
  const { app } = await import('../../examples/hello.js');
  const config = { ...defaultConfig({}, process.cwd()), ...overrides };
  const silent = { info() {}, warn() {}, error() {}, debug() {}, fatal() {}, trace() {}, child() { return silent; } };
  return {
    app,
    log: silent,
    server: { scriptName: '', multiprocess: true, errors: { write() {}, flush() {} } },
    ...engineSettings(config),
    // --forwarded-allow-ips and the rest of the connection settings, as a worker compiles them.
    ...(await connectionOptions(config, process.cwd())),
  };
}
