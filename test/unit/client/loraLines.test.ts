// What the preview panel says about a render's LoRAs: merged ones, ones the merge refused (with the error),
// and the prompt's LoRAs the render left out, so nobody takes the image for one with that LoRA.
import * as assert from 'assert';
import { loraLines } from '../../../client/src/preview/loraLines';
import { previewHtml } from '../../../client/src/preview/previewHtml';
import { loraMergeSummary } from '../../../common/src/mergeReport';

const merged = { name: 'add_detail', file: '/l/add_detail.safetensors', te: 0.8, unet: 0.8, matched: 52, unmatched: [], mismatched: [] };

describe('preview panel: LoRA lines', () => {
  it('a LoRA not found in the library is said to be rendered without, after the merged ones', () => {
    const lines = loraLines({ loras: [merged], skipped: [{ name: ' ink_style ', reason: 'not-found' }] }, loraMergeSummary);
    assert.deepStrictEqual(lines, [
      { text: 'add_detail (te 0.8, unet 0.8): 52 modules merged, 0 unmatched, 0 of the wrong shape', warning: false, unmatched: [] },
      { text: ' ink_style : not found in the LoRA library: rendered without it', warning: true, unmatched: [] },
    ]);
  });

  it('pickles and a weight A1111 cannot read say why they were left out', () => {
    const lines = loraLines({
      loras: [],
      skipped: [
        { name: 'old', reason: 'pickle', detail: '.pt' },
        { name: 'a', reason: 'invalid-weight', detail: "ValueError: could not convert string to float: 'abc'" },
      ],
    }, loraMergeSummary);
    assert.deepStrictEqual(
      lines.map((l) => l.text),
      [
        'old: a pickle file (.pt, .ckpt), never opened: rendered without it',
        "a: A1111 applies no LoRA when a tag has a weight it cannot read (ValueError: could not convert string to float: 'abc'): rendered without it",
      ],
    );
  });

  it("a LoRA the merge refused shows the merge's error text; unmatched keys are listed under their LoRA", () => {
    const error = "refused: module 'lora_unet_x' has non-finite values (NaN or Inf) in lora_up.weight";
    const lines = loraLines({
      loras: [
        { ...merged, name: 'broken', matched: 0, error, code: 'lora-merge-nonfinite' },
        { ...merged, name: 'partial', matched: 3, unmatched: ['lora_unet_foo'], mismatched: ['lora_te_bar'] },
      ],
    }, loraMergeSummary);
    assert.deepStrictEqual(lines, [
      { text: `broken: not merged (lora-merge-nonfinite): ${error}`, warning: true, unmatched: [] },
      { text: 'partial (te 0.8, unet 0.8): 3 modules merged, 1 unmatched, 1 of the wrong shape', warning: false, unmatched: ['lora_unet_foo', 'lora_te_bar (wrong shape)'] },
    ]);
  });

  it('a record written before skipped LoRAs were kept shows its merged LoRAs only', () => {
    assert.deepStrictEqual(loraLines({ loras: [] }, loraMergeSummary), []);
  });

  it("the panel's page runs this same function, and it needs nothing from outside its body", () => {
    const page = previewHtml({ cspSource: 'vscode-resource:' } as never);
    assert.ok(page.includes(`const loraLines = ${loraLines.toString()};`));
    assert.ok(page.includes(`const loraMergeSummary = ${loraMergeSummary.toString()};`));
    const standalone = new Function(`return (${loraLines.toString()});`)() as typeof loraLines;
    const summary = new Function(`return (${loraMergeSummary.toString()});`)() as typeof loraMergeSummary;
    const record = { loras: [merged, { ...merged, name: 'x2', dyn: 4, error: 'e', code: 'c' }], skipped: [{ name: 'x', reason: 'not-found' as const }] };
    assert.deepStrictEqual(standalone(record, summary), loraLines(record, loraMergeSummary));
  });
});
