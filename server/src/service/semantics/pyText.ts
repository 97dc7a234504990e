/**
 * Pieces of Python's `re` behaviour that JavaScript regexes do not share.
 * A1111 runs its prompt regexes on `str`, where `\w`, `\d`, `\s` and `\b` are Unicode-aware.
 */

/** Python `\w` on str: letters, digits and numerics, underscore. */
export const PY_WORD = '[\\p{L}\\p{N}_]';
/** Python `\d` on str: any Unicode decimal digit. */
export const PY_DIGIT = '\\p{Nd}';

/**
 * Python `\s` on str (`str.isspace()`), listed out: unlike JS `\s` it takes the separators
 * U+001C-U+001F and NEL U+0085 and not the BOM U+FEFF. Prompts pasted from other tools carry
 * these, and they decide where a weight, BREAK or schedule number ends.
 */
export const PY_SPACE = '[\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';

/** `\bWORD\b` in Python terms, as a JS pattern source (JS `\b` only knows ASCII). */
export function pyWordBounded(word: string): string {
  return `(?<!${PY_WORD})${word}(?!${PY_WORD})`;
}

/** What Python's `str.isprintable()` rejects: other (Cc Cf Cs Co Cn) and separators (Z*) but the space. */
const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

/**
 * Python's repr of a str, as it appears in error messages (`'abc'`, `"it's"`, `'a\\x1cb'`): A1111's
 * ValueError for a weight like `1\x1c2` names it this way.
 */
export function pyStrRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = '';
  for (const ch of text) {
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += '\\' + quote;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch !== ' ' && NOT_PRINTABLE.test(ch)) out += pyEscape(ch.codePointAt(0)!);
    else out += ch;
  }
  return quote + out + quote;
}

function pyEscape(code: number): string {
  const hex = code.toString(16);
  if (code <= 0xff) return '\\x' + hex.padStart(2, '0');
  if (code <= 0xffff) return '\\u' + hex.padStart(4, '0');
  return '\\U' + hex.padStart(8, '0');
}
