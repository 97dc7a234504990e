import { PromptDocument } from '../../syntax/document';
import { SectionTokens } from '../../tokens/tokenCount';
import { MAX_PROBLEMS_PER_CODE, Problem } from './problem';

/**
 * Information where a 75-token chunk boundary cuts a word (its two halves are encoded apart)
 * or a LoRA's trigger words (they stop working as one phrase).
 *
 * Linear in the document: each multi-word trigger phrase is looked for once, and each boundary
 * only looks at the occurrences that start just before it. (It had lower-cased the whole document
 * per boundary and searched it for every phrase again: 6 s a pass over a 483 KB prompt.)
 */
export function checkChunkBoundaries(doc: PromptDocument, sections: SectionTokens[], triggerWords: string[], out: Problem[]): void {
  const occurrences = phraseOccurrences(doc.text, triggerWords);
  const longest = occurrences.reduce((max, o) => Math.max(max, o.end - o.start), 0);
  let reported = 0;
  for (const section of sections) {
    for (let i = 1; i < section.chunks.length && reported < MAX_PROBLEMS_PER_CODE; i++) {
      const before = section.chunks[i - 1].tokens.at(-1);
      const after = section.chunks[i].tokens[0];
      if (!before || !after) continue;
      if (before.start === after.start && before.end === after.end && before.id !== 0) {
        reported++;
        out.push({
          code: 'chunk-splits-word',
          severity: 'information',
          span: { start: after.start, end: after.end },
          message: `A 75-token chunk boundary falls inside '${doc.text.slice(after.start, after.end)}': A1111 encodes its parts in different chunks. Put a comma or BREAK before it to move the whole word on.`,
        });
        continue;
      }
      const cut = after.start;
      // Occurrences that straddle the cut start within `longest` before it.
      for (let k = firstStartAfter(occurrences, cut - longest); k < occurrences.length && occurrences[k].start < cut; k++) {
        const o = occurrences[k];
        if (cut < o.end) {
          reported++;
          out.push({
            code: 'chunk-splits-trigger',
            severity: 'information',
            span: { start: o.start, end: o.end },
            message: `The trigger words '${o.phrase}' straddle a 75-token chunk boundary: A1111 encodes their halves in different chunks, which weakens the LoRA's trigger.`,
          });
        }
      }
    }
  }
}

interface Occurrence {
  start: number;
  end: number;
  /** The trigger words as the LoRA's card gives them. */
  phrase: string;
}

/**
 * Where each multi-word trigger phrase occurs in the text, case-insensitively, by start. One-word
 * triggers cannot straddle a boundary without the word being cut, which the word check reports.
 * A phrase that several tags' LoRAs share is looked for once.
 */
function phraseOccurrences(text: string, triggerWords: string[]): Occurrence[] {
  const phrases = new Map<string, string>();
  for (const phrase of triggerWords) {
    const key = phrase.toLowerCase().trim();
    if (key.includes(' ') && !phrases.has(key)) phrases.set(key, phrase);
  }
  if (phrases.size === 0) return [];
  const lower = lowerCaseKeepingOffsets(text);
  const found: Occurrence[] = [];
  for (const [key, phrase] of phrases) {
    for (let at = lower.indexOf(key); at !== -1; at = lower.indexOf(key, at + 1)) found.push({ start: at, end: at + key.length, phrase });
  }
  return found.sort((a, b) => a.start - b.start || a.end - b.end);
}

/** The index of the first occurrence that starts after `offset` (binary search). */
function firstStartAfter(occurrences: Occurrence[], offset: number): number {
  let low = 0;
  let high = occurrences.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (occurrences[mid].start <= offset) low = mid + 1;
    else high = mid;
  }
  return low;
}

/**
 * The text lower-cased with every offset where it was: the few characters whose lower case is
 * longer (`İ` → `i̇`) stay as they are, so a match's span is the text's own.
 */
function lowerCaseKeepingOffsets(text: string): string {
  const lower = text.toLowerCase();
  if (lower.length === text.length) return lower;
  let kept = '';
  for (const c of text) {
    const l = c.toLowerCase();
    kept += l.length === c.length ? l : c;
  }
  return kept;
}
