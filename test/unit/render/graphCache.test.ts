import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { GraphCache } from '../../../server/src/render/onnx/graphCache';
import { computeAll, mergeIntoGraph } from '../../../server/src/render/merge/merge';
import { MergeKernel } from '../../../server/src/render/merge/mergeKernel';
import { generateTinyPipeline, TINY_SD15 } from '../../../server/src/render/testModel/generateModel';
import { FIXTURES } from '../fixtures';
import { readLoraModules, tinyKohyaLora, writeSafetensors } from './loraFiles';

describe('parsed graphs kept between merges (GraphCache)', function () {
  this.timeout(30000);
  let root: string;
  const kernel = new MergeKernel(ort);
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-graph-cache-'));
    generateTinyPipeline(root, { ...TINY_SD15, tokenizerFrom: path.join(FIXTURES, 'clip') });
  });
  after(async () => {
    await kernel.release();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('a model file is parsed once; a file that changed on disk is parsed again', () => {
    const te = path.join(root, 'text_encoder/model.onnx');
    const graphs = new GraphCache();
    const first = graphs.get(te);
    assert.strictEqual(graphs.get(te), first);
    assert.ok(first.index.byModule.has('text_model.encoder.layers.0.self_attn.q_proj'));
    // Replaced by another export (same bytes here, a later modification time): read again.
    const later = new Date(fs.statSync(te).mtimeMs + 5000);
    fs.utimesSync(te, later, later);
    const again = graphs.get(te);
    assert.notStrictEqual(again, first);
    assert.deepStrictEqual([...again.index.byModule.keys()], [...first.index.byModule.keys()]);
    assert.strictEqual(graphs.size, 1);
    graphs.clear();
    assert.strictEqual(graphs.size, 0);
  });

  it('a merge through the kept graph writes the same weights as one that parses the model itself', async () => {
    const file = path.join(root, 'lora.safetensors');
    writeSafetensors(file, tinyKohyaLora());
    const modules = await readLoraModules(file);
    const te = path.join(root, 'text_encoder/model.onnx');
    const graphs = new GraphCache();
    const merge = async (context: { kernel: MergeKernel; graphs?: GraphCache }, weight: number) =>
      computeAll(await mergeIntoGraph(te, 'text_encoder', [{ name: 'x', modules, te: weight, unet: 1 }], context));
    const uncached = await merge({ kernel }, 0.7);
    await merge({ kernel, graphs }, 0.4);
    const cached = await merge({ kernel, graphs }, 0.7);
    assert.deepStrictEqual([...cached.keys()], [...uncached.keys()]);
    for (const [name, bytes] of uncached) assert.ok(Buffer.from(cached.get(name)!).equals(Buffer.from(bytes)), name);
  });
});
