/**
 * fromNode: a node:http handler `(req, res)` (an Express app, `koa.callback()`, a Fastify router,
 * connect) as a TSGI app. `req` and `res` are light-my-request's in-process IncomingMessage and
 * ServerResponse (what fastify.inject() uses), set up to look like the ones node:http would give
 * for this request: the raw target as `req.url`, the received header lines in `req.rawHeaders`,
 * the socket's addresses, the HTTP version; `req` is read from `tsgi.input` on demand; the response
 * is streamed back chunk by chunk, with backpressure both ways.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import LightRequest from 'light-my-request/lib/request.js';
import LightResponse from 'light-my-request/lib/response.js';
import type { App, Body, Environ, Header, StartResponse } from '../types.js';
import { readFromInput } from './input-stream.js';
import { nodeUrl } from './node-url.js';
import { responseFields } from './node-fields.js';

/** A node:http request listener. */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

export interface FromNodeOptions {
  /** `this` for the handler (node:http calls a listener with the server as `this`). */
  thisArg?: unknown;
}

/** node:http's `req.headers`: lowercase names; light-my-request joins repeated ones the same way. */
function nodeHeaders(raw: Header[]): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (let i = 0; i < raw.length; i++) {
    const [name, value] = raw[i]!;
    const key = name.toLowerCase();
    const previous = headers[key];
    if (previous === undefined) headers[key] = value;
    else if (typeof previous === 'string') headers[key] = [previous, value];
    else previous.push(value);
  }
  return headers;
}

interface MockSocket {
  remoteAddress?: string;
  remotePort?: number;
  remoteFamily?: string;
  localAddress?: string;
  localPort?: number;
  encrypted?: boolean;
}

/** The IncomingMessage a node app is given for this environ. */
export function nodeRequest(environ: Environ): IncomingMessage {
  const raw = environ['tsgi.raw_headers'];
  const headers = nodeHeaders(raw);
  const req = new LightRequest({ method: 'GET', url: '/', headers, payloadAsStream: true, remoteAddress: environ.REMOTE_ADDR });
  const own = req as unknown as Record<string, unknown>;
  // light-my-request fills in a User-Agent and a Host for requests without one; node:http does not.
  if (headers['user-agent'] === undefined) delete req.headers['user-agent'];
  if (headers.host === undefined) delete req.headers.host;
  const flat: string[] = new Array(raw.length * 2);
  for (let i = 0; i < raw.length; i++) {
    flat[2 * i] = raw[i]![0];
    flat[2 * i + 1] = raw[i]![1];
  }
  own.rawHeaders = flat;
  own.method = environ.REQUEST_METHOD;
  own.url = nodeUrl(environ);
  const minor = environ.SERVER_PROTOCOL === 'HTTP/1.0' ? 0 : 1;
  own.httpVersionMinor = minor;
  own.httpVersion = `1.${minor}`;
  const socket = req.socket as unknown as MockSocket;
  if (environ.REMOTE_ADDR === '') delete socket.remoteAddress;
  else {
    socket.remotePort = Number(environ.REMOTE_PORT);
    socket.remoteFamily = environ.REMOTE_ADDR.includes(':') ? 'IPv6' : 'IPv4';
  }
  socket.localAddress = environ.SERVER_NAME;
  socket.localPort = Number(environ.SERVER_PORT);
  if (environ['tsgi.url_scheme'] === 'https') socket.encrypted = true;
  // `req.connection` is node:http's old name for the socket (Express still reads it).
  Object.defineProperty(req, 'connection', { value: socket, configurable: true, writable: true });
  const input = environ['tsgi.input'];
  own._read = function (this: Readable) {
    readFromInput(input, this);
  };
  return req;
}

/**
 * light-my-request's behaviour lives on its prototypes, and Express replaces the prototypes of
 * `req` and `res` with its own (whose chain ends at node:http's classes). Copying the methods onto
 * each object keeps them whatever prototype a framework gives it, without changing any shared
 * prototype (light-my-request's inject() rebases Express's own, which would break every genuine
 * IncomingMessage Express later serves in the same process).
 */
const kEnviron = Symbol('tsgi.environ');

/** `res.writeEarlyHints(hints, callback?)` (node 18.11+) as `tsgi.early_hints` (spec §3.6). */
function writeEarlyHints(this: ServerResponse & { [kEnviron]: Environ }, hints: Record<string, string | string[]>, callback?: () => void): void {
  const fields: Header[] = [];
  for (const [name, value] of Object.entries(hints)) {
    if (Array.isArray(value)) for (const item of value) fields.push([name, String(item)]);
    else fields.push([name, String(value)]);
  }
  this[kEnviron]['tsgi.early_hints'](fields);
  if (typeof callback === 'function') process.nextTick(callback);
}

const REQUEST_METHODS = ownMethods(LightRequest.prototype);
const RESPONSE_METHODS: [string, unknown][] = [...ownMethods(LightResponse.prototype), ['writeEarlyHints', writeEarlyHints]];

function ownMethods(prototype: object): [string, unknown][] {
  return Object.getOwnPropertyNames(prototype)
    .filter((name) => name !== 'constructor' && typeof Object.getOwnPropertyDescriptor(prototype, name)!.value === 'function')
    .map((name) => [name, (prototype as Record<string, unknown>)[name]]);
}

function pin(target: object, methods: [string, unknown][]): void {
  for (let i = 0; i < methods.length; i++) (target as Record<string, unknown>)[methods[i]![0]] = methods[i]![1];
}


function errorOf(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/** The response body: the bytes the handler writes, pulled as the server sends them. */
function bodyOf(req: IncomingMessage, res: ServerResponse, stream: Readable): Body {
  let closed = false;
  return {
    [Symbol.asyncIterator]: () => stream[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>,
    close(): void {
      if (closed) return;
      closed = true;
      // Ended early (the client left, or the server stopped): tell the handler, as node:http does
      // with 'close' events on both objects.
      if (!res.writableFinished) res.destroy();
      if (!req.destroyed) req.destroy();
    },
  };
}

/** A node:http handler as a TSGI app. */
export function fromNode(handler: NodeHandler, options: FromNodeOptions = {}): App {
  if (typeof handler !== 'function') throw new TypeError('fromNode() needs a function (req, res) => void');
  const thisArg = options.thisArg;
  return (environ: Environ, startResponse: StartResponse) =>
    new Promise<Body>((resolve, reject) => {
      const req = nodeRequest(environ);
      pin(req, REQUEST_METHODS);
      let headed = false;
      const res = new LightResponse(
        req,
        (payload) => {
          headed = true;
          try {
            startResponse(`${res.statusCode} ${res.statusMessage}`, responseFields(res));
            resolve(bodyOf(req, res, payload.stream()));
          } catch (error) {
            res.destroy();
            reject(error);
          }
        },
        reject,
      );
      pin(res, RESPONSE_METHODS);
      (res as unknown as { [kEnviron]: Environ })[kEnviron] = environ;
      const fail = (error: unknown): void => {
        if (!headed) reject(errorOf(error));
        else {
          environ['tsgi.errors'].write(`the node handler raised after sending its response head: ${errorOf(error).stack ?? String(error)}\n`);
          res.destroy(errorOf(error));
        }
      };
      try {
        const result = handler.call(thisArg, req, res);
        if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
          (result as Promise<unknown>).then(undefined, fail);
        }
      } catch (error) {
        fail(error);
      }
    });
}
