import { LORA_MERGE_NONFINITE, LoraMergeOutcome } from '../../../../../common/src/mergeReport';
import type { MergeReportParams } from '../../../../../common/src/protocol';
import { PromptDocument } from '../../syntax/document';
import { Problem } from './problem';

/**
 * What the last preview render did with each LoRA of the file (the render worker's merge report,
 * as the extension forwards it in `sdPrompt/mergeReport`). The language service knows nothing of
 * rendering: this is all.
 */
export type { LoraMergeOutcome };

/** The report of `sdPrompt/mergeReport` as the service keeps it: the model's name and each LoRA's outcome. */
export type MergeReport = Omit<MergeReportParams, 'textDocument'>;

const LORA_TYPES = new Set(['lora', 'lyco']);
/** How many module names a message lists before "and N more". */
const LISTED = 3;

function listed(names: string[]): string {
  const shown = names.slice(0, LISTED).join(', ');
  return names.length > LISTED ? `${shown} and ${names.length - LISTED} more` : shown;
}

/**
 * Diagnostics on the LoRA tags from the last render's merge: a LoRA that could not be merged (an
 * error when NaN/Inf values in it were refused), one
 * whose modules found no weight in the model (a LoRA for another base model changes nothing),
 * and modules whose shapes do not fit. A1111 applies the same files the same way, so these are
 * what the webui would silently do too.
 */
export function checkMergeReport(doc: PromptDocument, report: MergeReport | undefined, out: Problem[]): void {
  if (!report) return;
  const byName = new Map(report.loras.map((l) => [l.name, l]));
  for (const tag of doc.positive.tags) {
    if (!LORA_TYPES.has(tag.type) || tag.positional.length === 0) continue;
    const outcome = byName.get(tag.positional[0]);
    if (!outcome) continue;
    const span = tag.items[0].span;
    const prefix = `In the last render with ${report.model}, LoRA '${outcome.name}'`;
    if (outcome.error) {
      // NaN/Inf values would have spread to whole weights and spoilt the image: the merge refused the file, which is an error in it.
      const nonFinite = outcome.code === LORA_MERGE_NONFINITE;
      out.push({ code: nonFinite ? LORA_MERGE_NONFINITE : 'lora-merge-failed', severity: nonFinite ? 'error' : 'warning', span, message: `${prefix} was not merged: ${outcome.error}` });
      continue;
    }
    const modules = outcome.matched + outcome.unmatched.length + outcome.mismatched.length;
    if (outcome.matched === 0 && outcome.unmatched.length > 0) {
      out.push({
        code: 'lora-merge-unmatched',
        severity: 'warning',
        span,
        message: `${prefix} changed nothing: none of its ${modules} modules has a weight in the model (is it for another base model?). Unmatched: ${listed(outcome.unmatched)}.`,
      });
    } else if (outcome.unmatched.length > 0) {
      out.push({
        code: 'lora-merge-unmatched',
        severity: 'information',
        span,
        message: `${prefix}: ${outcome.unmatched.length} of its ${modules} modules have no weight in the model and were skipped: ${listed(outcome.unmatched)}.`,
      });
    }
    if (outcome.mismatched.length > 0) {
      out.push({
        code: 'lora-merge-mismatched',
        severity: 'warning',
        span,
        message: `${prefix}: ${outcome.mismatched.length} of its ${modules} modules do not fit the model's weights and were skipped: ${listed(outcome.mismatched)}.`,
      });
    }
  }
}
