import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { computeAll, mergeIntoGraph } from '../../../server/src/render/merge/merge';
import { MergeKernel } from '../../../server/src/render/merge/mergeKernel';
import { MergeFiles, SessionModel, sessionModel } from '../../../server/src/render/merge/mergedModelFiles';
import { GraphCache } from '../../../server/src/render/onnx/graphCache';
import { parseOnnxModel, readOnnxModel } from '../../../server/src/render/onnx/onnxIndex';
import { generateTinyPipeline, TINY_SD15 } from '../../../server/src/render/testModel/generateModel';
import { random, readLoraModules, tinyKohyaLora, writeSafetensors } from './loraFiles';
import { FIXTURES } from '../fixtures';
import { main } from '../../../server/src/cli/main';
import { RenderHost } from '../../../server/src/render/renderHost';
import { loadSessions } from '../../../server/src/render/model/sessions';
import { openModelFolder } from '../../../server/src/render/model/modelFolder';
import { prepareLoras } from '../../../server/src/render/lora/prepare';

const asFloats = (bytes: Uint8Array) => new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));

describe('LoRA merge into the generated tiny SD1.5 graphs', function () {
  this.timeout(30000);
  let root: string;
  const kernel = new MergeKernel(ort);
  after(() => kernel.release());

  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-merge-'));
    generateTinyPipeline(root, { ...TINY_SD15, tokenizerFrom: path.join(FIXTURES, 'clip') });
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('a kohya LoRA (a MatMul stored transposed, a 3×3 LoCon conv) equals base + scale·up·down, computed independently', async () => {
    const rank = 2;
    // attn2.to_k: torch Linear [out 16, in 32]; conv1: [16, 16, 3, 3].
    const lora = {
      'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight': { dims: [rank, 32], data: random(rank * 32, 1) },
      'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight': { dims: [16, rank], data: random(16 * rank, 2) },
      'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.alpha': { dims: [], data: Float32Array.of(1) },
      'lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight': { dims: [rank, 16, 3, 3], data: random(rank * 16 * 9, 3) },
      'lora_unet_down_blocks_0_resnets_0_conv1.lora_up.weight': { dims: [16, rank, 1, 1], data: random(16 * rank, 4) },
      'lora_unet_down_blocks_0_resnets_0_conv1.alpha': { dims: [], data: Float32Array.of(1) },
      'lora_unet_down_blocks_9_attentions_0_proj_in.lora_down.weight': { dims: [rank, 16], data: random(rank * 16, 5) },
      'lora_unet_down_blocks_9_attentions_0_proj_in.lora_up.weight': { dims: [16, rank], data: random(16 * rank, 6) },
    };
    const file = path.join(root, 'test_lora.safetensors');
    writeSafetensors(file, lora);

    const modules = await readLoraModules(file);
    const unet = path.join(root, 'unet/model.onnx');
    const merged = await mergeIntoGraph(unet, 'unet', [{ name: 'test_lora', modules, te: 1, unet: 0.7 }], { kernel });
    assert.deepStrictEqual(merged.reports, [{ name: 'test_lora', matched: 2, unmatched: ['down_blocks.9.attentions.0.proj_in'], mismatched: [] }]);

    // Independent reference: W' = W + 0.7 · (alpha/rank) · up @ down, in torch layout, then stored.
    const scale = 0.7 * (1 / rank);
    const model = readOnnxModel(unet);
    const original = fs.readFileSync(path.join(root, 'unet/model.onnx_data'));
    const patched = await computeAll(merged);
    const check = (initializer: string, expectedAt: (stored: number) => number) => {
      const init = model.graph.initializers.find((i) => i.name === initializer)!;
      const loc = init.location as { offset: number; length: number };
      const base = new Float32Array(original.buffer.slice(original.byteOffset + loc.offset, original.byteOffset + loc.offset + loc.length));
      const got = asFloats(patched.get(initializer)!);
      let worst = 0;
      for (let s = 0; s < base.length; s++) worst = Math.max(worst, Math.abs(got[s] - (base[s] + expectedAt(s))));
      assert.ok(worst < 1e-6, `${initializer}: largest error ${worst}`);
    };
    const up = lora['lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight'].data;
    const down = lora['lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight'].data;
    // The MatMul initializer is [in 32, out 16]: stored index s = i·16 + o.
    check('onnx::MatMul_1021', (s) => {
      const i = Math.floor(s / 16);
      const o = s % 16;
      let v = 0;
      for (let r = 0; r < rank; r++) v += up[o * rank + r] * down[r * 32 + i];
      return scale * v;
    });
    const cup = lora['lora_unet_down_blocks_0_resnets_0_conv1.lora_up.weight'].data;
    const cdown = lora['lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight'].data;
    // Conv [out 16, in 16, 3, 3]: ΔW[o, c, y, x] = Σr up[o, r] · down[r, c, y, x].
    check('down_blocks.0.resnets.0.conv1.weight', (s) => {
      const o = Math.floor(s / (16 * 9));
      const rest = s % (16 * 9);
      let v = 0;
      for (let r = 0; r < rank; r++) v += cup[o * rank + r] * cdown[r * 16 * 9 + rest];
      return scale * v;
    });
    // The user's files are untouched, and the merged graph runs and differs from the base.
    assert.ok(fs.readFileSync(path.join(root, 'unet/model.onnx_data')).equals(original));
    const feeds = {
      sample: new ort.Tensor('float32', random(4 * 8 * 8, 7), [1, 4, 8, 8]),
      timestep: new ort.Tensor('float32', Float32Array.of(500), [1]),
      encoder_hidden_states: new ort.Tensor('float32', random(77 * 32, 8), [1, 77, 32]),
    };
    const baseSession = await ort.InferenceSession.create(unet);
    const mergedModel = await sessionModel(merged);
    const mergedSession = await ort.InferenceSession.create(mergedModel.bytes, { extra: { session: { model_external_initializers_file_folder_path: mergedModel.folder } } });
    mergedModel.dispose();
    const a = (await baseSession.run(feeds)).out_sample.data as Float32Array;
    const b = (await mergedSession.run(feeds)).out_sample.data as Float32Array;
    assert.ok(a.some((v, i) => Math.abs(v - b[i]) > 1e-6));
    await baseSession.release();
    await mergedSession.release();
  });

  it('a graph with its weights inside model.onnx (the text encoder): the session reads them from that file, and the model bytes are the graph alone', async () => {
    const file = path.join(root, 'te_lora.safetensors');
    writeSafetensors(file, tinyKohyaLora());
    const modules = await readLoraModules(file);
    const te = path.join(root, 'text_encoder/model.onnx');
    const original = fs.readFileSync(te);
    assert.ok(readOnnxModel(te).graph.initializers.every((i) => i.location?.kind !== 'external'), 'the tiny text encoder keeps its weights inline');
    const merged = await mergeIntoGraph(te, 'text_encoder', [{ name: 'x', modules, te: 0.9, unet: 1 }], { kernel });
    assert.strictEqual(merged.reports[0].matched, 1);
    const feeds = { input_ids: new ort.Tensor('int32', Int32Array.from({ length: 77 }, (_, i) => (i * 131) % 1000), [1, 77]) };
    const outputOf = async (bytes: Uint8Array | string, folder?: string) => {
      const session = await ort.InferenceSession.create(bytes as Uint8Array, folder ? { extra: { session: { model_external_initializers_file_folder_path: folder } } } : {});
      const out = Object.values(await session.run(feeds))[0].data as Float32Array;
      await session.release();
      return Array.from(out);
    };
    const onDisk = await sessionModel(merged);
    const inline = await sessionModel(merged, { placement: 'inline' });
    try {
      // The patched weight in the temporary file, every other weight ≥ 4 KiB read from model.onnx itself.
      const inlineNames = (initializers: { name: string; location?: { kind: string; length: number } }[], below = Infinity) =>
        initializers.filter((i) => i.location?.kind === 'inline' && i.location.length < below).map((i) => i.name);
      assert.deepStrictEqual(inlineNames(parseOnnxModel(onDisk.bytes, te).graph.initializers), inlineNames(readOnnxModel(te).graph.initializers, 4096));
      const fromFiles = await outputOf(onDisk.bytes, onDisk.folder);
      assert.deepStrictEqual(fromFiles, await outputOf(inline.bytes, inline.folder));
      assert.notDeepStrictEqual(fromFiles, await outputOf(te));
    } finally {
      onDisk.dispose();
      inline.dispose();
    }
    assert.ok(fs.readFileSync(te).equals(original));
  });

  it('with MergeFiles a graph merged again overwrites the file its last merge kept (cut to the new length), and its session reads the new weights', async () => {
    const graphs = new GraphCache();
    const file = path.join(root, 'kept.safetensors');
    const ff2 = 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_ff_net_2';
    writeSafetensors(file, {
      ...tinyKohyaLora(),
      [`${ff2}.lora_down.weight`]: { dims: [2, 64], data: random(128, 21) },
      [`${ff2}.lora_up.weight`]: { dims: [16, 2], data: random(32, 22) },
    });
    const all = (await readLoraModules(file)).filter((m) => m.component === 'unet');
    assert.strictEqual(all.length, 2);
    const unet = path.join(root, 'unet/model.onnx');
    const merge = (modules: typeof all, weight: number) => mergeIntoGraph(unet, 'unet', [{ name: 'k', modules, te: 1, unet: weight }], { kernel, graphs });
    const feeds = {
      sample: new ort.Tensor('float32', random(4 * 8 * 8, 7), [1, 4, 8, 8]),
      timestep: new ort.Tensor('float32', Float32Array.of(500), [1]),
      encoder_hidden_states: new ort.Tensor('float32', random(77 * 32, 8), [1, 77, 32]),
    };
    const outputOf = async (m: SessionModel) => {
      const session = await ort.InferenceSession.create(m.bytes, { extra: { session: { model_external_initializers_file_folder_path: m.folder } } });
      const out = Array.from((await session.run(feeds)).out_sample.data as Float32Array);
      await session.release();
      return out;
    };
    const files = new MergeFiles();
    const first = await sessionModel(await merge(all, 1), { files });
    const kept = files.fileOf(unet)!;
    const [inode, firstSize] = [fs.statSync(kept).ino, fs.statSync(kept).size];
    const firstOut = await outputOf(first);
    assert.ok(first.dispose() && fs.existsSync(kept), 'dispose leaves the kept file');
    // Only to_k, at another weight: the same file, overwritten and cut, equal to a merge into a new file.
    const second = await sessionModel(await merge(all.slice(0, 1), 0.4), { files });
    const fresh = await sessionModel(await merge(all.slice(0, 1), 0.4));
    assert.deepStrictEqual([files.fileOf(unet), fs.statSync(kept).ino], [kept, inode]);
    assert.ok(fs.statSync(kept).size < firstSize, `${fs.statSync(kept).size} bytes after ${firstSize}`);
    const secondOut = await outputOf(second);
    assert.deepStrictEqual(secondOut, await outputOf(fresh));
    assert.notDeepStrictEqual(secondOut, firstOut);
    assert.ok(fresh.dispose());
    // A kept file that went away (another renderer's sweep of stale merges): the next merge writes a new one.
    fs.rmSync(path.dirname(kept), { recursive: true, force: true });
    const third = await sessionModel(await merge(all.slice(0, 1), 0.4), { files });
    const rewritten = files.fileOf(unet)!;
    assert.notStrictEqual(rewritten, kept);
    assert.deepStrictEqual(await outputOf(third), secondOut);
    // Another weight for the same module: the same weights at the same places, so the same model bytes.
    const fourth = await sessionModel(await merge(all.slice(0, 1), 0.7), { files });
    assert.strictEqual(fourth.bytes, third.bytes);
    const freshFourth = await sessionModel(await merge(all.slice(0, 1), 0.7));
    assert.deepStrictEqual(await outputOf(fourth), await outputOf(freshFourth));
    assert.ok(freshFourth.dispose());
    assert.ok(files.clear());
    assert.ok(!fs.existsSync(path.dirname(rewritten)));
  });

  it('loadSessions without a merger merges with a merger of its own, whose products run when the merged graphs are written', async () => {
    const file = path.join(root, 'own_kernel.safetensors');
    writeSafetensors(file, tinyKohyaLora());
    const folder = openModelFolder(root);
    const prepared = await prepareLoras([{ name: 'own', path: file, te: 1, unet: 1 }]);
    const unetOut = async (sessions: Awaited<ReturnType<typeof loadSessions>>) => {
      const feeds = {
        sample: new ort.Tensor('float32', random(4 * 8 * 8, 7), [1, 4, 8, 8]),
        timestep: new ort.Tensor('float32', Float32Array.of(500), [1]),
        encoder_hidden_states: new ort.Tensor('float32', random(77 * 32, 8), [1, 77, 32]),
      };
      const out = Array.from((await sessions.unet.session.run(feeds)).out_sample.data as Float32Array);
      await sessions.release();
      return out;
    };
    const merged = await loadSessions(folder, 'cpu', ort, prepared);
    assert.deepStrictEqual(
      merged.loras.map((l) => [l.name, l.matched, l.unmatched.length]),
      [['own', 2, 0]],
    );
    assert.notDeepStrictEqual(await unetOut(merged), await unetOut(await loadSessions(folder, 'cpu', ort)));
  });

  it('sd-prompt merge writes a complete folder that renders like the LoRA applied at render time', async () => {
    const loraFile = path.join(root, 'style.safetensors');
    writeSafetensors(loraFile, tinyKohyaLora());
    const out = path.join(os.tmpdir(), `sd-merged-${process.pid}`);
    fs.rmSync(out, { recursive: true, force: true });
    let stdout = '';
    let stderr = '';
    const io = { stdout: (t: string) => (stdout += t), stderr: (t: string) => (stderr += t), readFile: () => '', readStdin: () => '' };
    try {
      assert.strictEqual(await main(['merge', '--model', root, '--lora', `${loraFile}:0.8:0.5`, '--out', out, '--json'], io), 0, stderr);
      assert.deepStrictEqual(JSON.parse(stdout), {
        out,
        loras: [{ name: 'style', file: loraFile, te: 0.8, unet: 0.5, matched: 2, unmatched: [], mismatched: [] }],
      });
      const files = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)).map((f) => `${e.name}/${f}`) : [e.name])).sort();
      // The same files, plus the patched weights of each merged graph beside it and the mark that lets --force replace it.
      assert.deepStrictEqual(files(out), [...files(root), 'sd-prompt-merge.json', 'text_encoder/model.onnx.lora.bin', 'unet/model.onnx.lora.bin'].sort());
      // The source folder is never written, and an existing output needs --force.
      stderr = '';
      assert.strictEqual(await main(['merge', '--model', root, '--lora', loraFile, '--out', path.join(root, 'inside')], io), 1);
      assert.match(stderr, /is inside the model folder/);
      stderr = '';
      assert.strictEqual(await main(['merge', '--model', root, '--lora', loraFile, '--out', out], io), 1);
      assert.match(stderr, /already exists: pass --force to replace it/);
      assert.strictEqual(await main(['merge', '--model', root, '--out', out], io), 2);

      // Rendering the merged folder without LoRA = rendering the source with the LoRA tag.
      const host = new RenderHost(path.resolve(__dirname, '../../../server/src/render/worker.js'));
      try {
        const text = 'a cat\nSteps: 3, Sampler: Euler, CFG scale: 6, Seed: 5, Size: 64x64';
        const baked = await host.render({ promptText: text, model: out, device: 'cpu' });
        const live = await host.render({ promptText: text, model: root, device: 'cpu', loras: [{ name: 'style', path: loraFile, te: 0.8, unet: 0.5 }] });
        // Same pixels (the infotext differs only in the model's folder name).
        const idat = (png: ArrayBuffer) => {
          const b = Buffer.from(png);
          const at = b.indexOf('IDAT');
          return b.subarray(at, at + 4 + b.readUInt32BE(at - 4));
        };
        assert.ok(idat(baked.png).equals(idat(live.png)));
        assert.strictEqual(baked.infotext.replace(/Model: [^,]+/, ''), live.infotext.replace(/Model: [^,]+/, ''));
        assert.deepStrictEqual(live.loras.map((l) => [l.name, l.matched]), [['style', 2]]);
      } finally {
        await host.dispose();
      }
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('sd-prompt merge leaves a component whose multiplier is 0 as it was', async () => {
    const loraFile = path.join(root, 'te_off.safetensors');
    writeSafetensors(loraFile, tinyKohyaLora());
    const out = path.join(os.tmpdir(), `sd-merged-te-off-${process.pid}`);
    fs.rmSync(out, { recursive: true, force: true });
    let stderr = '';
    const io = { stdout: () => undefined, stderr: (t: string) => (stderr += t), readFile: () => '', readStdin: () => '' };
    try {
      assert.strictEqual(await main(['merge', '--model', root, '--lora', `${loraFile}:0:0.5`, '--out', out], io), 0, stderr);
      assert.ok(fs.readFileSync(path.join(out, 'text_encoder/model.onnx')).equals(fs.readFileSync(path.join(root, 'text_encoder/model.onnx'))));
      assert.strictEqual(fs.existsSync(path.join(out, 'text_encoder/model.onnx.lora.bin')), false);
      assert.strictEqual(fs.existsSync(path.join(out, 'unet/model.onnx.lora.bin')), true);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('the worker re-merges when only a weight changes, keeps the sessions of the graphs it does not touch, and going back gives the first image again', async () => {
    // The worker keeps merge state between renders (cached deltas, the last model bytes written over):
    // none of it may leak into a render with other weights.
    const loraFile = path.join(root, 'weights.safetensors');
    // Strong enough that a UNet weight change shows in the 8-bit image: tinyKohyaLora's ±0.1 factors move
    // the UNet's output by ~1e-5, which may round to the same pixels.
    const strong = Object.fromEntries(Object.entries(tinyKohyaLora()).map(([key, t]) => [key, { dims: t.dims, data: t.data.map((x) => x * 20) }]));
    writeSafetensors(loraFile, strong);
    const host = new RenderHost(path.resolve(__dirname, '../../../server/src/render/worker.js'));
    try {
      const text = 'a cat\nSteps: 2, Sampler: Euler, CFG scale: 6, Seed: 9, Size: 64x64';
      const at = async (unet: number, te = 1) => {
        const r = await host.render({ promptText: text, model: root, device: 'cpu', loras: [{ name: 'w', path: loraFile, te, unet }] });
        return { png: Buffer.from(r.png), reused: r.reused };
      };
      const half = await at(0.5);
      assert.deepStrictEqual(half.reused, []);
      // A UNet weight: only the UNet's session is made anew; the text encoder's and the VAE's are kept.
      const full = await at(1.5);
      assert.deepStrictEqual(full.reused, ['text_encoder/model.onnx', 'vae_decoder/model.onnx']);
      const again = await at(0.5);
      assert.ok(!half.png.equals(full.png));
      assert.ok(half.png.equals(again.png));
      // A text encoder weight: the UNet and the VAE are kept, and the image changes.
      const te = await at(0.5, 0.2);
      assert.deepStrictEqual(te.reused, ['unet/model.onnx', 'vae_decoder/model.onnx']);
      assert.ok(!te.png.equals(half.png));
      // Back to the first weights through a fresh worker: the same image as with the kept sessions.
      await host.release();
      const fresh = await at(0.5, 0.2);
      assert.deepStrictEqual(fresh.reused, []);
      assert.ok(fresh.png.equals(te.png));
    } finally {
      await host.dispose();
    }
  });

  it('PEFT keys (no alpha) and LoKr merge too; a key style A1111 ignores still lands', async () => {
    const unet = path.join(root, 'unet/model.onnx');
    const model = readOnnxModel(unet);
    const init = model.graph.initializers.find((i) => i.name === 'onnx::MatMul_1021')!;
    const loc = init.location as { offset: number; length: number };
    const original = fs.readFileSync(path.join(root, 'unet/model.onnx_data'));
    const base = new Float32Array(original.buffer.slice(original.byteOffset + loc.offset, original.byteOffset + loc.offset + loc.length));
    const merge = async (tensors: Record<string, { dims: number[]; data: Float32Array }>, expected: (o: number, i: number) => number) => {
      const file = path.join(root, 'peft_or_lokr.safetensors');
      writeSafetensors(file, tensors);
      const modules = await readLoraModules(file);
      const merged = await mergeIntoGraph(unet, 'unet', [{ name: 'x', modules, te: 1, unet: 0.5 }], { kernel });
      assert.deepStrictEqual(merged.reports, [{ name: 'x', matched: 1, unmatched: [], mismatched: [] }]);
      const got = asFloats((await computeAll(merged)).get('onnx::MatMul_1021')!);
      assert.strictEqual(got.length * 4, loc.length);
      let worst = 0;
      for (let i = 0; i < 32; i++) for (let o = 0; o < 16; o++) worst = Math.max(worst, Math.abs(got[i * 16 + o] - base[i * 16 + o] - 0.5 * expected(o, i)));
      assert.ok(worst < 1e-6, `largest error ${worst}`);
    };
    // PEFT: B [16, 2] @ A [2, 32], scale 1 (no alpha).
    const A = random(64, 21);
    const B = random(32, 22);
    await merge(
      {
        'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.weight': { dims: [2, 32], data: A },
        'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.lora_B.weight': { dims: [16, 2], data: B },
      },
      (o, i) => B[o * 2] * A[i] + B[o * 2 + 1] * A[32 + i],
    );
    // LoKr: kron(w1 [4, 4], w2 [4, 8]) = [16, 32], scale 1 without alpha.
    const w1 = random(16, 23);
    const w2 = random(32, 24);
    await merge(
      {
        'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lokr_w1': { dims: [4, 4], data: w1 },
        'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lokr_w2': { dims: [4, 8], data: w2 },
      },
      (o, i) => w1[Math.floor(o / 4) * 4 + Math.floor(i / 8)] * w2[(o % 4) * 8 + (i % 8)],
    );
  });
});
