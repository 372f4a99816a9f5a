/**
 * Splits `TSGI_CMD_ARGS` into arguments the way a POSIX shell would, without running anything:
 * whitespace separates words, '…' is literal, "…" honours \" \\ \$ \`, and \ outside quotes escapes
 * the next character (POSIX.1-2017 XCU §2.2 "Quoting"). No expansion of any kind.
 */
import { ConfigError } from './errors.js';

export function shellSplit(text: string, source = 'TSGI_CMD_ARGS'): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  while (i < text.length) {
    const char = text[i]!;
    if (/\s/.test(char)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
      continue;
    }
    if (char === '\\' && text[i + 1] === '\n') {
      i += 2; // a line continuation joins lines without starting a word
      continue;
    }
    inWord = true;
    if (char === "'") {
      const end = text.indexOf("'", i + 1);
      if (end === -1) throw new ConfigError(`unterminated single quote at character ${i + 1}`, { source });
      word += text.slice(i + 1, end);
      i = end + 1;
    } else if (char === '"') {
      i++;
      while (i < text.length && text[i] !== '"') {
        // "Within double quotes the backslash retains its special meaning only when followed by
        // one of: $ ` " \ <newline>." A backslash-newline is a line continuation and vanishes.
        if (text[i] === '\\' && text[i + 1] === '\n') {
          i += 2;
          continue;
        }
        if (text[i] === '\\' && i + 1 < text.length && '$`"\\'.includes(text[i + 1]!)) i++;
        word += text[i];
        i++;
      }
      if (i >= text.length) throw new ConfigError('unterminated double quote', { source });
      i++;
    } else if (char === '\\') {
      if (i + 1 >= text.length) throw new ConfigError('trailing backslash', { source });
      word += text[i + 1];
      i += 2;
    } else {
      word += char;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}
