import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { main } from '../../../server/src/cli/main';
import { MERGE_MARK } from '../../../server/src/cli/stagedOutput';
import { convertBlock } from '../../../server/src/render/checkpoint/convertCheckpoint';
import { openModelFolder } from '../../../server/src/render/model/modelFolder';
import { floatToHalf } from '../../../server/src/render/onnx/half';
import { RenderHost } from '../../../server/src/render/renderHost';
import { TINY_SD1_ARCHITECTURE, TINY_SDXL_ARCHITECTURE, writeCheckpoint } from '../../../server/src/render/testModel/generateCheckpoint';
import { rewriteHeader } from '../checkpoint/rewriteHeader';
import { decodeRgb, idat } from './pngPixels';

async function cli(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), readFile: () => '', readStdin: () => '' });
  return { code, stdout, stderr };
}

/**
 * `sd-prompt convert CKPT --out DIR`: a diffusers ONNX folder that onnxruntime opens graph by graph and that renders
 * the checkpoint's own image.
 */
describe('sd-prompt convert', function () {
  this.timeout(240000);
  let root: string;
  let host: RenderHost;
  const savedCache = process.env.XDG_CACHE_HOME;
  const prompt = 'a lighthouse, (storm:1.2)\nNegative prompt: blurry\nSteps: 2, Sampler: Euler a, CFG scale: 6, Seed: 7, Size: 64x64';

  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-convert-'));
    process.env.XDG_CACHE_HOME = path.join(root, 'cache');
    host = new RenderHost(path.resolve(__dirname, '../../../server/src/render/worker.js'));
    writeCheckpoint(path.join(root, 'sd1_f16.safetensors'), { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F16', seed: 1, extras: true });
    writeCheckpoint(path.join(root, 'sd1_f32.safetensors'), { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F32', seed: 1 });
    writeCheckpoint(path.join(root, 'xl_bf16.safetensors'), { architecture: TINY_SDXL_ARCHITECTURE, dtype: 'BF16', seed: 3 });
  });
  after(async () => {
    await host.dispose();
    if (savedCache === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = savedCache;
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('writes the diffusers layout with weights beside each graph, in the checkpoint\'s own dtype, and each graph runs as a plain InferenceSession', async () => {
    const out = path.join(root, 'sd1_f16');
    const { code, stdout, stderr } = await cli('convert', path.join(root, 'sd1_f16.safetensors'), '--out', out);
    assert.strictEqual(code, 0, stderr);
    assert.match(stdout, /^sd1 \(epsilon\), text_encoder, unet, vae_decoder: \d+ float16 weights/);
    // The family comes from the checkpoint, not from the width (a narrow test model's 32 is neither SD1's 768 nor SD2's 1024).
    assert.strictEqual(openModelFolder(out).kind, 'sd1');
    const files = (fs.readdirSync(out, { recursive: true }) as string[]).map((f) => f.split(path.sep).join('/')).sort();
    for (const f of [
      'model_index.json',
      'scheduler/scheduler_config.json',
      'tokenizer/vocab.json',
      'tokenizer/merges.txt',
      'text_encoder/model.onnx',
      'text_encoder/model.onnx_data',
      'unet/model.onnx',
      'unet/model.onnx_data',
      'unet/config.json',
      'vae_decoder/model.onnx',
      'vae_decoder/model.onnx_data',
      MERGE_MARK,
    ]) {
      assert.ok(files.includes(f), `${f} in ${files.join(', ')}`);
    }
    assert.ok(!files.includes('tokenizer_2/vocab.json'));
    assert.strictEqual(JSON.parse(fs.readFileSync(path.join(out, 'scheduler/scheduler_config.json'), 'utf8')).prediction_type, 'epsilon');
    // Nothing points outside the folder: the graphs name their data file by a relative location.
    for (const c of ['text_encoder', 'unet', 'vae_decoder']) {
      const graph = fs.readFileSync(path.join(out, c, 'model.onnx'));
      assert.ok(!graph.includes(root), `${c} names ${root}`);
      assert.ok(graph.includes('model.onnx_data'));
    }
    // The opened model is the folder (not a checkpoint), and each graph runs on its own: the UNet on a latent.
    const folder = openModelFolder(out);
    assert.strictEqual(folder.checkpoint, undefined);
    const unet = await ort.InferenceSession.create(folder.unet);
    try {
      const feeds: Record<string, ort.Tensor> = {
        sample: new ort.Tensor('float32', new Float32Array(2 * 4 * 8 * 8).fill(0.5), [2, 4, 8, 8]),
        timestep: new ort.Tensor('float32', new Float32Array([999]), [1]),
        encoder_hidden_states: new ort.Tensor('float32', new Float32Array(2 * 77 * 64).fill(0.1), [2, 77, 64]),
      };
      assert.deepStrictEqual(unet.inputNames, Object.keys(feeds));
      const result = await unet.run(feeds);
      const out0 = result[unet.outputNames[0]];
      assert.deepStrictEqual(out0.dims, [2, 4, 8, 8]);
      assert.ok((out0.data as Float32Array).every((x) => Number.isFinite(x)));
    } finally {
      await unet.release();
    }
    for (const graph of [folder.textEncoder, folder.vaeDecoder]) (await ort.InferenceSession.create(graph)).release();
  });

  it('the folder renders the checkpoint\'s own image, pixel for pixel (fp16 as stored, and --fp32: widening fp16 is exact)', async () => {
    const checkpoint = path.join(root, 'sd1_f16.safetensors');
    const fromCheckpoint = await host.render({ promptText: prompt, model: checkpoint, device: 'cpu' });
    const asStored = await host.render({ promptText: prompt, model: path.join(root, 'sd1_f16'), device: 'cpu' });
    assert.ok(idat(asStored.png).equals(idat(fromCheckpoint.png)));
    const wide = path.join(root, 'sd1_f16_as_f32');
    assert.strictEqual((await cli('convert', checkpoint, '--out', wide, '--fp32')).code, 0);
    // Every weight twice the bytes: the UNet's data file doubles (give or take alignment padding).
    const unetBytes = (f: string) => fs.statSync(path.join(f, 'unet', 'model.onnx_data')).size;
    assert.ok(Math.abs(unetBytes(wide) / unetBytes(path.join(root, 'sd1_f16')) - 2) < 0.05);
    const widened = await host.render({ promptText: prompt, model: wide, device: 'cpu' });
    assert.ok(idat(widened.png).equals(idat(fromCheckpoint.png)));
  });

  it('--fp16 from an fp32 checkpoint rounds each weight to nearest-even fp16: the image stays within a few levels', async () => {
    const checkpoint = path.join(root, 'sd1_f32.safetensors');
    const out = path.join(root, 'sd1_f32_as_f16');
    const { code, stdout } = await cli('convert', checkpoint, '--out', out, '--fp16', '--json');
    assert.strictEqual(code, 0);
    const summary = JSON.parse(stdout);
    assert.deepStrictEqual(Object.keys(summary.dtypes), ['float16']);
    const exact = await host.render({ promptText: prompt, model: checkpoint, device: 'cpu' });
    const halved = await host.render({ promptText: prompt, model: out, device: 'cpu' });
    const pixels = async (png: ArrayBuffer) => decodeRgb(Buffer.from(png));
    const [a, b] = [await pixels(exact.png), await pixels(halved.png)];
    assert.strictEqual(a.length, 64 * 64 * 3);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
    // fp16 keeps 11 significant bits (relative error ≤ 2^-11 per weight); through 2 steps of a tiny model that
    // moved no 8-bit channel by more than a few levels.
    assert.ok(worst <= 4, `largest channel difference ${worst}`);
  });

  it('SDXL in bf16: both text encoders and tokenizers, and the same image as the checkpoint', async () => {
    const checkpoint = path.join(root, 'xl_bf16.safetensors');
    const out = path.join(root, 'xl');
    assert.strictEqual((await cli('convert', checkpoint, '--out', out)).code, 0);
    assert.ok(fs.existsSync(path.join(out, 'text_encoder_2', 'model.onnx_data')));
    assert.ok(fs.existsSync(path.join(out, 'tokenizer_2', 'vocab.json')));
    assert.strictEqual(openModelFolder(out).kind, 'sdxl');
    const text = prompt.replace('Steps: 2', 'Steps: 1');
    const a = await host.render({ promptText: text, model: checkpoint, device: 'cpu' });
    const b = await host.render({ promptText: text, model: out, device: 'cpu' });
    assert.ok(idat(b.png).equals(idat(a.png)));
  });

  it('an existing folder is replaced only with --force and only when sd-prompt wrote it; the checkpoint\'s own folder is refused', async () => {
    const checkpoint = path.join(root, 'sd1_f16.safetensors');
    const out = path.join(root, 'sd1_f16');
    const again = await cli('convert', checkpoint, '--out', out);
    assert.strictEqual(again.code, 1);
    assert.match(again.stderr, /already exists: pass --force to replace it/);
    assert.strictEqual((await cli('convert', checkpoint, '--out', out, '--force')).code, 0);
    const mine = path.join(root, 'mine');
    fs.mkdirSync(mine);
    fs.writeFileSync(path.join(mine, 'notes.txt'), 'keep me');
    const refused = await cli('convert', checkpoint, '--out', mine, '--force');
    assert.strictEqual(refused.code, 1);
    assert.match(refused.stderr, /was not written by sd-prompt merge/);
    assert.strictEqual(fs.readFileSync(path.join(mine, 'notes.txt'), 'utf8'), 'keep me');
    const own = await cli('convert', checkpoint, '--out', root, '--force');
    assert.strictEqual(own.code, 1);
    assert.match(own.stderr, /contains the model folder/);
  });

  it('--vae FILE: the VAE decoder comes from that file (a webui VAE, bare decoder.* names), and --json names it', async () => {
    const donor = path.join(root, 'donor.safetensors');
    writeCheckpoint(donor, { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F16', seed: 9 });
    const vae = path.join(root, 'donor_vae.safetensors');
    fs.copyFileSync(donor, vae);
    rewriteHeader(vae, (header) =>
      Object.fromEntries(Object.entries(header).filter(([key]) => key.startsWith('first_stage_model.')).map(([key, value]) => [key.slice('first_stage_model.'.length), value])),
    );
    const out = path.join(root, 'with_vae');
    const { code, stdout } = await cli('convert', path.join(root, 'sd1_f16.safetensors'), '--out', out, '--vae', vae, '--json');
    assert.strictEqual(code, 0);
    assert.strictEqual(JSON.parse(stdout).vae, vae);
    assert.strictEqual((await cli('convert', donor, '--out', path.join(root, 'donor'))).code, 0);
    assert.strictEqual((await cli('convert', path.join(root, 'sd1_f16.safetensors'), '--out', path.join(root, 'sd1_f16'), '--force')).code, 0);
    const data = (folder: string, c: string) => fs.readFileSync(path.join(root, folder, c, 'model.onnx_data'));
    assert.ok(data('with_vae', 'vae_decoder').equals(data('donor', 'vae_decoder')));
    assert.ok(!data('with_vae', 'vae_decoder').equals(data('sd1_f16', 'vae_decoder')));
    assert.ok(data('with_vae', 'unet').equals(data('sd1_f16', 'unet')));
  });

  it('a damaged checkpoint fails before anything is written, with its reason', async () => {
    const damaged = path.join(root, 'cut.safetensors');
    const whole = fs.readFileSync(path.join(root, 'sd1_f16.safetensors'));
    fs.writeFileSync(damaged, whole.subarray(0, whole.length - 1000));
    const before = fs.readdirSync(root).sort();
    const { code, stderr } = await cli('convert', damaged, '--out', path.join(root, 'from_cut'));
    assert.strictEqual(code, 1);
    assert.match(stderr, /cut\.safetensors is shorter than its header says/);
    assert.deepStrictEqual(fs.readdirSync(root).sort(), before);
    assert.strictEqual((await cli('convert', damaged)).code, 2);
    assert.strictEqual((await cli('convert', damaged, '--out', 'x', '--fp16', '--fp32')).code, 2);
  });

  it('fp16 conversion rounds to nearest even and refuses a weight beyond fp16\'s range by name', () => {
    const values = new Float32Array([1 + 2 ** -11, 1 + 3 * 2 ** -11, -0, 65504]);
    const half = new Uint16Array(convertBlock(new Uint8Array(values.buffer), 'float32', 'float16', () => 'w').buffer);
    assert.deepStrictEqual([...half], [...values].map(floatToHalf));
    assert.deepStrictEqual([...half], [0x3c00, 0x3c02, 0x8000, 0x7bff]);
    const big = new Float32Array([1, 70000]);
    assert.throws(() => convertBlock(new Uint8Array(big.buffer), 'float32', 'float16', () => 'unet weight conv_in.weight'), /unet weight conv_in\.weight holds 70000, beyond fp16's range/);
    const bf16 = new Uint16Array([0x3f80, 0xc000]);
    assert.deepStrictEqual([...new Float32Array(convertBlock(new Uint8Array(bf16.buffer), 'bfloat16', 'float32', () => 'w').buffer)], [1, -2]);
  });
});
