/**
 * What a tsgi process does with errors nobody caught (docs/process.md):
 *
 * - an unhandled promise rejection is logged as one line, with the request last handed to the
 *   app when it is known, and the process goes on: a promise an app forgot to await must not take
 *   down the other requests on the worker;
 * - an uncaught exception is logged as one line and the process retires gracefully: Node's state
 *   after one is not to be trusted, but the requests in flight can still be finished
 *   (`onUncaught` does the retiring; a second one while retiring is only logged).
 *
 * Either way the report is a log line like any other (JSON or the terminal format), not Node's
 * raw text on stderr.
 */
import type { Logger } from '../log.js';
import type { CurrentRequest } from './current-request.js';

export interface ProcessPolicyOptions {
  log: Logger;
  /** What "retiring" means for this process; called once, for the first uncaught exception. */
  onUncaught: (err: unknown) => void;
  /** Where the last request handed to the app is recorded, if anywhere. */
  current?: () => CurrentRequest | null;
  /** How the log lines end: "the worker goes on serving" after a rejection, what retiring means after an exception. */
  continuing: string;
  retiring: string;
}

export function installProcessPolicy(options: ProcessPolicyOptions): void {
  const { log } = options;
  let uncaught = 0;
  process.on('unhandledRejection', (reason) => {
    const last = options.current?.()?.read() ?? null;
    const request = last === null ? undefined : { method: last.method, target: last.target, msAgo: Date.now() - last.startedAt };
    const from = request === undefined ? '' : ` (the last request handed to the app: ${request.method} ${request.target}, ${request.msAgo} ms before)`;
    log.error({ err: reason, request }, `unhandled promise rejection: ${describe(reason)}${from}; ${options.continuing}`);
  });
  process.on('uncaughtException', (err, origin) => {
    uncaught++;
    if (uncaught > 1) {
      log.error({ err, origin }, `another uncaught exception while retiring: ${describe(err)}`);
      return;
    }
    log.fatal({ err, origin }, `uncaught exception: ${describe(err)}; ${options.retiring}`);
    options.onUncaught(err);
  });
}

function describe(value: unknown): string {
  if (value instanceof Error) return value.message === '' ? value.name : `${value.name === 'Error' ? '' : `${value.name}: `}${value.message}`;
  try {
    return `${typeof value === 'string' ? JSON.stringify(value) : String(value)} (not an Error)`;
  } catch {
    return 'a value that cannot be shown (not an Error)';
  }
}
