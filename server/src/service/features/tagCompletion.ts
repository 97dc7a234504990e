import { CompletionItem, CompletionItemKind } from 'vscode-languageserver-types';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { PromptDocument } from '../syntax/document';
import { categoryName } from '../tags/tagCategories';
import { TagIndex, TagMatch } from '../tags/tagIndex';
import { formatPostCount, tagInsertText, tagKey } from '../tags/tagText';

/**
 * At most this many tags per answer, most posts first; the list is marked incomplete so the
 * editor asks again as the user types (tagcomplete itself shows 5 by default).
 */
export const MAX_TAG_ITEMS = 50;

/** The longest run of words before the cursor tried as one tag (`looking at vie` → `looking_at_viewer`). */
const MAX_WORDS = 6;

/** Characters that end a tag in prompt text: A1111's separators and syntax. */
const SEPARATORS = new Set([',', '|', '[', ']', '{', '}', '<', '>', ':', '#', '\n', '\r', '(', ')']);

/**
 * Tags from the loaded tagcomplete lists for the word before the cursor, in prompt text only
 * (not on the parameter line, in a comment, or inside a `<lora:...>` tag). The word may be
 * several words (`long ha` → `long hair`); the longest run of words before the cursor that some
 * tag starts with is replaced, so the replaced range is exactly what was typed. Items insert the
 * tag as tagcomplete does (`ahri_(league_of_legends)` → `ahri \(league of legends\)`).
 */
export function tagCompletions(document: TextDocument, doc: PromptDocument, offset: number, tags: TagIndex): { items: CompletionItem[]; isIncomplete: boolean } | undefined {
  if (tags.size === 0 || !inPromptText(doc, offset)) return undefined;
  const text = doc.text;
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  if (/<[\p{L}\p{N}_]*(:[^>]*)?$/u.test(text.slice(lineStart, offset))) return undefined;
  const wordStart = tagWordStart(text, lineStart, offset);
  if (wordStart === offset) return undefined;
  // After `(x:` comes a weight, after `[x:y:` a step: no tag starts with a digit and a dot.
  if (text[wordStart - 1] === ':' && /^\s*[\d.]*$/.test(text.slice(wordStart, offset))) return undefined;
  for (const start of wordStarts(text, wordStart, offset)) {
    const typed = text.slice(start, offset);
    const { matches } = tags.search(typed, MAX_TAG_ITEMS);
    if (matches.length === 0) continue;
    const range = { start: document.positionAt(start), end: document.positionAt(offset) };
    const typedKeyLength = tagKey(typed).length;
    const items = matches.map((match, n): CompletionItem => {
      const insert = tagInsertText(match.tag.name);
      const description = describe(match);
      return {
        label: insert,
        kind: CompletionItemKind.Value,
        labelDetails: { description },
        detail: match.alias ? `${match.alias} → ${match.tag.name}${description ? ` · ${description}` : ''}` : description,
        documentation: documentation(match),
        // What was typed, then the rest of the matched name or alias: the editor's own filter keeps every item.
        filterText: typed + match.key.slice(typedKeyLength),
        sortText: `1${String(n).padStart(3, '0')}`,
        textEdit: { range, newText: insert },
      };
    });
    return { items, isIncomplete: true };
  }
  return undefined;
}

function inPromptText(doc: PromptDocument, offset: number): boolean {
  const { positive, negative, parameters } = doc.sections;
  if (parameters && offset >= parameters.span.start && offset <= parameters.span.end) return false;
  const inside = (s: { start: number; end: number }) => offset >= s.start && offset <= s.end;
  if (!inside(positive.content) && !(negative && inside(negative.content))) return false;
  if (doc.comments.some((c) => offset > c.start && offset <= c.end)) return false;
  const parts = [doc.positive, ...(doc.negative ? [doc.negative] : [])];
  return !parts.some((p) => p.tags.some((t) => offset > t.span.start && offset < t.span.end));
}

/**
 * Where the tag being typed starts: back to a separator, keeping escaped brackets (`\(`) and
 * tagcomplete's `name_(qualifier` form, and leaving out leading spaces.
 */
function tagWordStart(text: string, lineStart: number, offset: number): number {
  let at = offset;
  while (at > lineStart) {
    const ch = text[at - 1];
    if (SEPARATORS.has(ch)) {
      const bracket = ch === '(' || ch === ')' || ch === '[' || ch === ']';
      if (bracket && text[at - 2] === '\\') {
        at -= 2;
        continue;
      }
      if (ch === '(' && text[at - 2] === '_') {
        at--;
        continue;
      }
      break;
    }
    at--;
  }
  while (at < offset && /\s/.test(text[at])) at++;
  return at;
}

/** The starts of the last MAX_WORDS words of [start, offset), longest run first. */
function wordStarts(text: string, start: number, offset: number): number[] {
  const starts = [start];
  for (let i = start + 1; i < offset; i++) if (/\s/.test(text[i - 1]) && !/\s/.test(text[i])) starts.push(i);
  return starts.slice(-MAX_WORDS);
}

function describe(match: TagMatch): string {
  const { tag } = match;
  const parts: string[] = [];
  if (tag.category !== undefined) parts.push(categoryName(tag.scheme, tag.category));
  if (tag.postCount !== undefined) parts.push(formatPostCount(tag.postCount));
  else if (tag.note) parts.push(tag.note);
  return parts.join(' · ');
}

/** Plain text (the names come from a file): the tag, its posts, its aliases and its list. */
function documentation(match: TagMatch): string {
  const { tag } = match;
  const lines = [tag.postCount !== undefined ? `${tag.name} — ${tag.postCount.toLocaleString('en')} posts` : tag.name];
  if (tag.aliases.length) {
    const shown = tag.aliases.slice(0, 12).join(', ');
    lines.push(`Aliases: ${shown}${tag.aliases.length > 12 ? `, … (${tag.aliases.length} in all)` : ''}`);
  }
  lines.push(`From ${tag.file.slice(tag.file.lastIndexOf('/') + 1)}`);
  return lines.join('\n');
}
