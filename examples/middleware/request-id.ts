import { randomUUID } from 'node:crypto';
import type { App } from 'tsgi';

/** Gives every request an id: in the environ for the app, in the response for the client. */
export function requestId(inner: App): App {
  return (environ, startResponse) => {
    const id = environ.HTTP_X_REQUEST_ID ?? randomUUID();
    environ['requestid.id'] = id; // an extension key, under the middleware's own prefix (§3.7)
    return inner(environ, (status, headers, excInfo) => startResponse(status, [...headers, ['X-Request-Id', id]], excInfo));
  };
}
