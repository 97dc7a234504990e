// The LoRA library `npm start` puts into its demo workspace: every module fits the tiny model (the merge
// report lists nothing unmatched), and each file has the card a person expects (alias, trigger words,
// preferred weight, base model, preview image).
import * as assert from 'assert';
import * as fs from 'fs';
import * as ort from 'onnxruntime-node';
import * as os from 'os';
import * as path from 'path';
import { NodeFileSystem } from '../../../server/src/node/nodeFileSystem';
import { prepareLoras } from '../../../server/src/render/lora/prepare';
import { openModelFolder } from '../../../server/src/render/model/modelFolder';
import { loadSessions } from '../../../server/src/render/model/sessions';
import { readPngInfo } from '../../../server/src/render/pipeline/png';
import { DEMO_LORAS, writeDemoLoraLibrary } from '../../../server/src/render/testModel/demoLoras';
import { generateTinyPipeline, TINY_SD15 } from '../../../server/src/render/testModel/generateModel';
import { loadLoraCard } from '../../../server/src/service/library/loraCard';
import { SafetensorsCache } from '../../../server/src/service/library/safetensors';
import { FIXTURES } from '../fixtures';

describe('demo LoRA library', () => {
  let tmp: string;
  let files: string[];

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-prompt-demo-loras-'));
    files = writeDemoLoraLibrary(path.join(tmp, 'loras'));
  });

  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('writes each LoRA with its sidecar and preview, in its subfolder', () => {
    const written = fs.readdirSync(path.join(tmp, 'loras'), { recursive: true }).map(String).sort();
    assert.deepStrictEqual(written, [
      'add_detail.json',
      'add_detail.preview.png',
      'add_detail.safetensors',
      'styles',
      path.join('styles', 'ink_style.json'),
      path.join('styles', 'ink_style.preview.png'),
      path.join('styles', 'ink_style.safetensors'),
    ]);
    const preview = readPngInfo(fs.readFileSync(path.join(tmp, 'loras', 'add_detail.preview.png')));
    assert.deepStrictEqual([preview.width, preview.height], [64, 64]);
  });

  it('each card shows the alias, trigger words, preferred weight, SD1 base model and the preview', async () => {
    const cards = [];
    for (const file of files) {
      const card = await loadLoraCard(new NodeFileSystem(), file, new SafetensorsCache());
      assert.ok(!('error' in card), JSON.stringify(card));
      if ('error' in card) return;
      cards.push([card.kind, card.keyStyle, card.outputName, card.triggerWords.map((t) => t.word), card.preferredWeight, card.baseModel, card.rank, card.alpha, card.previewPath, card.warnings]);
    }
    assert.deepStrictEqual(cards, [
      ['LoRA', 'kohya', 'add_detail', ['detailed', 'intricate'], 0.8, 'SD1', 4, 2, files[0].replace(/\.safetensors$/, '.preview.png'), []],
      ['LoRA', 'kohya', 'ink_style', ['ink sketch', 'monochrome'], 0.6, 'SD1', 4, 2, files[1].replace(/\.safetensors$/, '.preview.png'), []],
    ]);
  });

  it('merges into the tiny SD1.5 model with every module matched', async function () {
    this.timeout(60_000);
    const model = path.join(tmp, 'tiny');
    generateTinyPipeline(model, { ...TINY_SD15, tokenizerFrom: path.join(FIXTURES, 'clip') });
    const prepared = await prepareLoras(DEMO_LORAS.map((l, i) => ({ name: l.outputName, path: files[i], te: l.preferredWeight, unet: l.preferredWeight })));
    const sessions = await loadSessions(openModelFolder(model), 'cpu', ort, prepared);
    try {
      assert.deepStrictEqual(
        sessions.loras.map((r) => [r.name, r.matched, r.unmatched, r.mismatched, r.error]),
        [
          ['add_detail', 52, [], [], undefined],
          ['ink_style', 16, [], [], undefined],
        ],
      );
    } finally {
      await sessions.release();
    }
  });
});
