// EngineOptions for an in-process engine, from the default configuration (as a worker builds them),
// with the hello app and a silent logger.

import { defaultConfig } from '../../dist/config/load.js';
import { parserLimits } from '../../dist/config/limits.js';
import { Forwarding } from '../../dist/gateway/forwarded.js';

export async function makeEngineOptions(overrides = {}) {
  const { app } = await import('../../examples/hello.js');
  const config = { ...defaultConfig({}, process.cwd()), ...overrides };
  const silent = { info() {}, warn() {}, error() {}, debug() {}, fatal() {}, trace() {}, child() { return silent; } };
  return {
    app,
    log: silent,
    server: { scriptName: '', multiprocess: true, errors: { write() {}, flush() {} } },
    limits: parserLimits(config),
    keepalive: config.keepalive,
    backlog: config.backlog,
    requestTimeout: config.requestTimeout,
    headerTimeout: config.headerTimeout,
    bodyTimeout: config.bodyTimeout,
    // --forwarded-allow-ips and --secure-scheme-headers, as a worker compiles them.
    forwarding: new Forwarding({ forwardedAllowIps: config.forwardedAllowIps, secureSchemeHeaders: config.secureSchemeHeaders }),
  };
}
