import * as assert from 'assert';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { createPromptLanguageService, DEFAULT_SETTINGS } from '../../server/src/service';

describe("diagnostics from a render's merge report", () => {
  const uri = 'file:///merge.prompt';
  const doc = TextDocument.create(uri, 'sd-prompt', 1, 'a cat <lora:nan_style:1> <lora:old:1>');
  const diagnose = (loras: Parameters<ReturnType<typeof createPromptLanguageService>['setMergeReport']>[1]) => {
    const service = createPromptLanguageService();
    service.setMergeReport(uri, loras);
    return service.diagnostics(doc, DEFAULT_SETTINGS).map((d) => [d.code, d.severity, d.range.start.character, d.range.end.character, d.message]);
  };

  it('a LoRA refused for NaN/Inf values is an error naming the module; other refusals stay lora-merge-failed warnings', () => {
    assert.deepStrictEqual(
      diagnose({
        model: 'sd15-onnx',
        loras: [
          {
            name: 'nan_style',
            matched: 0,
            unmatched: [],
            mismatched: [],
            code: 'lora-merge-nonfinite',
            error: 'lora_unet_mid_block_attentions_0_proj_in has NaN/Inf values in lora_up.weight',
          },
          { name: 'old', matched: 0, unmatched: [], mismatched: [], error: 'a cloneofsimo LoRA: not supported' },
        ],
      }),
      [
        [
          'lora-merge-nonfinite',
          1,
          12,
          21,
          "In the last render with sd15-onnx, LoRA 'nan_style' was not merged: lora_unet_mid_block_attentions_0_proj_in has NaN/Inf values in lora_up.weight",
        ],
        ['lora-merge-failed', 2, 31, 34, "In the last render with sd15-onnx, LoRA 'old' was not merged: a cloneofsimo LoRA: not supported"],
      ],
    );
  });
});
