import * as assert from 'assert';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../../../server/src/cli/main';
import { MERGE_MARK } from '../../../server/src/cli/stagedOutput';
import { ldmKeyTable, legacyModelHash, openCheckpointFile } from '../../../server/src/render/checkpoint';
import { addToBfloat16 } from '../../../server/src/render/merge/merge';
import { RenderHost } from '../../../server/src/render/renderHost';
import { TINY_SD1_ARCHITECTURE, writeCheckpoint } from '../../../server/src/render/testModel/generateCheckpoint';
import { idat } from './pngPixels';
import { random, writeSafetensors } from './loraFiles';

async function cli(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), readFile: () => '', readStdin: () => '' });
  return { code, stdout, stderr };
}

/** Each tensor's key, dtype, shape and bytes, in header order, and the metadata. */
async function tensorsOf(file: string): Promise<{ keys: string[]; header: string[]; bytes: Map<string, Buffer>; metadata: Record<string, string> }> {
  const opened = await openCheckpointFile(file);
  const whole = fs.readFileSync(file);
  const raw = JSON.parse(whole.subarray(8, 8 + Number(whole.readBigUInt64LE(0))).toString('utf8')) as Record<string, unknown>;
  const keys = Object.keys(raw).filter((k) => k !== '__metadata__');
  const bytes = new Map<string, Buffer>();
  for (const [name, t] of opened.tensors) bytes.set(name, whole.subarray(opened.dataStart + t.begin, opened.dataStart + t.end));
  const header = keys.map((k) => {
    const t = opened.tensors.get(k)!;
    return `${k} ${t.dtype} [${t.shape}] ${t.begin}-${t.end}`;
  });
  return { keys, header, bytes, metadata: opened.metadata };
}

/**
 * `sd-prompt merge --model CKPT`: LoRAs baked into an A1111 checkpoint, as a new `.safetensors` checkpoint or a
 * converted folder; either renders what `<lora:...>` on the source renders.
 */
describe('sd-prompt merge from a checkpoint', function () {
  this.timeout(240000);
  let root: string;
  let checkpoint: string;
  let lora: string;
  let host: RenderHost;
  const savedCache = process.env.XDG_CACHE_HOME;
  const prompt = 'a lighthouse, (storm:1.2)\nNegative prompt: blurry\nSteps: 2, Sampler: Euler a, CFG scale: 6, Seed: 7, Size: 64x64';
  const unetKey = () => ldmKeyTable(TINY_SD1_ARCHITECTURE).find((e) => e.component === 'unet' && e.name === 'down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight')!.ldmKey;
  const teKey = () => ldmKeyTable(TINY_SD1_ARCHITECTURE).find((e) => e.component === 'text_encoder' && e.name === 'text_model.encoder.layers.0.self_attn.q_proj.weight')!.ldmKey;

  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-ckpt-merge-'));
    process.env.XDG_CACHE_HOME = path.join(root, 'cache');
    host = new RenderHost(path.resolve(__dirname, '../../../server/src/render/worker.js'));
    checkpoint = path.join(root, 'base.safetensors');
    writeCheckpoint(checkpoint, { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F16', seed: 1, extras: true, metadata: { format: 'pt', modelspec: 'kept' } });
    lora = path.join(root, 'style.safetensors');
    // Strong factors, so the LoRA visibly changes a 2-step 64×64 image.
    writeSafetensors(lora, {
      'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight': { dims: [2, 64], data: random(128, 21).map((x) => x * 20) },
      'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight': { dims: [32, 2], data: random(64, 22).map((x) => x * 20) },
      'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight': { dims: [2, 64], data: random(128, 23).map((x) => x * 5) },
      'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight': { dims: [64, 2], data: random(128, 24).map((x) => x * 5) },
    });
  });
  after(async () => {
    await host.dispose();
    if (savedCache === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = savedCache;
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('--out FILE.safetensors: same keys, dtypes, shapes and offsets; only the two patched tensors differ; metadata kept plus the merge recipe', async () => {
    const out = path.join(root, 'merged.safetensors');
    const { code, stdout, stderr } = await cli('merge', '--model', checkpoint, '--lora', `${lora}:0.8:0.6`, '--out', out);
    assert.strictEqual(code, 0, stderr);
    assert.match(stdout, /wrote .*merged\.safetensors/);
    const [a, b] = [await tensorsOf(checkpoint), await tensorsOf(out)];
    assert.deepStrictEqual(b.header, a.header);
    assert.ok(a.keys.includes('model_ema.decay') && a.keys.includes('cond_stage_model.transformer.text_model.embeddings.position_ids'));
    const changed = a.keys.filter((k) => !a.bytes.get(k)!.equals(b.bytes.get(k)!));
    assert.deepStrictEqual(changed.sort(), [teKey(), unetKey()].sort());
    // The whole data section but those two is the source's, byte for byte.
    assert.strictEqual(fs.statSync(out).size - (await openCheckpointFile(out)).dataStart, fs.statSync(checkpoint).size - (await openCheckpointFile(checkpoint)).dataStart);
    const sha256 = createHash('sha256').update(fs.readFileSync(checkpoint)).digest('hex');
    const loraSha = createHash('sha256').update(fs.readFileSync(lora)).digest('hex');
    assert.strictEqual(b.metadata.format, 'pt');
    assert.strictEqual(b.metadata.modelspec, 'kept');
    assert.deepStrictEqual(JSON.parse(b.metadata.sd_merge_recipe), {
      type: 'sd-prompt',
      merge_method: 'lora',
      primary_model_hash: sha256,
      loras: [{ name: 'style', file: 'style.safetensors', sha256: loraSha, te: 0.8, unet: 0.6, matched: 2 }],
      output_name: 'merged',
    });
    assert.deepStrictEqual(JSON.parse(b.metadata.sd_merge_models), { [sha256]: { name: 'base', legacy_hash: await legacyModelHash(checkpoint), sd_merge_recipe: null } });
    // The header's length is a multiple of 8 (padded with spaces, as safetensors writes it).
    assert.strictEqual(Number(fs.readFileSync(out).readBigUInt64LE(0)) % 8, 0);
  });

  it('the merged checkpoint renders what <lora:style> on the source renders, pixel for pixel', async () => {
    const out = path.join(root, 'merged.safetensors');
    const live = await host.render({ promptText: prompt, model: checkpoint, device: 'cpu', loras: [{ name: 'style', path: lora, te: 0.8, unet: 0.6 }] });
    const baked = await host.render({ promptText: prompt, model: out, device: 'cpu' });
    const plain = await host.render({ promptText: prompt, model: checkpoint, device: 'cpu' });
    assert.deepStrictEqual(live.loras.map((l) => [l.name, l.matched]), [['style', 2]]);
    assert.ok(idat(baked.png).equals(idat(live.png)));
    assert.ok(!idat(plain.png).equals(idat(live.png)), 'the LoRA changes the image');
  });

  it('--out DIR: a converted folder with the LoRA merged renders the same pixels', async () => {
    const out = path.join(root, 'merged_folder');
    const { code, stderr } = await cli('merge', '--model', checkpoint, '--lora', `${lora}:0.8:0.6`, '--out', out);
    assert.strictEqual(code, 0, stderr);
    assert.ok(fs.existsSync(path.join(out, 'unet', 'model.onnx_data')));
    assert.ok(fs.existsSync(path.join(out, MERGE_MARK)));
    assert.ok(!fs.readdirSync(out).some((f) => f.startsWith('.')), 'no scratch file left');
    const live = await host.render({ promptText: prompt, model: checkpoint, device: 'cpu', loras: [{ name: 'style', path: lora, te: 0.8, unet: 0.6 }] });
    const baked = await host.render({ promptText: prompt, model: out, device: 'cpu' });
    assert.ok(idat(baked.png).equals(idat(live.png)));
  });

  it('refuses the source as --out, an existing file without --force, and a file sd-prompt did not write even with --force', async () => {
    const before = fs.readFileSync(checkpoint);
    const self = await cli('merge', '--model', checkpoint, '--lora', lora, '--out', checkpoint, '--force');
    assert.strictEqual(self.code, 1);
    assert.match(self.stderr, /is the source checkpoint/);
    assert.ok(fs.readFileSync(checkpoint).equals(before));
    const out = path.join(root, 'merged.safetensors');
    const exists = await cli('merge', '--model', checkpoint, '--lora', lora, '--out', out);
    assert.strictEqual(exists.code, 1);
    assert.match(exists.stderr, /already exists: pass --force/);
    // An earlier merge's output is replaced with --force (here at another weight: other bytes).
    const first = fs.readFileSync(out);
    assert.strictEqual((await cli('merge', '--model', checkpoint, '--lora', `${lora}:1`, '--out', out, '--force')).code, 0);
    assert.ok(!fs.readFileSync(out).equals(first));
    // A user's own checkpoint is not, even with --force.
    const users = path.join(root, 'users_model.safetensors');
    fs.copyFileSync(checkpoint, users);
    const refused = await cli('merge', '--model', checkpoint, '--lora', lora, '--out', users, '--force');
    assert.strictEqual(refused.code, 1);
    assert.match(refused.stderr, /was not written by sd-prompt merge/);
    assert.ok(fs.readFileSync(users).equals(before));
  });

  it('a bf16 checkpoint: the patched tensors stay bf16 (W + ΔW rounded once, nearest-even) and render what <lora:style> renders', async () => {
    const bf16 = path.join(root, 'base_bf16.safetensors');
    writeCheckpoint(bf16, { architecture: TINY_SD1_ARCHITECTURE, dtype: 'BF16', seed: 4 });
    const out = path.join(root, 'merged_bf16.safetensors');
    const { code, stdout, stderr } = await cli('merge', '--model', bf16, '--lora', `${lora}:0.7`, '--out', out);
    assert.strictEqual(code, 0, stderr);
    assert.match(stdout, /^style \(te 0\.7, unet 0\.7\): 2 modules merged, 0 unmatched, 0 of the wrong shape\n/);
    const [a, b] = [await tensorsOf(bf16), await tensorsOf(out)];
    assert.deepStrictEqual(b.header, a.header);
    assert.deepStrictEqual(a.keys.filter((k) => !a.bytes.get(k)!.equals(b.bytes.get(k)!)).sort(), [teKey(), unetKey()].sort());
    const live = await host.render({ promptText: prompt, model: bf16, device: 'cpu', loras: [{ name: 'style', path: lora, te: 0.7, unet: 0.7 }] });
    const baked = await host.render({ promptText: prompt, model: out, device: 'cpu' });
    assert.deepStrictEqual(live.loras.map((l) => [l.matched, l.mismatched]), [[2, []]]);
    assert.ok(idat(baked.png).equals(idat(live.png)));
  });

  it('bf16 rounding: to nearest, ties to even, overflow to Inf, NaN kept', () => {
    // 1 + 2^-8 is halfway between bf16 1 (0x3f80) and 1 + 2^-7 (0x3f81): even wins; a hair more rounds up.
    const bits = new Uint16Array([0x3f80, 0x3f80, 0x3f81, 0x7f7f, 0xffc0, 0x0000]);
    addToBfloat16(bits, new Float32Array([2 ** -8, 2 ** -8 + 2 ** -20, 2 ** -8, 3e38, 1, -0]));
    assert.deepStrictEqual([...bits], [0x3f80, 0x3f81, 0x3f82, 0x7f80, 0xffc0, 0x0000]);
  });

  it('a failure leaves nothing: a LoRA that cannot be read, a damaged checkpoint', async () => {
    // The graph cache (XDG_CACHE_HOME, inside root here) is the one place a merge may write before it fails.
    const listing = () => fs.readdirSync(root).filter((n) => n !== 'cache').sort();
    const before = listing();
    const missing = await cli('merge', '--model', checkpoint, '--lora', path.join(root, 'nope.safetensors'), '--out', path.join(root, 'never.safetensors'));
    assert.strictEqual(missing.code, 1);
    assert.match(missing.stderr, /merge failed: nope could not be merged; nothing was written/);
    assert.deepStrictEqual(listing(), before);
    const damaged = path.join(root, 'cut.safetensors');
    const whole = fs.readFileSync(checkpoint);
    fs.writeFileSync(damaged, whole.subarray(0, whole.length - 100));
    const cut = await cli('merge', '--model', damaged, '--lora', lora, '--out', path.join(root, 'never.safetensors'));
    assert.strictEqual(cut.code, 1);
    assert.match(cut.stderr, /cut\.safetensors is shorter than its header says/);
    fs.rmSync(damaged);
    assert.deepStrictEqual(listing(), before);
    // A LoRA given as the checkpoint says what it is.
    const swapped = await cli('merge', '--model', lora, '--lora', lora, '--out', path.join(root, 'never.safetensors'));
    assert.strictEqual(swapped.code, 1);
    assert.match(swapped.stderr, /style\.safetensors is a LoRA \(4 of its 4 tensors are LoRA weights\), not a checkpoint/);
    assert.deepStrictEqual(listing(), before);
  });
});
