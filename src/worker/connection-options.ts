/**
 * The settings that say who a connection is from and how it is carried, as the engines take them:
 * proxy trust (`--forwarded-allow-ips`, `--secure-scheme-headers`), the PROXY protocol
 * (`--proxy-protocol`, `--proxy-allow-from`) and TLS (`--certfile` and the rest of the SSL section).
 * Compiled once per worker. The TLS files are read here, before the worker drops privileges, so a
 * key only root can read works with `--user` (the master checked them before forking).
 */
import type { Config } from '../config/settings.js';
import { Forwarding } from '../gateway/forwarded.js';
import { AddressList } from '../http/addresses.js';
import type { EngineOptions } from '../engines/engine.js';

export type ConnectionOptions = Pick<EngineOptions, 'forwarding' | 'proxyProtocol' | 'tls'>;

/** Rejects with a TsgiError (TSGI_ERR_TLS) when the certificate or key cannot be used. */
export async function connectionOptions(config: Config, cwd: string): Promise<ConnectionOptions> {
  const options: ConnectionOptions = {
    forwarding: new Forwarding({ forwardedAllowIps: config.forwardedAllowIps, secureSchemeHeaders: config.secureSchemeHeaders }),
  };
  if (config.proxyProtocol !== 'off') options.proxyProtocol = { mode: config.proxyProtocol, allowFrom: AddressList.parse(config.proxyAllowIps) };
  if (config.certfile !== null) {
    // node:tls and node:crypto are loaded only by a worker that serves TLS.
    const { loadTls } = await import('../config/tls.js');
    const tls = loadTls(config, cwd);
    if (tls !== null) options.tls = { options: tls.options, certReqs: config.certReqs };
  }
  return options;
}
