import * as assert from 'assert';
import { renderGraphForm } from '../../../server/src/render/model/checkpointModel';
import { describeForm } from '../../../server/src/render/sdGraphs/graphOptions';

/** Which graphs a checkpoint render opens with, per device setting (the worker passes this to openModel). */
describe('renderGraphForm: the graph form a checkpoint render uses', () => {
  it('named GPU devices get fp16 with the fused ops; the CPU, CoreML and auto keep the plain fp32 graphs', () => {
    const forms = Object.fromEntries((['cpu', 'auto', 'coreml', 'webgpu', 'cuda', 'dml'] as const).map((d) => [d, describeForm(renderGraphForm(d, undefined))]));
    assert.deepStrictEqual(forms, {
      cpu: 'fp32 plain',
      auto: 'fp32 plain',
      coreml: 'fp32 plain',
      webgpu: 'fp16 + MultiHeadAttention, SkipLayerNormalization, Gelu',
      cuda: 'fp16 + MultiHeadAttention, SkipLayerNormalization, Gelu',
      dml: 'fp16 + MultiHeadAttention, SkipLayerNormalization, Gelu',
    });
  });

  it('SD_PROMPT_GRAPH_FORM applies to every device, and an unknown value is refused with the known ones', () => {
    assert.strictEqual(describeForm(renderGraphForm('cpu', 'fused')), 'fp32 + MultiHeadAttention, SkipLayerNormalization, Gelu');
    assert.strictEqual(describeForm(renderGraphForm('webgpu', 'plain')), 'fp32 plain');
    assert.throws(() => renderGraphForm('cpu', 'turbo'), /SD_PROMPT_GRAPH_FORM=turbo is not a graph form\. Known: plain, fused, fp16, fp16-fused\./);
  });
});
