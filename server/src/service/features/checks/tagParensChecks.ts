import { PromptAnalysis, PromptDocument, subSpan } from '../../syntax/document';
import { TagIndex } from '../../tags/tagIndex';
import { tagInsertText } from '../../tags/tagText';
import { Problem } from './problem';

/** Where the words before a `(` stop: A1111's separators and brackets. */
const STOP = new Set([',', '(', ')', '[', ']', '|', ':', '<', '>', '\n', '\r', '\u0001']);
/** The most words before the brackets tried as the start of one tag (`1girl ahri (...)` tries `1girl ahri`, then `ahri`). */
const MAX_WORDS = 6;

/**
 * `tag-parens-unescaped`: a known tag written with its brackets unescaped, such as
 * `ahri (league of legends)` for `ahri_(league_of_legends)`. A1111 reads the brackets as
 * emphasis, so the model gets `ahri league of legends` with the qualifier weighted ×1.1 and
 * never the tag it was trained on; tagcomplete inserts such tags as `ahri \(league of legends\)`.
 */
export function checkTagParens(doc: PromptDocument, tags: TagIndex | undefined, out: Problem[]): void {
  if (!tags || tags.size === 0) return;
  for (const part of [doc.positive, doc.negative]) if (part) checkPart(part, tags, out);
}

function checkPart(part: PromptAnalysis, tags: TagIndex, out: Problem[]): void {
  for (const { sub, attention } of part.subprompts) {
    const text = sub.text;
    for (const group of attention.groups) {
      if (group.kind !== 'round' || group.close === undefined || group.weightText !== undefined) continue;
      const inner = text.slice(group.open + 1, group.close);
      if (inner.trim() === '' || /[()[\]\\\u0001]/.test(inner)) continue;
      const found = knownTagBefore(text, group.open, inner, tags);
      if (!found) continue;
      const { start, name } = found;
      const written = text.slice(start, group.close + 1);
      const escaped = `${text.slice(start, group.open)}\\(${inner}\\)`;
      out.push({
        code: 'tag-parens-unescaped',
        severity: 'warning',
        span: subSpan(part, sub, start, group.close + 1),
        message: `'${written}' is the tag ${name}, but A1111 reads its unescaped brackets as emphasis: the model gets '${inner}' weighted ×1.1 and never the tag. Write '${escaped}' (as tag autocomplete inserts it: '${tagInsertText(name)}').`,
        fixes: [
          {
            title: `Escape the brackets: '${escaped}'`,
            preferred: true,
            edits: [
              { span: subSpan(part, sub, group.open, group.open + 1), newText: '\\(' },
              { span: subSpan(part, sub, group.close, group.close + 1), newText: '\\)' },
            ],
          },
        ],
      });
    }
  }
}

/** The longest run of words right before `open` that, with `(inner)`, names a known tag. */
function knownTagBefore(text: string, open: number, inner: string, tags: TagIndex): { start: number; name: string } | undefined {
  let from = open;
  while (from > 0 && !STOP.has(text[from - 1])) from--;
  const starts: number[] = [];
  for (let i = from; i < open; i++) if (!/\s/.test(text[i]) && (i === from || /\s/.test(text[i - 1]))) starts.push(i);
  for (const start of starts.slice(-MAX_WORDS)) {
    const words = text.slice(start, open).trimEnd();
    // `ahri (x)` and `ahri(x)` are both `ahri_(x)` in the list; `ahri_(x)` written with an underscore too.
    const candidates = words.endsWith('_') ? [`${words}(${inner})`] : [`${words} (${inner})`, `${words}(${inner})`];
    for (const candidate of candidates) {
      const match = tags.find(candidate);
      if (match) return { start, name: match.tag.name };
    }
  }
  return undefined;
}
