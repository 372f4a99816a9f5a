/**
 * The `MODULE[:ATTR]` grammar: `examples/hello`, `./app.js:app`, `app:handlers.main`,
 * `app:create('prod', "x")`. Arguments are read as string literals, never evaluated.
 */
import { AppSpecError } from './errors.js';

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
