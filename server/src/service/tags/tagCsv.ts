/**
 * Reads a tag list in a1111-sd-webui-tagcomplete's CSV format: one tag a line,
 * `name,category,postCount,"alias1,alias2"` (no header; category, count and aliases optional).
 * In the extension's "extra" files the third column is a note shown instead of a count
 * (`masterpiece,5,Quality tag,`), so a third column that is not a number is kept as that note.
 *
 * Why not csv-parse (a well-kept npm parser, used by the tests and bench/tags.bench.ts as the
 * reference): a quote left open on one line makes it read the rest of the file as one field, so one
 * bad line cost every tag after it, and the line numbers a problem needs come from its `info`
 * option, which took 2.4 s against 0.94 s without on 200,000 lines on this project's 2-core VM. A
 * tagcomplete record never spans lines (its own reader is a character loop, and its lists hold no
 * newlines), so each line is read on its own here with CSV's quoting rules (`"a,b"`, `""` for a
 * quote), and a bad line is reported with its number and skipped alone. It costs about what
 * csv-parse without `info` does and builds the records in the same pass (the bench prints both:
 * 2.6 s against 2.8 s on the loaded VM).
 */

export interface TagRecord {
  name: string;
  /** tagcomplete's category number (danbooru: 0 general, 1 artist, 3 copyright, 4 character, 5 meta). */
  category?: number;
  postCount?: number;
  /** An extra file's note in the count column ("Quality tag"). */
  note?: string;
  aliases: string[];
}

export interface TagFileProblem {
  file: string;
  /** 1-based, as editors show it; 0 for the file as a whole. */
  line: number;
  message: string;
}

export interface ParsedTagFile {
  tags: TagRecord[];
  problems: TagFileProblem[];
}

/** Past this many malformed lines in one file, one more problem says how many were left unreported. */
export const MAX_PROBLEMS_PER_FILE = 20;

const INTEGER = /^[+-]?\d+$/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export function parseTagCsv(text: string, file: string): ParsedTagFile {
  const tags: TagRecord[] = [];
  const problems: TagFileProblem[] = [];
  let unreported = 0;
  const report = (line: number, message: string) => {
    if (problems.length < MAX_PROBLEMS_PER_FILE) problems.push({ file, line, message });
    else unreported++;
  };
  let start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let lineNumber = 0;
  let firstRecord = true;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    lineNumber++;
    const line = text.charCodeAt(end - 1) === 13 ? text.slice(start, end - 1) : text.slice(start, end);
    start = end + 1;
    if (line.trim() === '') continue;
    const fields = splitCsvLine(line);
    if (typeof fields === 'string') {
      report(lineNumber, fields);
      continue;
    }
    const record = toRecord(fields);
    if (typeof record === 'string') {
      // A first line that is no tag (a translation list `tag,翻訳`, some other CSV) means the
      // file is not a tag list: one problem for the file, not one per line.
      if (firstRecord && tags.length === 0 && fields.length >= 2 && !INTEGER.test(fields[1].trim())) {
        return { tags: [], problems: [{ file, line: 0, message: `not a tagcomplete tag list (line ${lineNumber}: ${record}); skipped` }] };
      }
      report(lineNumber, record);
      continue;
    }
    firstRecord = false;
    tags.push(record);
  }
  if (unreported > 0) problems.push({ file, line: 0, message: `${unreported} more malformed line(s) skipped` });
  return { tags, problems };
}

/** The fields of one CSV line, or what is wrong with it. */
export function splitCsvLine(line: string): string[] | string {
  const fields: string[] = [];
  let at = 0;
  for (;;) {
    if (line.charCodeAt(at) === 34 /* " */) {
      let value = '';
      let from = at + 1;
      for (;;) {
        const quote = line.indexOf('"', from);
        if (quote === -1) return `the quote opened at column ${at + 1} is not closed on this line`;
        value += line.slice(from, quote);
        if (line.charCodeAt(quote + 1) === 34) {
          value += '"';
          from = quote + 2;
          continue;
        }
        at = quote + 1;
        break;
      }
      fields.push(value);
      if (at === line.length) return fields;
      if (line.charCodeAt(at) !== 44 /* , */) return `text after the closing quote at column ${at + 1} (write "" for a quote inside a quoted field)`;
      at++;
    } else {
      const comma = line.indexOf(',', at);
      if (comma === -1) {
        fields.push(line.slice(at));
        return fields;
      }
      fields.push(line.slice(at, comma));
      at = comma + 1;
    }
  }
}

function toRecord(fields: string[]): TagRecord | string {
  const name = fields[0].trim();
  if (name === '') return 'the tag name (first column) is empty';
  const record: TagRecord = { name, aliases: [] };
  const category = fields[1]?.trim();
  if (category) {
    if (!INTEGER.test(category)) return `the category '${category}' is not a whole number`;
    record.category = Number(category);
  }
  const count = fields[2]?.trim();
  if (count) {
    if (NUMBER.test(count)) record.postCount = Number(count);
    else record.note = count;
  }
  const aliases = fields[3];
  if (aliases) {
    for (const alias of aliases.split(',')) {
      const a = alias.trim();
      if (a && a !== name && !record.aliases.includes(a)) record.aliases.push(a);
    }
  }
  return record;
}
