/**
 * `tsgi [options] MODULE[:ATTR]`: resolves the configuration, answers --print-config and
 * --check-config, or starts the master.
 */
import { loadConfig, formatConfig, CliExit, type Config } from './config/index.js';
import { createLogger, reopen } from './log.js';
import { Arbiter } from './master/arbiter.js';
import { loadApp } from './loader/load-app.js';
import { loadTls, type LoadedTls } from './config/tls.js';
import { EXIT_APP_LOAD_ERROR } from './ipc/exit-codes.js';

/** Exit code for a configuration the user must fix (as a usage error). */
const EXIT_USAGE = 2;

export async function main(argv: string[]): Promise<void> {
  let config: Config;
  let app: string | undefined;
  let sources: Parameters<typeof formatConfig>[1];
  let warnings: string[];
  try {
    ({ config, app, sources, warnings } = await loadConfig(argv, process.env, process.cwd()));
  } catch (err) {
    if (err instanceof CliExit) {
      process.stdout.write(err.output);
      process.exit(err.exitCode);
    }
    fail(err, EXIT_USAGE);
  }
  // Workers and reloads read the same environment again; only this first reading reports on it.
  const warnOnStderr = (): void => {
    for (const warning of warnings) process.stderr.write(`tsgi: warning: ${warning}\n`);
  };
  if (config.printConfig) {
    warnOnStderr();
    process.stdout.write(formatConfig(config, sources) + '\n');
    process.exit(0);
  }
  if (app === undefined) fail(new Error('no app given: run `tsgi [options] MODULE[:ATTR]`, e.g. `tsgi examples/hello:app`'), EXIT_USAGE);
  const startCwd = process.cwd();
  process.chdir(config.chdir);
  // The certificate and key are checked before anything is bound or forked.
  let tls: LoadedTls | null;
  try {
    tls = loadTls(config, process.cwd());
  } catch (err) {
    fail(err, EXIT_USAGE);
  }
  if (config.checkConfig) {
    warnOnStderr();
    let loaded: Awaited<ReturnType<typeof loadApp>>;
    try {
      loaded = await loadApp(app, process.cwd(), { interface: config.interface });
    } catch (err) {
      fail(err, EXIT_APP_LOAD_ERROR);
    }
    const certificate = tls === null ? '' : `; TLS certificate for ${tls.certificate.subjectAltName ?? tls.certificate.subject} OK`;
    process.stdout.write(`tsgi: configuration and app ${app} OK (a ${loaded.interface} app: ${loaded.reason})${certificate}\n`);
    for (const warning of tls?.warnings ?? []) process.stdout.write(`tsgi: warning: ${warning}\n`);
    process.exit(0);
  }
  const { log, destination } = createLogger({ level: config.logLevel, format: config.logFormat, errorLog: config.errorLog, role: 'master' });
  for (const warning of warnings) log.warn(warning);
  if (tls !== null) {
    const c = tls.certificate;
    log.info(`Serving TLS with the certificate for ${c.subjectAltName ?? c.subject} from ${c.issuer}, valid until ${c.validTo.toISOString()}`);
    for (const warning of tls.warnings) log.warn(warning);
  }
  try {
    const arbiter = new Arbiter({
      config,
      app,
      argv,
      startCwd,
      log,
      reopenLogs: () => reopen(config.errorLog, destination),
    });
    const code = await arbiter.run();
    process.exit(code);
  } catch (err) {
    log.fatal({ err }, err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
}

function fail(err: unknown, code: number): never {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`tsgi: ${message}\n`);
  process.exit(code);
}
