/** Teaching Node 20 to import TypeScript (tsx), and telling TypeScript sources apart. */
import { extname } from 'node:path';

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
