/**
 * toNode: a TSGI app as a node:http request listener, for `http.createServer(toNode(app))` or
 * mounting inside Express (`expressApp.use('/legacy', toNode(app))`). The app sees the environ the
 * tsgi engines build (the same buildEnviron()), reads the body from `req` on demand, and its
 * response is written with `res.write()` backpressure. An error before the head is answered 500;
 * after it, the connection is dropped (spec §8).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { buildEnviron, type ConnectionInfo } from '../environ.js';
import { EMPTY_INPUT, RequestInput } from '../input.js';
import type { App, Environ, ErrorStream, Header, InputStream } from '../types.js';
import { callApp, type AppResponse } from './app-call.js';
import { stderrErrors } from './environ-from-request.js';
import { AdapterHandle } from './request-handle.js';

export interface ToNodeOptions {
  /** SCRIPT_NAME. Default: `req.baseUrl` when mounted in Express, else ''. */
  scriptName?: string;
  /** `tsgi.errors`; default: lines go to stderr. */
  errors?: ErrorStream;
  /** `tsgi.multiprocess`. Default false. */
  multiprocess?: boolean;
}

/** `::ffff:1.2.3.4` is the IPv4 peer 1.2.3.4 on a dual-stack socket. */
function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

function connectionOf(req: IncomingMessage): ConnectionInfo {
  const socket = req.socket;
  const scheme = (socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
  if (socket.remoteAddress === undefined) {
    return { serverName: '', serverPort: '', remoteAddr: '', remotePort: '', scheme, unix: true };
  }
  return {
    serverName: plainAddress(socket.localAddress ?? ''),
    serverPort: String(socket.localPort ?? ''),
    remoteAddr: plainAddress(socket.remoteAddress),
    remotePort: String(socket.remotePort ?? ''),
    scheme,
    unix: false,
  };
}

/** `tsgi.input` reading `req` only as fast as the app does. */
function inputOf(req: IncomingMessage, environ: () => Environ | null, chunked: boolean): InputStream {
  const input = new RequestInput(
    {
      wantBody: () => req.resume(),
      // node:http already answered "Expect: 100-continue" unless the server listens for checkContinue.
      sendContinue: () => {},
    },
    false,
  );
  req.on('data', (chunk: Buffer) => {
    input.push(chunk);
    if (!input.hungry) req.pause();
  });
  req.once('end', () => {
    if (chunked) {
      const trailers: Header[] = [];
      const raw = req.rawTrailers;
      for (let i = 0; i + 1 < raw.length; i += 2) trailers.push([raw[i]!, raw[i + 1]!]);
      const env = environ();
      if (env !== null) env['tsgi.trailers'] = trailers;
    }
    input.end();
  });
  req.once('error', (error) => input.fail(error));
  req.once('close', () => {
    if (!req.complete) input.fail(new Error('the client disconnected before the request body was complete'));
  });
  req.pause();
  return input;
}

/** The environ for `req`, or null when its path is not under the mount point (answer 404). */
export function environFromNode(req: IncomingMessage, options: ToNodeOptions = {}, handle: AdapterHandle = new AdapterHandle()): Environ | null {
  const chunked = req.headers['transfer-encoding'] !== undefined;
  const length = req.headers['content-length'];
  const hasBody = chunked || (length !== undefined && length !== '0');
  let environ: Environ | null = null;
  const input = hasBody ? inputOf(req, () => environ, chunked) : EMPTY_INPUT;
  const baseUrl = (req as { baseUrl?: unknown }).baseUrl;
  const server = { scriptName: options.scriptName ?? (typeof baseUrl === 'string' ? baseUrl : ''), multiprocess: options.multiprocess ?? false, errors: options.errors ?? stderrErrors };
  // Express strips its mount point from req.url; the full path is req.originalUrl.
  const target = typeof baseUrl === 'string' && baseUrl !== '' && options.scriptName === undefined ? ((req as { originalUrl?: string }).originalUrl ?? req.url!) : req.url!;
  environ = buildEnviron(req.method!, target, req.httpVersionMinor === 0 ? 0 : 1, req.rawHeaders, input, connectionOf(req), server, handle);
  return environ;
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

async function serve(app: App, req: IncomingMessage, res: ServerResponse, options: ToNodeOptions): Promise<void> {
  // RFC 9110 §15.2: no 1xx to an HTTP/1.0 client.
  const handle = new AdapterHandle((fields) => {
    if (req.httpVersionMinor !== 0) res.writeEarlyHints(Object.fromEntries(fields.map(([name, value]) => [name, value])));
  });
  const environ = environFromNode(req, options, handle);
  if (environ === null) {
    res.writeHead(404, 'Not Found', { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': '10' });
    res.end('Not Found\n');
    return;
  }
  const errors = environ['tsgi.errors'];
  let response: AppResponse | null = null;
  res.once('close', () => {
    if (res.writableFinished) return;
    handle.abandon();
    void response?.close();
  });
  try {
    response = await callApp(app, environ);
  } catch (error) {
    errors.write(`the app raised; answered 500: ${describe(error)}\n`);
    if (!res.headersSent && !res.destroyed) {
      res.writeHead(500, 'Internal Server Error', { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': '22' });
      res.end('Internal Server Error\n');
    }
    return;
  }
  if (res.destroyed) {
    await response.close();
    return;
  }
  const flat: string[] = [];
  for (const [name, value] of response.headers) flat.push(name, value);
  handle.headSent = true;
  res.writeHead(response.status, response.reason, flat);
  try {
    for (;;) {
      const chunk = await response.next();
      if (chunk === null) break;
      if (res.destroyed) break;
      if (!res.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
    }
    if (!res.destroyed) res.end();
  } catch (error) {
    errors.write(`the app raised after its response head was sent; connection dropped: ${describe(error)}\n`);
    res.destroy();
  } finally {
    await response.close();
  }
}

/** A TSGI app as a node:http request listener. */
export function toNode(app: App, options: ToNodeOptions = {}): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void serve(app, req, res, options);
  };
}
