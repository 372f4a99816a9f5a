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
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { extname, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { TsgiError } from '../errors.js';
import type { App } from '../gateway/types.js';

/** Extensions tried, in order, when MODULE has none. JavaScript first: it needs no compiler. */
export const MODULE_EXTENSIONS = ['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts'] as const;

const TYPESCRIPT_EXTENSIONS: ReadonlySet<string> = new Set(['.ts', '.mts', '.cts']);

/** True when `path` is TypeScript source, which Node 20 cannot import by itself. */
export function isTypeScript(path: string): boolean {
  return TYPESCRIPT_EXTENSIONS.has(extname(path));
}

let typeScriptEnabled: Promise<void> | undefined;

/**
 * Teaches this process to import TypeScript, with tsx, once: every later `import()` and `require()`
 * of a `.ts`/`.mts`/`.cts` file compiles it (full TypeScript syntax, `enum` included) and stack
 * traces point at the TypeScript lines (tsx turns on source maps).
 *
 * Both of tsx's hooks are needed. The ES module hooks alone cannot load a `.ts` file that belongs
 * to a CommonJS package (no `"type": "module"`): Node hands it to its CommonJS loader, which on
 * Node 20.19+ fails with ERR_REQUIRE_CYCLE_MODULE. Registering again under `node --import tsx`
 * does no harm. Loading the compiler costs about 100 ms, so JavaScript apps never call this.
 */
export function enableTypeScript(): Promise<void> {
  typeScriptEnabled ??= (async () => {
    const [esm, cjs] = await Promise.all([import('tsx/esm/api'), import('tsx/cjs/api')]);
    cjs.register();
    esm.register();
  })();
  return typeScriptEnabled;
}

export interface LoadedApp {
  app: App;
  /** The app's own `close()`, bound to it, when it has one (awaited at graceful shutdown). */
  close?: () => unknown;
  /** Absolute path of the module the app came from. */
  modulePath: string;
}

// ── Errors ───────────────────────────────────────────────────────────────────────────────────

/** Any failure to produce an app from a spec; the worker exits with its app-load status. */
export class AppLoadError extends TsgiError {}

export class AppSpecError extends AppLoadError {
  constructor(spec: string, why: string) {
    super('TSGI_ERR_APP_SPEC', `Invalid app spec ${JSON.stringify(spec)}: ${why}; write MODULE[:ATTR], e.g. app.js:app or app:create('x')`);
  }
}

export class AppNotFoundError extends AppLoadError {
  readonly tried: readonly string[];
  constructor(module: string, cwd: string, tried: readonly string[], hint = '') {
    const list = tried.map((path) => relative(cwd, path) || '.').join(', ');
    super('TSGI_ERR_APP_NOT_FOUND', `App module ${JSON.stringify(module)} not found in ${resolve(cwd)} (tried ${list})${hint}`);
    this.tried = tried;
  }
}

export class AppImportError extends AppLoadError {
  constructor(modulePath: string, cause: unknown, detail: string) {
    super('TSGI_ERR_APP_IMPORT', `Importing ${modulePath} failed: ${detail}`, { cause });
  }
}

export class AppAttributeError extends AppLoadError {
  constructor(message: string) {
    super('TSGI_ERR_APP_ATTRIBUTE', message);
  }
}

export class AppNotCallableError extends AppLoadError {
  constructor(message: string) {
    super('TSGI_ERR_APP_NOT_CALLABLE', message);
  }
}

export class AppFactoryError extends AppLoadError {
  constructor(call: string, cause: unknown) {
    super('TSGI_ERR_APP_FACTORY', `App factory ${call} threw: ${describeError(cause)}`, { cause });
  }
}

// ── Spec ─────────────────────────────────────────────────────────────────────────────────────

export interface AppSpec {
  module: string;
  /** Property path from the module namespace: `['default']` when ATTR is omitted. */
  path: string[];
  /** Factory arguments when ATTR ends in `(...)`, else null. */
  args: string[] | null;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*/;

/**
 * Parses `MODULE[:ATTR]`. ATTR is `name(.name)*` optionally followed by a call with string
 * literals only: arguments are read, never evaluated.
 */
export function parseAppSpec(spec: string): AppSpec {
  const colon = spec.indexOf(':');
  const module = colon === -1 ? spec : spec.slice(0, colon);
  const attr = colon === -1 ? 'default' : spec.slice(colon + 1).trim();
  if (module.trim() === '') throw new AppSpecError(spec, 'MODULE is empty');
  if (attr === '') throw new AppSpecError(spec, 'ATTR after ":" is empty');

  const path: string[] = [];
  let rest = attr;
  for (;;) {
    const name = IDENTIFIER.exec(rest)?.[0];
    if (name === undefined) throw new AppSpecError(spec, `expected a name at ${JSON.stringify(rest)}`);
    path.push(name);
    rest = rest.slice(name.length);
    if (!rest.startsWith('.')) break;
    rest = rest.slice(1);
  }
  if (rest === '') return { module, path, args: null };
  if (!rest.startsWith('(')) throw new AppSpecError(spec, `unexpected ${JSON.stringify(rest)} after ${JSON.stringify(path.join('.'))}`);
  return { module, path, args: parseArguments(spec, rest) };
}

/** `( 'a', "b" )` → `['a', 'b']`. Strings use JavaScript's quoting and a subset of its escapes. */
function parseArguments(spec: string, text: string): string[] {
  const args: string[] = [];
  let i = 1; // past "("
  const skipSpace = (): void => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  skipSpace();
  while (text[i] !== ')') {
    const quote = text[i];
    if (quote !== '"' && quote !== "'") {
      throw new AppSpecError(spec, `factory arguments must be quoted strings, got ${JSON.stringify(text.slice(i))}`);
    }
    i++;
    let value = '';
    while (i < text.length && text[i] !== quote) {
      if (text[i] === '\\') {
        const [decoded, length] = decodeEscape(spec, text, i);
        value += decoded;
        i += length;
      } else {
        value += text[i];
        i++;
      }
    }
    if (i >= text.length) throw new AppSpecError(spec, 'a string argument is not closed');
    i++;
    args.push(value);
    skipSpace();
    if (text[i] === ',') {
      i++;
      skipSpace();
    } else if (text[i] !== ')') {
      throw new AppSpecError(spec, `expected "," or ")" after an argument, got ${JSON.stringify(text.slice(i) || 'the end')}`);
    }
  }
  if (i !== text.length - 1) throw new AppSpecError(spec, `unexpected ${JSON.stringify(text.slice(i + 1))} after the call`);
  return args;
}

const SIMPLE_ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '0': '\0', '\\': '\\', "'": "'", '"': '"' };

function decodeEscape(spec: string, text: string, at: number): [string, number] {
  const letter = text[at + 1];
  if (letter !== undefined && letter in SIMPLE_ESCAPES) return [SIMPLE_ESCAPES[letter]!, 2];
  const hex = letter === 'x' ? /^[0-9a-fA-F]{2}/.exec(text.slice(at + 2)) : letter === 'u' ? /^[0-9a-fA-F]{4}/.exec(text.slice(at + 2)) : null;
  if (hex !== null) return [String.fromCharCode(Number.parseInt(hex[0], 16)), 2 + hex[0].length];
  throw new AppSpecError(spec, `unsupported escape ${JSON.stringify(text.slice(at, at + 2))} in a string argument`);
}

// ── Module file ──────────────────────────────────────────────────────────────────────────────

/**
 * The file MODULE names: the path itself, then with each extension, then `MODULE/index.*`. A
 * `.js`-family name that does not exist also tries its TypeScript source (`app.js` → `app.ts`),
 * the way TypeScript's NodeNext imports name files.
 */
export function resolveModulePath(module: string, cwd: string): string {
  const base = resolve(cwd, module);
  const candidates = [base, ...MODULE_EXTENSIONS.map((extension) => base + extension)];
  const sourceExtension = { '.js': '.ts', '.mjs': '.mts', '.cjs': '.cts' }[extname(base)];
  if (sourceExtension !== undefined) candidates.push(base.slice(0, -extname(base).length) + sourceExtension);
  candidates.push(...MODULE_EXTENSIONS.map((extension) => resolve(base, `index${extension}`)));

  for (const candidate of candidates) if (isFile(candidate)) return candidate;

  // Gunicorn users write `package.module`; say so when the slash form exists.
  let hint = '';
  if (!module.includes('/') && /^[\w-]+(\.[\w-]+)+$/.test(module)) {
    const slashed = module.replace(/\./g, '/');
    if (MODULE_EXTENSIONS.some((extension) => isFile(resolve(cwd, slashed + extension)))) hint = `; MODULE is a path: did you mean ${slashed}?`;
  }
  throw new AppNotFoundError(module, cwd, candidates, hint);
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

// ── Loading ──────────────────────────────────────────────────────────────────────────────────

/** Loads the app named by `spec`, resolving MODULE from `cwd`. Throws an AppLoadError. */
export async function loadApp(spec: string, cwd: string): Promise<LoadedApp> {
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
  if (parsed.args !== null) {
    const call = `${name}(${parsed.args.map((arg) => JSON.stringify(arg)).join(', ')})`;
    if (typeof value !== 'function' || isClass(value)) {
      throw new AppNotCallableError(`${shown}:${name} is ${describeType(value)}, so it cannot be called as a factory`);
    }
    try {
      app = await (value as (...args: string[]) => unknown).apply(owner, parsed.args);
    } catch (error) {
      throw new AppFactoryError(`${shown}:${call}`, error);
    }
    if (typeof app !== 'function' || isClass(app)) {
      throw new AppNotCallableError(`${shown}:${call} returned ${describeType(app)}, not a TSGI app; the factory must return a function (environ, startResponse) => body`);
    }
  } else if (typeof app !== 'function' || isClass(app)) {
    const factoryHint = isClass(app) ? '' : typeof app === 'object' && app !== null && 'then' in app ? `; for an app built asynchronously, export a factory and use ${shown}:create()` : '';
    throw new AppNotCallableError(`${shown}:${name} is ${describeType(app)}, not a TSGI app; ATTR must name a function (environ, startResponse) => body${factoryHint}`);
  }

  const loaded = app as App;
  const close = loaded.close;
  return { app: loaded, modulePath, ...(typeof close === 'function' ? { close: () => close.call(loaded) } : {}) };
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

function isClass(value: unknown): boolean {
  return typeof value === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(value));
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (isClass(value)) return 'a class (export a function, or an instance method bound to its instance)';
  if (typeof value === 'object' && 'then' in value && typeof value.then === 'function') return 'a Promise';
  const type = typeof value;
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

// ── Describing import failures ───────────────────────────────────────────────────────────────

/**
 * One line: the error's own message, and where it happened when that can be found. A missing
 * package imported by the app is reported as such (it is an import error, not a missing app).
 */
function describeImportError(error: unknown, modulePath: string): string {
  const compileError = describeCompileError(error);
  if (compileError !== undefined) return compileError;
  const code = (error as { code?: unknown } | null)?.code;
  // A failed resolution already says which import failed and from where; the stack would only
  // point into Node's (or tsx's) loader.
  const unresolved = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
  let message = describeError(error, unresolved ? () => undefined : () => locateSyntaxError(modulePath), !unresolved);
  const specifier = unresolved ? /Cannot find (?:package|module) '([^']+)'/.exec((error as Error).message)?.[1] : undefined;
  if (specifier !== undefined && !/^(\.|\/|file:)/.test(specifier)) {
    const name = specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');
    message += `; is ${name} installed? (npm install ${name})`;
  }
  return message;
}

/**
 * tsx reports TypeScript that does not parse as a `TransformError` whose message is esbuild's
 * `Transform failed with 1 error:\nFILE:LINE:COLUMN: ERROR: TEXT` and whose stack is esbuild's
 * own. esbuild only transforms, it never type-checks, so such an error is a syntax error; it is
 * reported like the one Node gives for JavaScript.
 */
function describeCompileError(error: unknown): string | undefined {
  if (!(error instanceof Error) || error.name !== 'TransformError') return undefined;
  const first = /^(.+):(\d+):(\d+): ERROR: (.+)$/m.exec(error.message);
  if (first === null) return undefined;
  const [, file, line, column, text] = first as unknown as [string, string, string, string, string];
  const count = Number(/with (\d+) errors?/.exec(error.message)?.[1] ?? 1);
  const more = count > 1 ? `, and ${count - 1} more error(s)` : '';
  return `SyntaxError: ${text} (at ${sourceFileOf(file)}:${line}:${column}${more})`;
}

/**
 * tsx names a `.cts`/`.mts` file `.ts` when it hands it to esbuild (and `.mjs` as `.js`), so
 * esbuild's messages carry that name; this gives back the file that exists.
 */
function sourceFileOf(reported: string): string {
  if (isFile(reported)) return reported;
  const stem = reported.slice(0, -extname(reported).length);
  const renamed = { '.ts': ['.cts', '.mts'], '.js': ['.mjs'] }[extname(reported)] ?? [];
  return renamed.map((extension) => stem + extension).find(isFile) ?? reported;
}

/** `Name: message (at FILE:LINE:COLUMN)`, on one line. `locate` finds what the stack does not say. */
function describeError(error: unknown, locate?: () => string | undefined, fromStack = true): string {
  if (!(error instanceof Error)) return String(error);
  // Node's messages sometimes add lines (CommonJS "Require stack:"); the first lines carry the point.
  const lines = error.message.split('\n').map((line) => line.trim());
  const stop = lines.findIndex((line) => line === 'Require stack:');
  let message = lines.slice(0, stop === -1 ? undefined : stop).filter(Boolean).join(' ');
  const requiredBy = stop === -1 ? undefined : lines[stop + 1];
  if (requiredBy?.startsWith('- ')) message += ` required from ${requiredBy.slice(2)}`;
  const at = fromStack ? stackLocation(error) : undefined;
  const where = at !== undefined ? `at ${at}` : error.name === 'SyntaxError' ? locate?.() : undefined;
  return `${error.name}: ${message}${where === undefined ? '' : ` (${where})`}`;
}

function stackLocation(error: Error): string | undefined {
  const stack = error.stack ?? '';
  // CommonJS syntax errors start the stack with "FILE:LINE", then the source line and a caret.
  const header = /^(\/[^\n]*?:\d+)\n/.exec(stack);
  if (header !== null) return header[1];
  for (const frame of stack.split('\n').slice(1)) {
    if (frame.includes('/node_modules/tsx/')) continue; // the TypeScript loader, not the app
    const match = /^\s+at (?:.*? \()?((?:file:\/\/)?\/[^()]+?:\d+:\d+)\)?$/.exec(frame);
    if (match !== null) return toPath(match[1]!);
  }
  return undefined;
}

/**
 * Node 20 keeps an ES module's syntax error location to itself (it only prints it for an uncaught
 * error), and `node --check` prints it. That costs a process, on a path that ends the boot anyway.
 * When the module itself parses, the error is in something it imports, and Node does not say which.
 */
function locateSyntaxError(modulePath: string): string | undefined {
  if (!['.js', '.mjs', '.cjs'].includes(extname(modulePath))) return undefined;
  // A plain `node --check file.js` reads a file outside a "type": "module" package as CommonJS
  // and, on Node 20, passes ES module syntax errors; checking the source as a module does not.
  const check =
    extname(modulePath) === '.cjs'
      ? spawnSync(process.execPath, ['--check', modulePath], { encoding: 'utf8', timeout: 5000 })
      : spawnSync(process.execPath, ['--input-type=module', '--check'], { input: readFileSync(modulePath), encoding: 'utf8', timeout: 5000 });
  if (check.status === 0) return `in a module imported by ${modulePath}; Node does not say which, run node --check on them`;
  const at = /^(.+:\d+)$/m.exec(check.stderr ?? '')?.[1]?.replace(/^\[stdin\]/, modulePath);
  return at === undefined ? undefined : `at ${at}`;
}

function toPath(location: string): string {
  if (!location.startsWith('file://')) return location;
  const [, url, position] = /^(.*?)(:\d+:\d+)$/.exec(location)!;
  return fileURLToPath(url!) + position;
}
