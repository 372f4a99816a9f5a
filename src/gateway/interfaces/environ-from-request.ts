/**
 * The environ a server would build for a WHATWG Request (toFetch, the test client): the same
 * buildEnviron() the engines call, given the request-target, the header fields and a `tsgi.input`
 * that reads `request.body` on demand. A body without a Content-Length is presented as chunked,
 * as an HTTP/1.1 client would send it (spec §4.4: an unframed request has no content).
 */
import { buildEnviron, type ConnectionInfo } from '../environ.js';
import { EMPTY_INPUT } from '../input.js';
import type { Environ, ErrorStream, InputStream } from '../types.js';
import { inputFromSource } from './input-stream.js';
import { AdapterHandle } from './request-handle.js';

export interface ToFetchOptions {
  /** SCRIPT_NAME: where the app is mounted (like --root-path). Default ''. */
  scriptName?: string;
  /** `tsgi.errors`; default: lines go to stderr. */
  errors?: ErrorStream;
  /** REMOTE_ADDR for a request (a runtime's connection info); default ''. */
  remoteAddr?: (request: Request) => string;
  /** `tsgi.multiprocess`. Default false. */
  multiprocess?: boolean;
}

export const stderrErrors: ErrorStream = {
  write(message: string): void {
    const text = message.trimEnd();
    if (text !== '') process.stderr.write(`${text}\n`);
  },
  flush(): void {},
};

/**
 * The environ for `request`, or null when its path is not under `scriptName` (the app must then
 * not be called: answer 404). `tsgi.signal` follows `request.signal`.
 */
export function environFromRequest(request: Request, options: ToFetchOptions = {}): Environ | null {
  const url = new URL(request.url);
  const scheme = url.protocol === 'https:' ? 'https' : 'http';
  const flat: string[] = [];
  let hasHost = false;
  let framed = false;
  for (const [name, value] of request.headers) {
    if (name === 'host') hasHost = true;
    else if (name === 'content-length' || name === 'transfer-encoding') framed = true;
    flat.push(name, value);
  }
  if (!hasHost) flat.unshift('host', url.host);
  const chunked = request.body !== null && !framed;
  if (chunked) flat.push('transfer-encoding', 'chunked');
  let environ: Environ | null = null;
  let input: InputStream = EMPTY_INPUT;
  if (request.body !== null) {
    input = inputFromSource(request.body, () => {
      if (chunked && environ !== null) environ['tsgi.trailers'] = [];
    });
  }
  const conn: ConnectionInfo = {
    serverName: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    serverPort: url.port || (scheme === 'https' ? '443' : '80'),
    remoteAddr: options.remoteAddr?.(request) ?? '',
    remotePort: '',
    scheme,
    unix: false,
  };
  const handle = new AdapterHandle();
  if (request.signal.aborted) handle.abandon();
  else request.signal.addEventListener('abort', () => handle.abandon(), { once: true });
  environ = buildEnviron(
    request.method,
    url.pathname + url.search,
    1,
    flat,
    input,
    conn,
    { scriptName: options.scriptName ?? '', multiprocess: options.multiprocess ?? false, errors: options.errors ?? stderrErrors },
    handle,
  );
  return environ;
}
