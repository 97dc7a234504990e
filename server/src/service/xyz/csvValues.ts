/**
 * An axis's value list split as A1111's X/Y/Z plot splits it (`csv_string_to_list_strip`): Python's
 * `csv.reader(StringIO(text), skipinitialspace=True)` with the default dialect (`,` between fields, `"` quotes,
 * `""` for a quote inside quotes, lenient about text after a closing quote), every row's fields chained into one
 * list, each value stripped. A newline outside quotes ends a row, so it separates values as a comma does, but a
 * blank line adds none.
 */

export interface CsvValue {
  /** The value, stripped as A1111 strips it. */
  text: string;
  /** Offset in the input where the value's field starts (its first non-space character, or its opening quote). */
  column: number;
}

/** A quote that is never closed: Python's lenient reader takes the rest of the text as the value; we say so instead. */
export class CsvQuoteError extends Error {
  constructor(readonly column: number) {
    super('a quoted value is not closed (a `"` without its closing `"`)');
  }
}

type State = 'startRecord' | 'startField' | 'inField' | 'inQuoted' | 'quoteInQuoted';

export function splitCsvValues(text: string): CsvValue[] {
  const values: CsvValue[] = [];
  let state: State = 'startRecord';
  let field = '';
  let fieldStart = 0;
  let quoteAt = -1;
  const save = () => {
    values.push({ text: pyStrip(field), column: fieldStart });
    field = '';
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const newline = c === '\n' || c === '\r';
    if (state === 'startRecord') {
      // A blank line is an empty row: no value.
      if (newline) continue;
      state = 'startField';
    }
    switch (state) {
      case 'startField':
        if (newline) {
          fieldStart = i;
          save();
          state = 'startRecord';
        } else if (c === '"') {
          fieldStart = i;
          quoteAt = i;
          state = 'inQuoted';
        } else if (c === ' ') {
          // skipinitialspace: spaces (only spaces) before a field are dropped.
        } else if (c === ',') {
          fieldStart = i;
          save();
        } else {
          fieldStart = i;
          field += c;
          state = 'inField';
        }
        break;
      case 'inField':
        if (newline) {
          save();
          state = 'startRecord';
        } else if (c === ',') {
          save();
          state = 'startField';
        } else field += c;
        break;
      case 'inQuoted':
        if (c === '"') state = 'quoteInQuoted';
        else field += c;
        break;
      case 'quoteInQuoted':
        if (c === '"') {
          field += c;
          state = 'inQuoted';
        } else if (c === ',') {
          save();
          state = 'startField';
        } else if (newline) {
          save();
          state = 'startRecord';
        } else {
          // The reader is not strict: `"a"b` is `ab`.
          field += c;
          state = 'inField';
        }
        break;
    }
  }
  if (state === 'inQuoted') throw new CsvQuoteError(quoteAt);
  // The end of the text ends the last field; a row that ended with `,` has an empty last field.
  if (state === 'inField' || state === 'quoteInQuoted' || state === 'startField') {
    if (state === 'startField') fieldStart = text.length;
    save();
  }
  return values;
}

const SPACE = /[\s\x1c-\x1f\x85]/;

/** Python's str.strip(): Unicode whitespace at both ends (by index: a `\s+$` pattern is quadratic on long runs). */
function pyStrip(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && SPACE.test(text[start])) start++;
  while (end > start && SPACE.test(text[end - 1])) end--;
  return text.slice(start, end);
}
