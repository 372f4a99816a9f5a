import type { App, Body } from 'tsgi';

/** Aborts the request's signal after `ms`, or when the server aborts it, whichever comes first. */
export function deadline(ms: number, inner: App): App {
  return async (environ, startResponse) => {
    const own = new AbortController();
    const reason = Object.assign(new Error(`no response within ${ms} ms`), { code: 'DEADLINE_EXCEEDED' });
    const timer = setTimeout(() => own.abort(reason), ms);
    // Node 20.3+: aborted with the first reason, so a client that left still reads TSGI_ERR_CLIENT_GONE.
    environ['tsgi.signal'] = AbortSignal.any([environ['tsgi.signal'], own.signal]);
    let body: Body;
    try {
      body = await inner(environ, startResponse);
    } catch (error) {
      clearTimeout(timer);
      throw error;
    }
    // Only close() is wrapped: the body keeps its own iterator, and an Array stays an Array.
    const close = body.close;
    return Object.assign(body, {
      close: () => {
        clearTimeout(timer);
        return close?.call(body);
      },
    });
  };
}
