/**
 * Which interface a loaded value speaks, and the TSGI app that serves it (`--interface`,
 * docs/interfaces.md). With `auto`, a value is recognised by what it has, first match wins:
 *
 *   1. an object with a `fetch()` method        fetch  (Hono, h3, itty-router, `export default { fetch }`)
 *   2. a Fastify instance                       node   (`ready()` awaited, then its `routing(req, res)`)
 *   3. a Koa app                                node   (its `callback()`)
 *   4. an Express or connect app                node   (a function with `handle()` and `use()`)
 *   5. any other function                       tsgi   (`(environ, startResponse) => body`)
 *
 * A plain `(request) => Response` or `(req, res) => void` function cannot be told from a TSGI app
 * by its shape, so it needs `--interface fetch` or `--interface node`. The fetch check comes first
 * because itty-router's router is a Proxy that answers every other property name with a function.
 */
import { TsgiError } from '../../errors.js';
import type { ErrorCode } from '../../errors-registry.js';
import type { App } from '../types.js';
// The adapters are imported when an app needs one, so a TSGI app's worker never loads them.
import type { FetchApp, FetchHandler } from './fetch.js';
import type { NodeHandler } from './from-node.js';
import type { BackgroundTasks } from './wait-until.js';
import type { EventEmitter } from 'node:events';
import http from 'node:http';
import https from 'node:https';

export const INTERFACES = ['auto', 'tsgi', 'fetch', 'node'] as const;
export type InterfaceChoice = (typeof INTERFACES)[number];
export type InterfaceName = Exclude<InterfaceChoice, 'auto'>;

export interface AdaptedApp {
  interface: InterfaceName;
  /** Why this interface: what was recognised (logged by the worker). */
  reason: string;
  /** The app as TSGI. */
  app: App;
  /** The value as its own interface speaks it: the node handler, or the fetch app. */
  native: unknown;
  /** The framework's own shutdown (Fastify's `close()`, an app's `close()`), bound. */
  close?: () => unknown;
  /** A node app as the server calls it directly (the node runner). */
  node?: NodeEntry;
}

/** How the server calls a node app: its listener, and the server object its events go to. */
export interface NodeEntry {
  handler: NodeHandler;
  /** `this` for the handler (Fastify's routing is called on its server). */
  thisArg?: unknown;
  /** An http.Server the app built: every request is emitted to its 'request' listeners. */
  server?: EventEmitter;
  /** Where 'upgrade' events go (the app's http.Server, Fastify's server): ws, Socket.IO attach there. */
  upgrades?: EventEmitter;
}

export class InterfaceError extends TsgiError {
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

type Kind = { interface: InterfaceName; what: string; why: string } | null;

function isObjectLike(value: unknown): value is Record<string, unknown> {
  return (typeof value === 'object' && value !== null) || typeof value === 'function';
}

function fn(value: Record<string, unknown>, name: string): boolean {
  return typeof value[name] === 'function';
}

export function isClass(value: unknown): boolean {
  return typeof value === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(value));
}

export function isFastify(value: unknown): value is FastifyLike {
  return isObjectLike(value) && fn(value, 'ready') && fn(value, 'routing') && fn(value, 'inject') && fn(value, 'register') && fn(value, 'addHook');
}

function isKoa(value: unknown): value is KoaLike {
  return isObjectLike(value) && fn(value, 'callback') && fn(value, 'use') && fn(value, 'createContext') && Array.isArray(value.middleware);
}

function isExpressOrConnect(value: unknown): boolean {
  return typeof value === 'function' && fn(value as never, 'handle') && fn(value as never, 'use') && fn(value as never, 'listen');
}

/** An http.Server (or https.Server) the app built and did not listen on: tsgi emits its events. */
export function isNodeServer(value: unknown): value is http.Server {
  return value instanceof http.Server || value instanceof https.Server;
}

function hasFetch(value: unknown): value is FetchApp {
  return isObjectLike(value) && fn(value, 'fetch');
}

function isThenable(value: unknown): boolean {
  return isObjectLike(value) && fn(value, 'then');
}

interface FastifyLike {
  ready(): Promise<unknown>;
  routing: NodeHandler;
  close(): Promise<unknown>;
  server?: unknown;
}

interface KoaLike {
  callback(): NodeHandler;
}

/** What a value is, by the rules at the top of this file (null: no interface recognises it). */
function recognise(value: unknown): Kind {
  if (hasFetch(value)) {
    const name = (value as object).constructor?.name;
    const what = name === 'Hono' ? 'a Hono app' : name === 'H3' ? 'an h3 app' : 'an object with a fetch() method';
    return { interface: 'fetch', what, why: 'it has a fetch(request) method' };
  }
  if (isNodeServer(value)) {
    return { interface: 'node', what: 'a node:http Server', why: "it is an http.Server; its 'request' and 'upgrade' listeners are called as node:http would (tsgi listens, not it)" };
  }
  if (isFastify(value)) return { interface: 'node', what: 'a Fastify instance', why: 'it has ready() and routing(); served after ready() through routing(req, res)' };
  if (isKoa(value)) return { interface: 'node', what: 'a Koa app', why: 'it has callback() and a middleware list; served through callback()' };
  if (isExpressOrConnect(value)) {
    const express = fn(value as never, 'set') && fn(value as never, 'engine');
    return { interface: 'node', what: express ? 'an Express app' : 'a connect app', why: 'it is a function with handle(), use() and listen()' };
  }
  return null;
}

/** One line on what a value is, for error messages. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (isClass(value)) return 'a class (export a function, or an instance method bound to its instance)';
  if (isThenable(value)) return 'a Promise';
  const type = typeof value;
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** `shown:name.prop` for a property of an object that is itself an app, so the message can name it. */
function appProperty(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  for (const key of Object.keys(value)) {
    const inner = (value as Record<string, unknown>)[key];
    if (recognise(inner) !== null || (typeof inner === 'function' && !isClass(inner))) return key;
  }
  return undefined;
}

function notAnApp(value: unknown, name: string, verb: string): InterfaceError {
  const what = describeValue(value);
  let hint = '';
  if (isThenable(value)) hint = `; for an app built asynchronously, export a factory and use ${name.split(':')[0]}:create()`;
  else if (typeof value === 'object' && value !== null) {
    const property = appProperty(value);
    const keys = Object.keys(value);
    hint =
      property !== undefined
        ? `; its property "${property}" looks like one: name it, ${name}.${property}`
        : ` (it has ${keys.length === 0 ? 'no properties' : keys.slice(0, 8).join(', ')}); a TSGI app is a function (environ, startResponse) => body, a fetch app an object with a fetch(request) method, a node app an Express, Koa or Fastify app`;
  } else if (!isClass(value)) {
    hint = '; ATTR must name a function (environ, startResponse) => body, an object with a fetch(request) method, or an Express, Koa or Fastify app';
  }
  return new InterfaceError('TSGI_ERR_APP_NOT_CALLABLE', `${name} ${verb} ${what}, not a TSGI app${hint}`);
}

function wrongInterface(name: string, verb: string, kind: NonNullable<Kind>, asked: InterfaceName): InterfaceError {
  return new InterfaceError(
    'TSGI_ERR_APP_INTERFACE',
    `${name} ${verb} ${kind.what} (${kind.why.split(';')[0]}), which --interface ${asked} cannot load; use --interface ${kind.interface} (or auto)`,
  );
}

function bound(owner: unknown, method: unknown): (() => unknown) | undefined {
  return typeof method === 'function' ? () => (method as () => unknown).call(owner) : undefined;
}

async function asNode(value: unknown, kind: NonNullable<Kind> | null, name: string, verb: string): Promise<AdaptedApp> {
  if ((typeof value !== 'function' || isClass(value)) && !isFastify(value) && !isKoa(value) && !isNodeServer(value)) throw notAnApp(value, name, verb);
  const { fromNode } = await import('./from-node.js');
  if (isNodeServer(value)) {
    if (value.listening) {
      throw new InterfaceError('TSGI_ERR_APP_INTERFACE', `${name} ${verb} a node:http Server that is already listening; do not call listen() on it: tsgi binds the sockets and emits the server's events`);
    }
    const server = value;
    const handler: NodeHandler = (req, res) => server.emit('request', req, res);
    const app = fromNode(handler);
    app.close = () => closeServer(server);
    return { interface: 'node', reason: `${kind!.what}: ${kind!.why}`, app, native: handler, node: { handler, server, upgrades: server }, close: app.close };
  }
  if (isFastify(value)) {
    try {
      await value.ready();
    } catch (error) {
      throw new InterfaceError('TSGI_ERR_APP_FACTORY', `${name}: the Fastify instance failed to become ready: ${(error as Error).message ?? String(error)}`, { cause: error });
    }
    const routing = value.routing;
    const app = fromNode(routing, { thisArg: value.server });
    // Fastify's close() runs its onClose hooks (database pools and the like) at graceful shutdown.
    app.close = bound(value, value.close);
    // @fastify/websocket and friends listen for 'upgrade' on fastify.server.
    const upgrades = value.server instanceof http.Server ? { upgrades: value.server } : {};
    return { interface: 'node', reason: `${kind!.what}: ${kind!.why}`, app, native: routing, close: app.close, node: { handler: routing, thisArg: value.server, ...upgrades } };
  }
  if (isKoa(value)) {
    const handler = value.callback();
    return { interface: 'node', reason: `${kind!.what}: ${kind!.why}`, app: fromNode(handler), native: handler, node: { handler } };
  }
  if (typeof value !== 'function' || isClass(value)) throw notAnApp(value, name, verb);
  const handler = value as NodeHandler;
  const reason = kind !== null ? `${kind.what}: ${kind.why}` : '--interface node: a (req, res) handler';
  const app = fromNode(handler);
  app.close = bound(value, (value as { close?: unknown }).close);
  return { interface: 'node', reason, app, native: handler, close: app.close, node: { handler } };
}

/**
 * A server tsgi never let listen: close() would fail with ERR_SERVER_NOT_RUNNING, but its 'close'
 * listeners (Socket.IO's, ws's) are what a shutdown should run.
 */
export function closeServer(server: EventEmitter): void {
  if (closed.has(server)) return;
  closed.add(server);
  server.emit('close');
}

const closed = new WeakSet<EventEmitter>();

/**
 * The TSGI app serving `value` through the interface `choice` names. `name` is how messages
 * refer to the value (`app.js:app`), `verb` what joins it to a description (`is`, or `returned` for a
 * factory's result), `tasks` where a fetch app's `ctx.waitUntil()` promises go. Throws an InterfaceError saying what the value is and which
 * flag or attribute would load it.
 */
export async function adaptApp(value: unknown, choice: InterfaceChoice, name: string, verb = 'is', tasks?: BackgroundTasks): Promise<AdaptedApp> {
  const kind = recognise(value);
  switch (choice) {
    case 'auto': {
      if (kind === null) {
        if (typeof value === 'function' && !isClass(value)) {
          const app = value as App;
          return { interface: 'tsgi', reason: 'a function: called as (environ, startResponse); a (request) => Response or (req, res) handler needs --interface fetch or node', app, native: app, close: bound(app, app.close) };
        }
        throw notAnApp(value, name, verb);
      }
      if (kind.interface === 'fetch') return asFetch(value as FetchApp, `${kind.what}: ${kind.why}`, tasks);
      return asNode(value, kind, name, verb);
    }
    case 'tsgi': {
      if (kind !== null) throw wrongInterface(name, verb, kind, 'tsgi');
      if (typeof value !== 'function' || isClass(value)) throw notAnApp(value, name, verb);
      const app = value as App;
      return { interface: 'tsgi', reason: '--interface tsgi', app, native: app, close: bound(app, app.close) };
    }
    case 'fetch': {
      if (kind !== null && kind.interface !== 'fetch') throw wrongInterface(name, verb, kind, 'fetch');
      if (kind !== null) return asFetch(value as FetchApp, `${kind.what}: ${kind.why}`, tasks);
      if (typeof value !== 'function' || isClass(value)) throw notAnApp(value, name, verb);
      return asFetch(value as FetchHandler, '--interface fetch: a (request) => Response function', tasks);
    }
    case 'node': {
      if (kind !== null && kind.interface !== 'node') throw wrongInterface(name, verb, kind, 'node');
      return asNode(value, kind, name, verb);
    }
  }
}

async function asFetch(value: FetchApp | FetchHandler, reason: string, tasks: BackgroundTasks | undefined): Promise<AdaptedApp> {
  const { fromFetch } = await import('./fetch.js');
  const app = fromFetch(value, tasks !== undefined ? { tasks } : {});
  return { interface: 'fetch', reason, app, native: value, close: app.close };
}
