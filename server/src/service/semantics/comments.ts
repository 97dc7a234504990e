import { MappedText, Span } from './spans';

/**
 * A1111's `strip_comments` (webui >= 1.8, on by default): two regex passes, whole-line
 * comments first, then comments after text. Both replace the comment and its newline by one
 * newline. It runs before anything else, so a `#` inside a LoRA tag cuts the tag.
 */
const WHOLE_LINE_COMMENT = /(^|\n)#[^\n]*(\n|$)/g;
const TRAILING_COMMENT = /#[^\n]*(\n|$)/g;

export interface StrippedPrompt {
  text: MappedText;
  /** Source spans of the comments, `#` to the end of its line (newline excluded). */
  comments: Span[];
}

export function stripComments(prompt: MappedText): StrippedPrompt {
  const comments: Span[] = [];
  const record = (mapped: MappedText, m: RegExpExecArray, hashAt: number) => {
    const end = m.index + m[0].length - (m[m.length - 1] === '\n' ? 1 : 0);
    comments.push(mapped.spanToSource(hashAt, end));
  };
  const first = prompt.replace(WHOLE_LINE_COMMENT, (m) => {
    const hashAt = m.index + m[1].length;
    record(prompt, m, hashAt);
    // The newline stands for the comment's own line break (or its start when at the very end).
    const newlineAt = m[2] === '\n' ? m.index + m[0].length - 1 : hashAt;
    return { text: '\n', at: newlineAt };
  });
  const second = first.replace(TRAILING_COMMENT, (m) => {
    record(first, m, m.index);
    const newlineAt = m[1] === '\n' ? m.index + m[0].length - 1 : m.index;
    return { text: '\n', at: newlineAt };
  });
  comments.sort((a, b) => a.start - b.start);
  return { text: second, comments };
}

/** A1111's strip_comments on plain text. */
export function stripCommentsText(text: string): string {
  return stripComments(MappedText.identity(text, 0)).text.text;
}
