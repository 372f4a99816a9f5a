/**
 * The runner a worker calls its app through, chosen once from the loaded app's interface
 * (runner.ts): none for a TSGI app, the fetch runner for a fetch app, the node runner for a node app.
 */
import type { LoadedApp } from '../loader/load-app.js';
import type { Logger } from '../log.js';
import type { FetchApp, FetchHandler } from '../gateway/interfaces/fetch.js';
import { installLightResponse } from '../gateway/interfaces/light-response.js';
import { backgroundTasks } from '../gateway/interfaces/wait-until.js';
import { FetchRunner } from './fetch-cycle.js';
import { NodeRunner } from './node-cycle.js';
import type { Runner } from './runner.js';

export function createRunner(loaded: LoadedApp, log: Logger): Runner | null {
  if (loaded.interface === 'fetch') {
    // The Responses the app makes are read without a stream (light-response.ts).
    installLightResponse();
    return new FetchRunner(loaded.native as FetchApp | FetchHandler, backgroundTasks, log);
  }
  if (loaded.interface === 'node' && loaded.node !== undefined) return new NodeRunner(loaded.node, log);
  return null;
}
