import { PromptDocument } from '../../syntax/document';
import { SectionTokens } from '../../tokens/tokenCount';
import { MAX_PROBLEMS_PER_CODE, Problem } from './problem';

/**
 * Information where a 75-token chunk boundary cuts a word (its two halves are encoded apart)
 * or a LoRA's trigger words (they stop working as one phrase).
 */
export function checkChunkBoundaries(doc: PromptDocument, sections: SectionTokens[], triggerWords: string[], out: Problem[]): void {
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
      const text = doc.text.toLowerCase();
      for (const phrase of triggerWords) {
        const p = phrase.toLowerCase().trim();
        if (!p.includes(' ')) continue;
        for (let at = text.indexOf(p); at !== -1; at = text.indexOf(p, at + 1)) {
          if (at < cut && cut < at + p.length) {
            reported++;
            out.push({
              code: 'chunk-splits-trigger',
              severity: 'information',
              span: { start: at, end: at + p.length },
              message: `The trigger words '${phrase}' straddle a 75-token chunk boundary: A1111 encodes their halves in different chunks, which weakens the LoRA's trigger.`,
            });
          }
        }
      }
    }
  }
}
