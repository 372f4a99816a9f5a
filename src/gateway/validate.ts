/**
 * tsgi/validate: a TSGI middleware that checks both sides of the contract while a request runs, in
 * the spirit of Python's wsgiref.validate (PEP 3333). Wrap an app with it in development and tests:
 *
 *   import { validate } from 'tsgi/validate';
 *   export const app = validate(myApp);
 *
 * A breach throws a ValidationError that names the rule (a § of docs/spec.md) and the side that
 * broke it, at the call that broke it: into the server for a bad environ or a second close(), into
 * the app for a bad status or chunk. The breaches with nobody to throw at (a body the server never
 * closed, a signal aborted for no reason) go to `options.report`, by default the request's
 * `tsgi.errors`.
 *
 * A server is held to the version it declares: a TSGI 1.0 server (`tsgi.version` `[1, 0]`) by the
 * 1.0 rules, a 1.1 server by the 1.1 rules too (docs/spec.md §9.4).
 *
 * For a correct server and a correct app the validator changes nothing either side can rely on:
 * Array bodies stay Arrays (so a server may still compute Content-Length), sync bodies stay sync,
 * and every call is forwarded with the same arguments. docs/spec.md §9 lists what is checked and
 * what cannot be.
 */
import { checkEnviron } from './validate-environ.js';
import { ValidatedInput, validatedErrors } from './validate-input.js';
import { Exchange } from './validate-response.js';
import { appBroke, describe, isThenable, RequestState, serverBroke, ValidationError } from './validate-breach.js';
import type { App, Environ, StartResponse } from './types.js';

export { ValidationError };
export type { Culprit } from './validate-breach.js';

export interface ValidateOptions {
  /**
   * How long the server has, once it stopped iterating a body, to call its close() before that is
   * reported (spec §6.4); also how long it has to call return() once it abandoned a request.
   * Default 1000 ms.
   */
  closeDeadlineMs?: number;
  /**
   * Receives the breaches that have no caller to throw at: a body whose close() never came, a
   * signal aborted with a wrong reason, a write() that did not reject after the client left.
   * Default: the message is written to the request's original `tsgi.errors`.
   */
  report?: (error: ValidationError) => void;
}

/**
 * Wraps `app` so that every use of the TSGI contract, by the server calling it and by the app
 * itself, is checked against docs/spec.md. Throws ValidationError on a breach.
 */
export function validate(app: App, options: ValidateOptions = {}): App {
  if (typeof app !== 'function') appBroke('§2.1', `validate() was given ${describe(app)}`, 'pass the app function itself');
  if (app.close !== undefined && typeof app.close !== 'function') {
    appBroke('§7.4', `app.close is ${describe(app.close)}`, 'make close a function, or leave it out');
  }
  const closeDeadlineMs = options.closeDeadlineMs ?? 1000;

  const validated: App = (...args: unknown[]) => {
    if (args.length !== 2) serverBroke('§2.1', `the app was called with ${args.length} arguments`, 'call it as app(environ, startResponse)');
    const [candidate, startResponse] = args;
    const minor = checkEnviron(candidate);
    const environ = candidate as Environ;
    if (typeof startResponse !== 'function') serverBroke('§2.1', `startResponse is ${describe(startResponse)}`, 'pass a startResponse function');
    const errors = environ['tsgi.errors'];
    const report =
      options.report ??
      ((error: ValidationError) => {
        try {
          errors.write(`${error.message}\n`);
          errors.flush();
        } catch {
          process.emitWarning(error);
        }
      });
    const state = new RequestState(minor === 1, minor === 1 ? environ['tsgi.signal'] : undefined, report);
    const exchange = new Exchange(environ, startResponse as StartResponse, closeDeadlineMs, state);
    // In place, not a copy: the server sets tsgi.trailers on its own environ object later (§4.4).
    environ['tsgi.input'] = new ValidatedInput(environ, state);
    environ['tsgi.errors'] = validatedErrors(errors);
    if (minor === 1) environ['tsgi.early_hints'] = exchange.earlyHints(environ['tsgi.early_hints']);

    const result = app(environ, exchange.startResponse);
    if (isThenable(result)) return Promise.resolve(result).then((body) => exchange.wrapBody(body));
    return exchange.wrapBody(result);
  };

  if (typeof app.close === 'function') {
    const appClose = app.close;
    let closed = false;
    validated.close = () => {
      if (closed) serverBroke('§7.4', 'app.close() was called twice', 'call it once, at graceful shutdown');
      closed = true;
      return appClose.call(app);
    };
  }
  return validated;
}

export default validate;
