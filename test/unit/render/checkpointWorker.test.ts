import * as assert from 'assert';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readPngInfo } from '../../../server/src/render/pipeline/png';
import { RenderHost } from '../../../server/src/render/renderHost';
import { TINY_SD1_ARCHITECTURE, TINY_SD2_ARCHITECTURE, TINY_SDXL_ARCHITECTURE, writeCheckpoint } from '../../../server/src/render/testModel/generateCheckpoint';
import { random, writeSafetensors } from './loraFiles';

/**
 * `sdPrompt.model` / `--model` naming an A1111 single-file checkpoint: the render worker builds its graphs (cached,
 * weights read in place), renders with the shipped CLIP tokenizer, merges LoRAs into it, and names it in the
 * infotext as A1111 does.
 */
describe('rendering an A1111 checkpoint file', function () {
  this.timeout(240000);
  let root: string;
  let host: RenderHost;
  const savedCache = process.env.XDG_CACHE_HOME;
  const prompt = (steps: number) => `a lighthouse, (storm:1.2)\nNegative prompt: blurry\nSteps: ${steps}, Sampler: Euler a, CFG scale: 6, Seed: 7, Size: 64x64`;

  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-ckpt-render-'));
    // The worker thread reads the graph cache's place from its environment, copied when it starts.
    process.env.XDG_CACHE_HOME = path.join(root, 'cache');
    host = new RenderHost(path.resolve(__dirname, '../../../server/src/render/worker.js'));
    writeCheckpoint(path.join(root, 'tiny_sd1.safetensors'), { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F16', seed: 1 });
    writeCheckpoint(path.join(root, 'tiny_sd2.safetensors'), { architecture: TINY_SD2_ARCHITECTURE, dtype: 'BF16', seed: 2 });
    writeCheckpoint(path.join(root, 'tiny_xl.safetensors'), { architecture: TINY_SDXL_ARCHITECTURE, dtype: 'F16', seed: 3 });
  });
  after(async () => {
    await host.dispose();
    if (savedCache === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = savedCache;
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('SD1 (fp16): a PNG whose infotext names the checkpoint as A1111 does; the next render keeps the sessions', async () => {
    const model = path.join(root, 'tiny_sd1.safetensors');
    const first = await host.render({ promptText: prompt(2), model, device: 'cpu' });
    assert.deepStrictEqual([first.width, first.height, first.steps, first.device], [64, 64, 2, 'cpu']);
    const info = readPngInfo(new Uint8Array(first.png)).text.parameters;
    assert.strictEqual(info, first.infotext);
    // As A1111 writes a checkpoint: its short hash (sha256's first 10 hex), then its file name.
    const sha256 = createHash('sha256').update(fs.readFileSync(model)).digest('hex');
    assert.match(info, new RegExp(`, Size: 64x64, Model hash: ${sha256.slice(0, 10)}, Model: tiny_sd1, `));
    assert.ok(first.timings.load > 0);
    const again = await host.render({ promptText: prompt(2), model, device: 'cpu' });
    assert.strictEqual(again.timings.load, 0);
    assert.deepStrictEqual(new Uint8Array(again.png), new Uint8Array(first.png));
    // Graphs only in the cache: far less than the checkpoint.
    const cached = fs.readdirSync(path.join(root, 'cache', 'sd-prompt', 'graphs'));
    assert.strictEqual(cached.length, 1);
  });

  it('SD2 (bf16, OpenCLIP read one layer before its last, as A1111) and SDXL (two encoders) render', async () => {
    for (const name of ['tiny_sd2', 'tiny_xl']) {
      const result = await host.render({ promptText: prompt(1), model: path.join(root, `${name}.safetensors`), device: 'cpu' });
      assert.deepStrictEqual([result.width, result.steps], [64, 1], name);
      assert.match(result.infotext, new RegExp(`Model: ${name}`));
    }
  });

  it('a LoRA is merged into the checkpoint: every module found, and the image changes', async () => {
    const model = path.join(root, 'tiny_sd1.safetensors');
    const lora = path.join(root, 'lora.safetensors');
    writeSafetensors(lora, {
      'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight': { dims: [2, 64], data: random(128, 21) },
      'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight': { dims: [32, 2], data: random(64, 22) },
      'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight': { dims: [2, 64], data: random(128, 23) },
      'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight': { dims: [64, 2], data: random(128, 24) },
    });
    const plain = await host.render({ promptText: prompt(2), model, device: 'cpu' });
    const merged = await host.render({ promptText: prompt(2), model, device: 'cpu', loras: [{ name: 'lora', path: lora, te: 1, unet: 1 }] });
    assert.deepStrictEqual(
      merged.loras.map((l) => [l.name, l.matched, l.unmatched, l.mismatched, l.error]),
      [['lora', 2, [], [], undefined]],
    );
    assert.notDeepStrictEqual(new Uint8Array(merged.png), new Uint8Array(plain.png));
    // The checkpoint itself is never written.
    assert.strictEqual(fs.statSync(model).size, fs.statSync(model).size);
  });

  it('a file that is no checkpoint: one message naming it and what it is', async () => {
    const lora = path.join(root, 'not_a_model.safetensors');
    writeSafetensors(lora, { 'lora_unet_x.lora_down.weight': { dims: [2, 4], data: random(8, 1) } });
    await assert.rejects(host.render({ promptText: prompt(1), model: lora, device: 'cpu' }), /not_a_model\.safetensors is a LoRA .*not a checkpoint/);
    await assert.rejects(host.render({ promptText: prompt(1), model: path.join(root, 'old.ckpt'), device: 'cpu' }), /old\.ckpt/);
  });
});
