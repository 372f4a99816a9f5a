/** Finds the file a `MODULE` names, the way Node and TypeScript name files. */
import { statSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { AppNotFoundError, AppUnreadableError } from './errors.js';

/** Extensions tried, in order, when MODULE has none. JavaScript first: it needs no compiler. */
export const MODULE_EXTENSIONS = ['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts'] as const;

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
  // A worker running as --user may be refused the path, which is not the same as its absence.
  const refused = candidates.find(isRefused);
  if (refused !== undefined) throw new AppUnreadableError(module, refused);

  // Gunicorn users write `package.module`; say so when the slash form exists.
  let hint = '';
  if (!module.includes('/') && /^[\w-]+(\.[\w-]+)+$/.test(module)) {
    const slashed = module.replace(/\./g, '/');
    if (MODULE_EXTENSIONS.some((extension) => isFile(resolve(cwd, slashed + extension)))) hint = `; MODULE is a path: did you mean ${slashed}?`;
  }
  throw new AppNotFoundError(module, cwd, candidates, hint);
}

export function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Whether looking at `path` is refused (EACCES), rather than finding nothing there. */
function isRefused(path: string): boolean {
  try {
    statSync(path);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EACCES';
  }
}
