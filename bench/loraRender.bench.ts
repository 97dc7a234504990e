/**
 * What a render waits for when only a LoRA weight changes (`node out/bench/loraRender.bench.js`): renders
 * through the render worker, as the extension makes them, on the SD1.5-sized model with a rank-32 kohya LoRA
 * on the UNet's 192 attention, feed-forward and projection modules and the text encoder's 72. Prints each
 * render's load time (merge + sessions) and which graphs' sessions were kept; the image is 64×64 with one
 * step, so the load is most of it. Printed, never asserted.
 *   LORA_BENCH_MODEL      an SD1.5-sized model folder with a tokenizer/ (default: generate SD15_SIZED into a
 *                         temp folder, with the CLIP tokenizer of test/fixtures/clip or LORA_BENCH_TOKENIZER)
 *   LORA_BENCH_DEVICE     the render device, as sdPrompt.render.device names it (default cpu)
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { indexWeights, readOnnxModel } from '../server/src/render/onnx/onnxIndex';
import { DEVICE_SETTINGS, DeviceSetting } from '../server/src/render/onnx/devices';
import { RenderHost } from '../server/src/render/renderHost';
import { generateTinyPipeline, SD15_SIZED } from '../server/src/render/testModel/generateModel';
import { writeSafetensors } from '../test/unit/render/loraFiles';

const UNET_TARGETS = /(attn[12]\.to_(q|k|v|out\.0)|ff\.net\.(0\.proj|2)|proj_(in|out))$/;
const TE_TARGETS = /(self_attn\.(q|k|v|out)_proj|mlp\.fc[12])$/;
const RANK = 32;
const FIXTURE_CLIP = path.resolve(__dirname, '../../test/fixtures/clip');

/** A rank-32 kohya LoRA (alpha 16) on every module of `graph` that `targets` names. */
function loraTensors(graph: string, prefix: string, targets: RegExp, seed: { s: number }) {
  const rnd = (n: number) => Float32Array.from({ length: n }, () => ((seed.s = (seed.s * 16807) % 2147483647) / 2147483647 - 0.5) * 0.01);
  const tensors: Record<string, { dims: number[]; data: Float32Array }> = {};
  for (const w of indexWeights(readOnnxModel(graph)).weights.filter((w) => targets.test(w.module))) {
    const [out, inputs] = w.layout === 'in_out' ? [w.dims[1], w.dims[0]] : [w.dims[0], w.dims.slice(1).reduce((a, b) => a * b, 1)];
    const conv = w.layout === 'conv';
    const key = `${prefix}_${w.module.replace(/\./g, '_')}`;
    tensors[`${key}.lora_down.weight`] = { dims: conv ? [RANK, inputs, 1, 1] : [RANK, inputs], data: rnd(RANK * inputs) };
    tensors[`${key}.lora_up.weight`] = { dims: conv ? [out, RANK, 1, 1] : [out, RANK], data: rnd(out * RANK) };
    tensors[`${key}.alpha`] = { dims: [], data: Float32Array.of(RANK / 2) };
  }
  return tensors;
}

async function main() {
  let model = process.env.LORA_BENCH_MODEL;
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-lora-render-bench-'));
  if (!model) {
    model = path.join(temp, 'model');
    const tokenizerFrom = process.env.LORA_BENCH_TOKENIZER ?? FIXTURE_CLIP;
    if (!fs.existsSync(path.join(tokenizerFrom, 'vocab.json'))) throw new Error(`no CLIP tokenizer in ${tokenizerFrom}: set LORA_BENCH_TOKENIZER to a folder with vocab.json and merges.txt`);
    generateTinyPipeline(model, { ...SD15_SIZED, tokenizerFrom });
  }
  const device = (process.env.LORA_BENCH_DEVICE ?? 'cpu') as DeviceSetting;
  if (!DEVICE_SETTINGS.includes(device)) throw new Error(`LORA_BENCH_DEVICE=${device}: one of ${DEVICE_SETTINGS.join(', ')}`);
  const host = new RenderHost(path.resolve(__dirname, '../server/src/render/worker.js'));
  try {
    const seed = { s: 7 };
    const loraFile = path.join(temp, 'bench_lora.safetensors');
    writeSafetensors(loraFile, {
      ...loraTensors(path.join(model, 'unet/model.onnx'), 'lora_unet', UNET_TARGETS, seed),
      ...loraTensors(path.join(model, 'text_encoder/model.onnx'), 'lora_te', TE_TARGETS, seed),
    });
    const promptText = 'a lighthouse on a cliff\nSteps: 1, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 64x64';
    const render = async (label: string, loras: { te: number; unet: number } | undefined) => {
      const r = await host.render({ promptText, model: model!, device, loras: loras ? [{ name: 'bench_lora', path: loraFile, ...loras }] : [] });
      const kept = r.reused.length ? `; kept ${r.reused.join(', ')}` : '';
      console.log(`${label.padEnd(36)} on ${r.device}: load ${(r.timings.load / 1000).toFixed(2)} s${kept}`);
    };
    await render('no LoRA (first load)', undefined);
    await host.release();
    await render('LoRA te 1, unet 0.8 (first load)', { te: 1, unet: 0.8 });
    await render('unet 0.8 -> 0.5', { te: 1, unet: 0.5 });
    await render('te 1 -> 0.6', { te: 0.6, unet: 0.5 });
    await render('back to te 1, unet 0.8', { te: 1, unet: 0.8 });
    console.log(`peak RSS of this process ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (the worker thread's included)`);
  } finally {
    await host.dispose();
    fs.rmSync(temp, { recursive: true, force: true });
  }
}

void main();
