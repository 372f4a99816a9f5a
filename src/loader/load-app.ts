/**
 * Finds, imports and checks the user's app from a `MODULE[:ATTR]` spec, as Gunicorn's `wsgiapp`
 * does for `module:variable`:
 *
 *   examples/hello            default export of examples/hello.{js,mjs,cjs,ts,mts,cts}
 *   ./app.js:app              the `app` export
 *   app:handlers.main         a dotted path into an export
 *   app:create('prod', "x")   a factory called with string arguments (sync or async)
 *
 * Each failure is its own error with a one-line message saying exactly what went wrong.
 */
import { relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { App } from '../gateway/types.js';
import { adaptApp, InterfaceError, type InterfaceChoice, type InterfaceName, type NodeEntry } from '../gateway/interfaces/detect.js';
import { AppAttributeError, AppFactoryError, AppImportError, AppLoadError, AppNotCallableError } from './errors.js';
import { describeError, describeImportError, describeType, isClass } from './describe.js';
import { resolveModulePath } from './resolve.js';
import { parseAppSpec } from './spec.js';
import { enableTypeScript, isTypeScript } from './typescript.js';

export interface LoadedApp {
  /** The app as TSGI (a fetch or node app converted by tsgi/fetch or tsgi/node). */
  app: App;
  /** The interface the app speaks (`--interface`, or what auto recognised). */
  interface: InterfaceName;
  /** Why that interface: what was recognised, for the log. */
  reason: string;
  /** The app as its own interface speaks it (the node handler, the fetch app, the TSGI app). */
  native: unknown;
  /** The app's own `close()`, bound to it, when it has one (awaited at graceful shutdown). */
  close?: () => unknown;
  /** A node app as the server calls it directly (the node runner). */
  node?: NodeEntry;
  /** Absolute path of the module the app came from. */
  modulePath: string;
}

export interface LoadOptions {
  /** `--interface`: which interface the app speaks; `auto` recognises it (docs/interfaces.md). */
  interface?: InterfaceChoice;
}

/** Loads the app named by `spec`, resolving MODULE from `cwd`. Throws an AppLoadError. */
export async function loadApp(spec: string, cwd: string, options: LoadOptions = {}): Promise<LoadedApp> {
  const parsed = parseAppSpec(spec);
  const modulePath = resolveModulePath(parsed.module, cwd);
  const shown = relative(cwd, modulePath) || modulePath;

  let namespace: Record<string, unknown>;
  try {
    // Only a TypeScript app pays for the compiler (about 100 ms, once per process).
    if (isTypeScript(modulePath)) await enableTypeScript();
    namespace = (await import(pathToFileURL(modulePath).href)) as Record<string, unknown>;
  } catch (error) {
    throw new AppImportError(shown, error, describeImportError(error, modulePath));
  }

  const { owner, value } = lookUp(namespace, parsed.path, shown);
  const name = parsed.path.join('.');
  let app: unknown = value;
  let subject = `${shown}:${name}`;
  let verb = 'is';
  if (parsed.args !== null) {
    const call = `${name}(${parsed.args.map((arg) => JSON.stringify(arg)).join(', ')})`;
    if (typeof value !== 'function' || isClass(value)) {
      throw new AppNotCallableError(`${shown}:${name} is ${describeType(value)}, so it cannot be called as a factory`);
    }
    try {
      app = await (value as (...args: string[]) => unknown).apply(owner, parsed.args);
    } catch (error) {
      throw new AppFactoryError(`${shown}:${call}`, error, describeError(error));
    }
    subject = `${shown}:${call}`;
    verb = 'returned';
  }

  let adapted: Awaited<ReturnType<typeof adaptApp>>;
  try {
    adapted = await adaptApp(app, options.interface ?? 'auto', subject, verb);
  } catch (error) {
    if (error instanceof InterfaceError) throw new AppLoadError(error.code, error.message, { cause: error.cause });
    throw error;
  }
  return {
    app: adapted.app,
    interface: adapted.interface,
    reason: adapted.reason,
    native: adapted.native,
    modulePath,
    ...(adapted.close !== undefined ? { close: adapted.close } : {}),
    ...(adapted.node !== undefined ? { node: adapted.node } : {}),
  };
}

/**
 * Follows the property path. The first name is an export; for a CommonJS module imported from
 * ESM, names Node could not detect statically are only on `default` (= module.exports).
 */
function lookUp(namespace: Record<string, unknown>, path: readonly string[], shown: string): { owner: unknown; value: unknown } {
  const [first, ...rest] = path as [string, ...string[]];
  const moduleDefault = namespace.default as Record<string, unknown> | undefined;
  let owner: unknown = namespace;
  let value: unknown = namespace[first] ?? (isObjectLike(moduleDefault) ? moduleDefault[first] : undefined);
  if (value === undefined) {
    const names = exportNames(namespace);
    const listed = names.length === 0 ? 'it exports nothing' : `its exports are: ${names.join(', ')}`;
    const callable = names.find((name) => {
      const candidate = namespace[name] ?? moduleDefault?.[name];
      return typeof candidate === 'function' && !isClass(candidate);
    });
    const suggestion = first === 'default' && callable !== undefined ? `; name one, e.g. ${shown}:${callable}` : '';
    throw new AppAttributeError(`${shown} has no export "${first}"; ${listed}${suggestion}`);
  }
  let walked = first;
  for (const name of rest) {
    if (!isObjectLike(value)) {
      throw new AppAttributeError(`${shown}:${walked} is ${describeType(value)}, so it has no property "${name}"`);
    }
    owner = value;
    const next: unknown = (value as Record<string, unknown>)[name];
    if (next === undefined) {
      const keys = Object.keys(value);
      const listed = keys.length === 0 ? 'it has no properties' : `it has: ${keys.join(', ')}`;
      throw new AppAttributeError(`${shown}:${walked} has no property "${name}"; ${listed}`);
    }
    value = next;
    walked += `.${name}`;
  }
  return { owner, value };
}

function exportNames(namespace: Record<string, unknown>): string[] {
  const names = new Set(Object.keys(namespace));
  const moduleDefault = namespace.default;
  if (isObjectLike(moduleDefault) && typeof moduleDefault !== 'function') {
    for (const key of Object.keys(moduleDefault)) names.add(key);
  }
  return [...names];
}

function isObjectLike(value: unknown): value is Record<string, unknown> {
  return (typeof value === 'object' && value !== null) || typeof value === 'function';
}
