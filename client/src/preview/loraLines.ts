import type { SkippedLora } from '../../../common/src/protocol';
import type { loraMergeSummary } from '../../../common/src/mergeReport';
import type { RenderResult } from '../../../server/src/render/api';

/** One line of the preview panel's LoRA list. */
export interface LoraLine {
  text: string;
  /** Shown in the warning colour: the LoRA is not in the image as the tag asked. */
  warning: boolean;
  /** Keys that matched nothing (and modules of the wrong shape), listed under the line. */
  unmatched: string[];
}

/**
 * What the preview panel says about a render's LoRAs: each merged one with its multipliers and modules,
 * each that could not be merged with why (`error`, e.g. NaN/Inf values), and each of the prompt's tags the
 * render left out, so nobody takes the image for one with that LoRA.
 *
 * It also runs inside the panel's page (previewHtml.ts inserts its source), so it uses nothing from outside
 * its own body and only plain JavaScript that survives compilation; the merge's line comes from `summary`,
 * which is common/'s loraMergeSummary (the page gets its source too).
 */
export function loraLines(record: { loras: RenderResult['loras']; skipped?: SkippedLora[] }, summary: typeof loraMergeSummary): LoraLine[] {
  const skippedBecause: Record<string, string> = {
    'not-found': 'not found in the LoRA library',
    pickle: 'a pickle file (.pt, .ckpt), never opened',
    'invalid-weight': 'A1111 applies no LoRA when a tag has a weight it cannot read',
  };
  const lines: LoraLine[] = [];
  for (const l of record.loras) {
    lines.push({
      text: summary(l),
      warning: !!l.error,
      unmatched: [...l.unmatched, ...l.mismatched.map((m) => m + ' (wrong shape)')],
    });
  }
  for (const s of record.skipped ?? []) {
    const why = skippedBecause[s.reason] ?? 'left out';
    const detail = s.reason === 'invalid-weight' && s.detail ? ' (' + s.detail + ')' : '';
    lines.push({ text: s.name + ': ' + why + detail + ': rendered without it', warning: true, unmatched: [] });
  }
  return lines;
}
