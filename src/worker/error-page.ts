/**
 * With --reload, an app that does not load is shown instead of served: every request gets a 500
 * with the error as plain text, until a change on disk brings a good version. Development only:
 * the text may reveal paths and source lines.
 */
import type { App } from '../gateway/types.js';

export function errorPageApp(err: unknown): App {
  const detail = err instanceof Error ? `${err.message}\n\n${err.stack ?? ''}` : String(err);
  const body = `tsgi could not load the app; fix the code and save: tsgi reloads by itself.\n\n${detail}\n`;
  return (_environ, startResponse) => {
    startResponse('500 Internal Server Error', [
      ['Content-Type', 'text/plain; charset=utf-8'],
      ['Cache-Control', 'no-store'],
    ]);
    return [body];
  };
}
