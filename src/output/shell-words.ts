// Splits a flag string like `-nn -e -s 0 'x y'` into argv words the way a
// POSIX shell would tokenize it, with quotes and backslashes, but with no
// expansion of any kind ($, `, *, ~ stay literal). The words go straight to
// spawn(): user text never reaches a shell.
import { UserError } from '../errors';

export function splitShellWords(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
    } else if (c === "'") {
      const close = text.indexOf("'", i + 1);
      if (close < 0) throw unterminated(text, "'");
      word += text.slice(i + 1, close);
      inWord = true;
      i = close + 1;
    } else if (c === '"') {
      // Inside double quotes a backslash escapes only " \ $ ` and newline (POSIX).
      i++;
      let closed = false;
      while (i < text.length) {
        const d = text[i];
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        if (d === '\\' && i + 1 < text.length && '"\\$`\n'.includes(text[i + 1])) {
          word += text[i + 1];
          i += 2;
        } else {
          word += d;
          i++;
        }
      }
      if (!closed) throw unterminated(text, '"');
      inWord = true;
    } else if (c === '\\') {
      if (i + 1 < text.length) word += text[i + 1];
      inWord = true;
      i += 2;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}

function unterminated(text: string, quote: string): UserError {
  return new UserError(`unterminated ${quote} quote in ${JSON.stringify(text)}`, `close the ${quote} quote, e.g. -t "-nn -e"`);
}
