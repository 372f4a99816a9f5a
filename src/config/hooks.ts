/**
 * Server hooks from the config file (docs/hooks.md). A hook that throws, or whose promise
 * rejects, is logged with its name and never takes the server down.
 */
import type { Config } from './settings.js';
import type { Logger } from '../log.js';

export type HookName =
  | 'onStarting'
  | 'onReload'
  | 'whenReady'
  | 'preFork'
  | 'postFork'
  | 'postWorkerInit'
  | 'workerInt'
  | 'workerAbort'
  | 'preRequest'
  | 'postRequest'
  | 'childExit'
  | 'workerExit'
  | 'nworkersChanged'
  | 'onExit';

/** Awaits the hook if it is set; resolves whatever it does. */
export async function runHook(config: Config, name: HookName, log: Logger, ...args: unknown[]): Promise<void> {
  const hook = config[name] as ((...a: unknown[]) => unknown) | null;
  if (typeof hook !== 'function') return;
  try {
    await hook(...args);
  } catch (err) {
    logHookError(log, name, err);
  }
}

function logHookError(log: Logger, name: HookName, err: unknown): void {
  log.error({ err, hook: name }, `the ${name} hook raised: ${(err as Error)?.message ?? String(err)}`);
}

/** For per-request hooks: called synchronously, never awaited; a rejection is still logged. */
export function runHookSync(config: Config, name: HookName, log: Logger, ...args: unknown[]): void {
  const hook = config[name] as ((...a: unknown[]) => unknown) | null;
  if (typeof hook !== 'function') return;
  try {
    const r = hook(...args);
    if (r !== null && typeof r === 'object' && typeof (r as Promise<unknown>).then === 'function') {
      (r as Promise<unknown>).then(undefined, (err: unknown) => logHookError(log, name, err));
    }
  } catch (err) {
    logHookError(log, name, err);
  }
}
