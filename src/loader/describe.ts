/** One-line descriptions of values and of import failures, for the loader's error messages. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isFile } from './resolve.js';

/** The same one-line descriptions the interface detection uses. */
export { describeValue as describeType, isClass } from '../gateway/interfaces/detect.js';

/**
 * One line: the error's own message, and where it happened when that can be found. A missing
 * package imported by the app is reported as such (it is an import error, not a missing app).
 */
export function describeImportError(error: unknown, modulePath: string): string {
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
export function describeError(error: unknown, locate?: () => string | undefined, fromStack = true): string {
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
