/**
 * What merging the prompt's LoRAs did, per LoRA: the one merge report. The render worker makes it,
 * the render summary and `sd-prompt merge` print it, the preview panel shows it, and the extension
 * forwards its outcome part to the language server (`sdPrompt/mergeReport`), whose diagnostics on the
 * LoRA tags come from it. Every other shape of it is a part of this type, picked from it.
 */
export interface LoraMergeReport {
  /** The name as written in the tag. */
  name: string;
  file: string;
  te: number;
  unet: number;
  /** A1111's `dyn` (only the first `dyn` ranks were merged), when the tag or `--lora` gave one. */
  dyn?: number;
  /** Modules merged, over all components. */
  matched: number;
  /** LoRA keys or modules that landed on no weight of the model. */
  unmatched: string[];
  /** Modules whose shapes do not fit the model's weights, with the reason. */
  mismatched: string[];
  /** Why the LoRA was not merged, when it was not. */
  error?: string;
  /** What kind of failure `error` is, when the merge knows (LORA_MERGE_NONFINITE: NaN or Inf values, `error` names the module). */
  code?: string;
}

/** The part of a report the language server's diagnostics need, as the extension sends it after a render. */
export type LoraMergeOutcome = Pick<LoraMergeReport, 'name' | 'matched' | 'unmatched' | 'mismatched' | 'error' | 'code'>;

/**
 * What one graph's merge did with one LoRA: the part of its LoraMergeReport that one component (a text
 * encoder, the UNet) contributes; the components' parts are summed into the report. `refused` is set when
 * a module's weight change overflows to NaN/Inf: then none of the LoRA's modules are merged anywhere.
 */
export type ComponentMergeReport = Pick<LoraMergeReport, 'name' | 'matched' | 'unmatched' | 'mismatched'> & { refused?: string };

/**
 * The one line that says what the merge did with a LoRA, wherever it is shown: `sd-prompt merge` and `render`,
 * the extension's log and the preview panel. It also runs inside the panel's page (previewHtml.ts inserts its
 * source), so it uses nothing from outside its own body and only plain JavaScript that survives compilation.
 */
export function loraMergeSummary(r: Pick<LoraMergeReport, 'name' | 'te' | 'unet' | 'dyn' | 'matched' | 'unmatched' | 'mismatched' | 'error' | 'code'>): string {
  if (r.error) return r.name + ': not merged' + (r.code ? ' (' + r.code + ')' : '') + ': ' + r.error;
  const dyn = r.dyn !== undefined && r.dyn !== null ? ', dyn ' + r.dyn : '';
  return r.name + ' (te ' + r.te + ', unet ' + r.unet + dyn + '): ' + r.matched + ' modules merged, ' + r.unmatched.length + ' unmatched, ' + r.mismatched.length + ' of the wrong shape';
}

/** The `code` of a LoRA refused for NaN or Inf values (in its file, or in a weight change that overflows). */
export const LORA_MERGE_NONFINITE = 'lora-merge-nonfinite';
