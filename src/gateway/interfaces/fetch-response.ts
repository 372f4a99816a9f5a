/**
 * A fetch app's `Response` turned into TSGI's `startResponse` call and body (spec §5, §6): the
 * status with its reason phrase (the standard one when `statusText` is empty), every header field
 * (each `Set-Cookie` on its own line, from `getSetCookie()`), and the body streamed from
 * `response.body` one chunk at a time, whatever it was made from (a ReadableStream, a string,
 * bytes, a Blob, or nothing).
 */
import { reasonPhrase } from '../../http/status.js';
import type { Body, Header, StartResponse } from '../types.js';
import { TsgiError } from '../../errors.js';

export { reasonPhrase };

export function responseHeaders(response: Response): Header[] {
  const fields: Header[] = [];
  // Headers joins repeated fields with ", ", which would break Set-Cookie; it alone is kept apart.
  for (const [name, value] of response.headers) if (name !== 'set-cookie') fields.push([name, value]);
  for (const cookie of response.headers.getSetCookie()) fields.push(['set-cookie', cookie]);
  return fields;
}

const EMPTY: Body = [];

/** The body of a Response as TSGI iterates it: pulled on demand, cancelled when abandoned. */
function streamBody(stream: ReadableStream<Uint8Array>): Body {
  const reader = stream.getReader();
  let finished = false;
  const iterator: AsyncIterableIterator<Uint8Array> = {
    async next(): Promise<IteratorResult<Uint8Array>> {
      const step = await reader.read();
      if (step.done) finished = true;
      return step.done ? { done: true, value: undefined } : { done: false, value: step.value };
    },
    async return(): Promise<IteratorResult<Uint8Array>> {
      if (!finished) {
        finished = true;
        await reader.cancel();
      }
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return Object.assign(iterator, {
    close(): Promise<void> | undefined {
      // Not iterated to its end (the server abandoned it, or never started): release the stream.
      if (finished) return undefined;
      finished = true;
      return reader.cancel();
    },
  });
}

/** Sends `response` through `startResponse`; returns the body to hand back to the server. */
export function respondWith(response: unknown, startResponse: StartResponse): Body {
  if (!(response instanceof Response)) {
    const what = response === null ? 'null' : response === undefined ? 'undefined' : typeof response === 'object' ? `an object (${(response as object).constructor?.name ?? 'Object'})` : `a ${typeof response}`;
    throw new TsgiError('TSGI_ERR_FETCH_RESPONSE', `the fetch handler returned ${what}, not a Response; return new Response(body, init)`);
  }
  const status = response.status;
  startResponse(`${status} ${response.statusText || reasonPhrase(status)}`, responseHeaders(response));
  const body = response.body;
  return body === null ? EMPTY : streamBody(body);
}
