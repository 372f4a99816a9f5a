/**
 * tsgi/fetch: the fetch interface (`fetch(request, env, ctx) => Response`, as Hono, itty-router,
 * h3 and srvx apps, Cloudflare Workers, Deno and Bun speak it) to and from TSGI.
 *
 *   import { fromFetch } from 'tsgi/fetch';
 *   export const app = fromFetch(honoApp);          // a TSGI app: run it on tsgi, wrap it in TSGI middleware
 *
 *   import { toFetch } from 'tsgi/fetch';
 *   Deno.serve(toFetch(tsgiApp));                    // a TSGI app wherever a fetch handler runs
 */
import type { App, Environ, StartResponse } from '../types.js';
import { genuineRequest, isForbiddenMethod, lazyRequest, toGenuineRequest } from './fetch-request.js';
import { reasonPhrase, respondWith } from './fetch-response.js';
import { backgroundTasks, BackgroundTasks, RequestContext, type ExecutionContext } from './wait-until.js';
import { environFromRequest, type ToFetchOptions } from './environ-from-request.js';
import { callApp, contentStream, type AppResponse } from './app-call.js';

export type { ExecutionContext, ToFetchOptions };
export { BackgroundTasks, backgroundTasks, toGenuineRequest, reasonPhrase };

/** A fetch handler. `env` is the request's environ (Hono's `c.env`); `ctx` has `waitUntil()`. */
export type FetchHandler = (request: Request, env: Environ, ctx: ExecutionContext) => Response | Promise<Response>;

/** An object with a fetch method: a Hono or h3 app, an itty-router, `export default { fetch }`. */
export interface FetchApp {
  fetch: (request: Request, env?: any, ctx?: any) => Response | Promise<Response>;
}

export interface FromFetchOptions {
  /**
   * `lazy` (the default): a Request that creates the genuine one only when more than its method,
   * URL, headers or signal is asked of it. `genuine`: `new Request()` for every request.
   */
  request?: 'lazy' | 'genuine';
  /** Where `ctx.waitUntil()` promises go; default the process-wide registry the worker awaits. */
  tasks?: BackgroundTasks;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';
}

function plainAnswer(startResponse: StartResponse, status: string, text: string): string[] {
  startResponse(status, [['Content-Type', 'text/plain; charset=utf-8']]);
  return [text];
}

/** A fetch handler (or an object with a `fetch` method) as a TSGI app. */
export function fromFetch(handler: FetchHandler | FetchApp, options: FromFetchOptions = {}): App {
  const owner = typeof handler === 'function' ? undefined : handler;
  const fetch = (typeof handler === 'function' ? handler : handler.fetch) as FetchHandler;
  if (typeof fetch !== 'function') throw new TypeError('fromFetch() needs a function (request) => Response, or an object with a fetch() method');
  const makeRequest = options.request === 'genuine' ? genuineRequest : lazyRequest;
  const tasks = options.tasks ?? backgroundTasks;
  const app: App = (environ, startResponse) => {
    // A WHATWG Request cannot carry TRACE or TRACK (the Fetch standard forbids them).
    if (isForbiddenMethod(environ.REQUEST_METHOD)) return plainAnswer(startResponse, '501 Not Implemented', `${environ.REQUEST_METHOD} cannot be passed to a fetch app\n`);
    let request: Request;
    try {
      request = makeRequest(environ);
    } catch {
      // The URL parser refused the Host (the only part a client controls that it checks).
      return plainAnswer(startResponse, '400 Bad Request', 'the request URL is invalid\n');
    }
    const result = fetch.call(owner, request, environ, new RequestContext(tasks, environ['tsgi.errors']));
    if (isThenable(result)) return Promise.resolve(result).then((response) => respondWith(response, startResponse));
    return respondWith(result, startResponse);
  };
  const close = (owner as { close?: unknown } | undefined)?.close;
  if (typeof close === 'function') app.close = () => close.call(owner);
  return app;
}

/** Statuses whose responses have no content (Fetch standard "null body status"). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * A TSGI app as a fetch handler. The app sees the environ a server would build from the request
 * (docs/interfaces.md); an app error before the response head is answered 500 and written to the
 * error stream, one after it errors the response body.
 */
export function toFetch(app: App, options: ToFetchOptions = {}): (request: Request, env?: unknown, ctx?: unknown) => Promise<Response> {
  return async (request) => {
    const environ = environFromRequest(request, options);
    // spec §3.2: a path outside the mount point is not this app's.
    if (environ === null) return new Response('Not Found\n', { status: 404, statusText: 'Not Found', headers: { 'content-type': 'text/plain; charset=utf-8' } });
    const errors = environ['tsgi.errors'];
    const report = (error: unknown): void => errors.write(`the app raised: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    let response: AppResponse;
    try {
      response = await callApp(app, environ);
    } catch (error) {
      report(error);
      return new Response('Internal Server Error\n', { status: 500, statusText: 'Internal Server Error', headers: { 'content-type': 'text/plain; charset=utf-8' } });
    }
    const noContent = response.bodyless || NULL_BODY.has(response.status);
    if (noContent) void drain(response, report);
    return new Response(noContent ? null : contentStream(response, report), {
      status: response.status,
      statusText: response.reason,
      headers: response.headers,
    });
  };
}

/** A response that carries no content is still iterated to its end and closed (spec §6.3). */
async function drain(response: AppResponse, report: (error: unknown) => void): Promise<void> {
  try {
    while ((await response.next()) !== null);
  } catch (error) {
    report(error);
  } finally {
    await response.close();
  }
}
