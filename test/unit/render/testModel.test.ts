import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import {
  GeneratedPipeline,
  PipelineConfig,
  SD15_SIZED,
  TINY_SD15,
  TINY_SDXL,
  buildPipelineGraphs,
  generateTinyPipeline,
} from '../../../server/src/render/testModel/generateModel';
import { randomNormal } from '../../../server/src/render/testModel/net';
import { ModelBuilder, PbMessage, attrFloat } from '../../../server/src/render/onnx/onnxWriter';
import { floatToHalf, halfToFloat, toFloat16 } from '../../../server/src/render/onnx/half';
import { FIXTURES } from '../fixtures';

const CLIP_FIXTURE = path.join(FIXTURES, 'clip');

type Meta = { name: string; type: ort.Tensor.Type; shape: ReadonlyArray<number | string> };

/** Tensor metadata from the session: the renderer must read dtypes, never assume them. */
function inputMeta(session: ort.InferenceSession): Meta[] {
  return session.inputMetadata.map((m) => {
    assert.ok(m.isTensor, `${m.name} is a tensor`);
    return { name: m.name, type: m.type, shape: m.shape };
  });
}

function values(t: ort.Tensor): number[] {
  if (t.type === 'float16') return Array.from(t.data as Uint16Array, halfToFloat);
  return Array.from(t.data as Float32Array);
}

function assertFinite(name: string, t: ort.Tensor): void {
  const v = values(t);
  assert.ok(v.every(Number.isFinite), `${name} is finite`);
  assert.ok(v.some((x) => x !== 0), `${name} is not all zeros`);
}

function floatTensor(type: ort.Tensor.Type, dims: number[], f: (i: number) => number): ort.Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = Float32Array.from({ length: n }, (_, i) => f(i));
  return type === 'float16' ? new ort.Tensor('float16', toFloat16(data), dims) : new ort.Tensor('float32', data, dims);
}

/** CLIP-like ids: BOS, a few tokens, EOS, then EOS padding (SD1's tokenizer pads with EOS). */
function idsTensor(type: ort.Tensor.Type, batch: number): ort.Tensor {
  const ids: number[] = [];
  for (let b = 0; b < batch; b++) for (let i = 0; i < 77; i++) ids.push(i === 0 ? 49406 : i < 4 + b ? 320 + i * 7 : 49407);
  if (type === 'int64') return new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [batch, 77]);
  assert.strictEqual(type, 'int32');
  return new ort.Tensor('int32', Int32Array.from(ids), [batch, 77]);
}

function timestepTensor(meta: Meta, t: number): ort.Tensor {
  if (meta.type === 'int64') return new ort.Tensor('int64', BigInt64Array.from([BigInt(t)]), [1]);
  return floatTensor(meta.type, [1], () => t);
}

/** Run text encoder → UNet → VAE decoder once at 64×64 with shapes and dtypes read from the sessions. */
async function runPipeline(p: GeneratedPipeline, batch = 2): Promise<Record<string, ort.Tensor>> {
  const open = (key: string): Promise<ort.InferenceSession> => ort.InferenceSession.create(path.join(p.folder, p.models[key].file));
  const te = await open('text_encoder');
  const [ids] = inputMeta(te);
  assert.strictEqual(ids.name, 'input_ids');
  const teOut = await te.run({ input_ids: idsTensor(ids.type, batch) });
  const hidden = teOut.last_hidden_state;
  assert.deepStrictEqual(hidden.dims.slice(0, 2), [batch, 77]);
  assertFinite('last_hidden_state', hidden);

  const unet = await open('unet');
  const metas = inputMeta(unet);
  const feeds: Record<string, ort.Tensor> = {};
  for (const m of metas) {
    if (m.name === 'sample') feeds.sample = floatTensor(m.type, [batch, 4, 8, 8], (i) => Math.sin(i * 0.37));
    else if (m.name === 'timestep') feeds.timestep = timestepTensor(m, 981);
    else if (m.name === 'encoder_hidden_states') feeds.encoder_hidden_states = hidden;
    else throw new Error(`unexpected UNet input ${m.name}`);
  }
  const unetOut = await unet.run(feeds);
  assert.deepStrictEqual(unetOut.out_sample.dims, [batch, 4, 8, 8]);
  assertFinite('out_sample', unetOut.out_sample);

  const vae = await open('vae_decoder');
  assert.deepStrictEqual(vae.inputNames, ['latent_sample']);
  assert.deepStrictEqual(vae.outputNames, ['sample']);
  const image = (await vae.run({ latent_sample: unetOut.out_sample })).sample;
  assert.deepStrictEqual(image.dims, [batch, 3, 64, 64]);
  assertFinite('image', image);
  await Promise.all([te.release(), unet.release(), vae.release()]);
  return { hidden, noise: unetOut.out_sample, image };
}

function hashFolder(folder: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else files.set(path.relative(folder, p), fs.readFileSync(p));
    }
  };
  walk(folder);
  return files;
}

describe('test model generator', function () {
  // Session creation dominates; a cold ORT load can take a second on a busy machine.
  this.timeout(20000);
  let tmp: string;
  let tiny: GeneratedPipeline;

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-testmodel-'));
    tiny = generateTinyPipeline(path.join(tmp, 'tiny'), { ...TINY_SD15, tokenizerFrom: CLIP_FIXTURE });
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  describe('protobuf encoding', () => {
    it('encodes varints, negative int64s and nested lengths as protobuf does', () => {
      const inner = new PbMessage().varint(1, 300);
      const m = new PbMessage().varint(1, -1).string(2, 'hi').message(3, inner);
      assert.deepStrictEqual(
        [...m.toBytes()],
        [0x08, ...Array(9).fill(0xff), 0x01, 0x12, 2, 0x68, 0x69, 0x1a, 3, 0x08, 0xac, 0x02],
      );
    });

    it('rounds float16 to nearest even like numpy', () => {
      assert.strictEqual(floatToHalf(1), 0x3c00);
      assert.strictEqual(floatToHalf(-2), 0xc000);
      assert.strictEqual(floatToHalf(65504), 0x7bff);
      assert.strictEqual(floatToHalf(1e6), 0x7c00);
      assert.strictEqual(floatToHalf(2 ** -24), 0x0001);
      assert.strictEqual(floatToHalf(1 + 2 ** -11), 0x3c00); // tie → even
      assert.strictEqual(floatToHalf(1 + 3 * 2 ** -11), 0x3c02);
      assert.strictEqual(halfToFloat(floatToHalf(0.1)), 0.0999755859375);
    });
  });

  describe('writer against ORT', () => {
    it('a transposed onnx::MatMul initializer computes x·W as a JS matmul does', async () => {
      const [M, K, N] = [3, 5, 4];
      const w = randomNormal(7, 'w', K * N, 1); // [in, out], torch.onnx's layout
      const bias = randomNormal(7, 'b', N, 1);
      const model = new ModelBuilder();
      const g = model.graph;
      g.input('x', 'float32', ['batch', M, K]);
      g.initializer('onnx::MatMul_42', w, [K, N]);
      g.initializer('proj.bias', bias, [N]);
      g.node('MatMul', ['x', 'onnx::MatMul_42'], ['/proj/MatMul_output_0'], {}, '/proj/MatMul');
      g.node('Add', ['proj.bias', '/proj/MatMul_output_0'], ['y'], {}, '/proj/Add');
      g.output('y', 'float32', ['batch', M, N]);
      const x = randomNormal(7, 'x', 2 * M * K, 1);
      // Threshold 0 sends both initializers to the external blob, loaded from memory.
      const { model: bytes, externalData, externalTensors } = model.serialize({ externalDataFile: 'model.onnx_data', externalDataThreshold: 0 });
      assert.deepStrictEqual(externalTensors, [
        { name: 'onnx::MatMul_42', offset: 0, length: K * N * 4 },
        { name: 'proj.bias', offset: K * N * 4, length: N * 4 },
      ]);
      const session = await ort.InferenceSession.create(bytes, { externalData: [{ path: 'model.onnx_data', data: externalData as Uint8Array }] });
      const y = (await session.run({ x: new ort.Tensor('float32', x, [2, M, K]) })).y;
      assert.deepStrictEqual(y.dims, [2, M, N]);
      const got = y.data as Float32Array;
      for (let r = 0; r < 2 * M; r++) {
        for (let c = 0; c < N; c++) {
          let s = bias[c];
          for (let k = 0; k < K; k++) s += x[r * K + k] * w[k * N + c];
          assert.ok(Math.abs(got[r * N + c] - s) < 1e-5, `y[${r},${c}] ${got[r * N + c]} vs ${s}`);
        }
      }
      await session.release();
    });

    it('float and int attributes are typed (Gemm alpha/transB) and inline data loads', async () => {
      const model = new ModelBuilder();
      const g = model.graph;
      g.input('x', 'float32', [1, 2]);
      g.initializer('w', Float32Array.from([1, 2, 3, 4, 5, 6]), [3, 2]); // [out, in]
      g.initializer('b', Float32Array.from([0, 0, 1]), [3]);
      g.node('Gemm', ['x', 'w', 'b'], ['y'], { alpha: attrFloat(0.5), beta: attrFloat(1), transB: 1 }, '/lin/Gemm');
      g.output('y', 'float32', [1, 3]);
      const session = await ort.InferenceSession.create(model.serialize().model);
      const y = (await session.run({ x: new ort.Tensor('float32', Float32Array.from([1, 1]), [1, 2]) })).y;
      assert.deepStrictEqual([...(y.data as Float32Array)], [1.5, 3.5, 6.5]);
      await session.release();
    });
  });

  describe('TINY_SD15 pipeline', () => {
    it('writes the diffusers ONNX folder layout', () => {
      for (const f of [
        'model_index.json',
        'scheduler/scheduler_config.json',
        'tokenizer/vocab.json',
        'tokenizer/merges.txt',
        'text_encoder/model.onnx',
        'unet/model.onnx',
        'unet/model.onnx_data',
        'vae_decoder/model.onnx',
      ]) {
        assert.ok(fs.existsSync(path.join(tiny.folder, f)), f);
      }
      const index = JSON.parse(fs.readFileSync(path.join(tiny.folder, 'model_index.json'), 'utf8'));
      assert.strictEqual(index._class_name, 'StableDiffusionPipeline');
      const sched = JSON.parse(fs.readFileSync(path.join(tiny.folder, 'scheduler/scheduler_config.json'), 'utf8'));
      assert.deepStrictEqual(
        [sched._class_name, sched.beta_start, sched.beta_end, sched.beta_schedule, sched.num_train_timesteps, sched.steps_offset, sched.prediction_type],
        ['PNDMScheduler', 0.00085, 0.012, 'scaled_linear', 1000, 1, 'epsilon'],
      );
      assert.deepStrictEqual(fs.readFileSync(path.join(tiny.folder, 'tokenizer/merges.txt')), fs.readFileSync(path.join(CLIP_FIXTURE, 'merges.txt')));
      // Small enough to generate per test run: the UNet is well under a MB; the text encoder is
      // mostly CLIP's 49408-token embedding.
      assert.ok(tiny.models.unet.bytes + (tiny.models.unet.externalBytes ?? 0) < 1_000_000);
      assert.ok(tiny.models.text_encoder.bytes < 7_000_000);
    });

    it('names attention weights as torch.onnx does', () => {
      const byModule = new Map(tiny.models.unet.linears.map((l) => [l.module, l]));
      const toK = byModule.get('down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k');
      assert.ok(toK);
      assert.match(toK.initializer, /^onnx::MatMul_\d+$/);
      assert.strictEqual(toK.node, '/down_blocks.0/attentions.0/transformer_blocks.0/attn2/to_k/MatMul');
      assert.deepStrictEqual(toK.dims, [TINY_SD15.hiddenSize, TINY_SD15.channels]); // [in = context width, out = channels]
      assert.strictEqual(byModule.get('down_blocks.0.attentions.0.proj_in')?.op, 'Conv');
      assert.strictEqual(byModule.get('down_blocks.0.resnets.0.time_emb_proj')?.op, 'Gemm');
      assert.strictEqual(byModule.get('down_blocks.0.resnets.0.time_emb_proj')?.initializer, 'down_blocks.0.resnets.0.time_emb_proj.weight');
      const q = tiny.models.text_encoder.linears.find((l) => l.module === 'text_model.encoder.layers.0.self_attn.q_proj');
      assert.strictEqual(q?.node, '/text_model/encoder/layers.0/self_attn/q_proj/MatMul');
      // The external data entries point into model.onnx_data as onnx's save_external_data writes them.
      const onnx = fs.readFileSync(path.join(tiny.folder, 'unet/model.onnx'));
      for (const s of ['location', 'model.onnx_data', 'offset', 'length', toK.initializer, toK.node]) assert.ok(onnx.includes(s), s);
    });

    it('loads and runs on the CPU EP with the I/O names and dtypes diffusers uses', async () => {
      const unet = await ort.InferenceSession.create(path.join(tiny.folder, 'unet/model.onnx'));
      assert.deepStrictEqual(
        inputMeta(unet).map((m) => [m.name, m.type, m.shape]),
        [
          ['sample', 'float32', ['batch_size', 4, 'height', 'width']],
          ['timestep', 'float32', ['steps']],
          ['encoder_hidden_states', 'float32', ['batch_size', 'sequence_length', TINY_SD15.hiddenSize]],
        ],
      );
      assert.deepStrictEqual(unet.outputNames, ['out_sample']);
      await unet.release();
      // How long this takes is bench/testModel.bench.ts's business, not a pass/fail condition.
      const out = await runPipeline(tiny);
      // Batch rows have different prompts, so the conditioning reaches the UNet output.
      const n = values(out.noise);
      const half = n.length / 2;
      assert.ok(n.slice(0, half).some((v, i) => v !== n[half + i]));
    });

    it('the same config and seed give byte-identical files; another seed does not', () => {
      const again = generateTinyPipeline(path.join(tmp, 'again'), { ...TINY_SD15, tokenizerFrom: CLIP_FIXTURE });
      const a = hashFolder(tiny.folder);
      const b = hashFolder(again.folder);
      assert.deepStrictEqual([...a.keys()].sort(), [...b.keys()].sort());
      for (const [file, bytes] of a) assert.ok(bytes.equals(b.get(file) as Buffer), file);
      const other = generateTinyPipeline(path.join(tmp, 'other'), { ...TINY_SD15, seed: 2 });
      assert.ok(!fs.readFileSync(path.join(other.folder, 'unet/model.onnx_data')).equals(a.get(path.join('unet', 'model.onnx_data')) as Buffer));
    });
  });

  describe('variants', () => {
    it('fp16 weights and I/O with int64 input_ids and timestep load and run', async () => {
      const config: PipelineConfig = { ...TINY_SD15, dtype: 'fp16', inputIdsType: 'int64', timestepType: 'int64' };
      const p = generateTinyPipeline(path.join(tmp, 'fp16'), config);
      const te = await ort.InferenceSession.create(path.join(p.folder, 'text_encoder/model.onnx'));
      assert.deepStrictEqual(inputMeta(te)[0].type, 'int64');
      await te.release();
      const unet = await ort.InferenceSession.create(path.join(p.folder, 'unet/model.onnx'));
      assert.deepStrictEqual(inputMeta(unet).map((m) => m.type), ['float16', 'int64', 'float16']);
      await unet.release();
      const out = await runPipeline(p);
      assert.strictEqual(out.image.type, 'float16');
      // Same seed, so fp16 tracks the fp32 pipeline closely.
      const ref = await runPipeline(tiny);
      const a = values(out.image);
      const b = values(ref.image);
      const maxDiff = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
      assert.ok(maxDiff < 0.05, `fp16 vs fp32 image max diff ${maxDiff}`);
    });

    it('inline weights when external data is off', () => {
      const p = generateTinyPipeline(path.join(tmp, 'inline'), { ...TINY_SD15, externalData: false });
      assert.ok(!fs.existsSync(path.join(p.folder, 'unet/model.onnx_data')));
      assert.strictEqual(p.models.unet.externalBytes, undefined);
    });

    it('SDXL-shaped: two text encoders, text_embeds and time_ids', async () => {
      const p = generateTinyPipeline(path.join(tmp, 'sdxl'), TINY_SDXL);
      assert.strictEqual(JSON.parse(fs.readFileSync(path.join(p.folder, 'model_index.json'), 'utf8'))._class_name, 'StableDiffusionXLPipeline');
      const te1 = await ort.InferenceSession.create(path.join(p.folder, 'text_encoder/model.onnx'));
      const te2 = await ort.InferenceSession.create(path.join(p.folder, 'text_encoder_2/model.onnx'));
      assert.ok(te2.outputNames.includes('text_embeds'));
      const o1 = await te1.run({ input_ids: idsTensor('int32', 1) });
      const o2 = await te2.run({ input_ids: idsTensor('int32', 1) });
      // SDXL conditions on both encoders' penultimate hidden states, concatenated.
      const penultimate = `hidden_states.${TINY_SDXL.layers - 1}`;
      const d1 = o1[penultimate].dims[2];
      const d2 = o2[penultimate].dims[2];
      const a = o1[penultimate].data as Float32Array;
      const b = o2[penultimate].data as Float32Array;
      const ctx = new Float32Array(77 * (d1 + d2));
      for (let t = 0; t < 77; t++) {
        ctx.set(a.subarray(t * d1, (t + 1) * d1), t * (d1 + d2));
        ctx.set(b.subarray(t * d2, (t + 1) * d2), t * (d1 + d2) + d1);
      }
      const unet = await ort.InferenceSession.create(path.join(p.folder, 'unet/model.onnx'));
      assert.deepStrictEqual(unet.inputNames, ['sample', 'timestep', 'encoder_hidden_states', 'text_embeds', 'time_ids']);
      const out = await unet.run({
        sample: floatTensor('float32', [1, 4, 8, 8], (i) => Math.cos(i)),
        timestep: new ort.Tensor('float32', Float32Array.from([500]), [1]),
        encoder_hidden_states: new ort.Tensor('float32', ctx, [1, 77, d1 + d2]),
        text_embeds: o2.text_embeds,
        time_ids: new ort.Tensor('float32', Float32Array.from([64, 64, 0, 0, 64, 64]), [1, 6]),
      });
      assert.deepStrictEqual(out.out_sample.dims, [1, 4, 8, 8]);
      assertFinite('sdxl out_sample', out.out_sample);
      await Promise.all([te1.release(), te2.release(), unet.release()]);
    });

    it('SD15_SIZED has SD1.5 shapes for all 192 attention/FF/proj modules (built, not written)', () => {
      const { graphs } = buildPipelineGraphs(SD15_SIZED);
      const re = /attentions\.\d+\.(proj_in|proj_out|transformer_blocks\.0\.(attn[12]\.(to_q|to_k|to_v|to_out\.0)|ff\.net\.(0\.proj|2)))$/;
      const mods = graphs.unet.linears.filter((l) => re.test(l.module));
      assert.strictEqual(mods.length, 192);
      const get = (m: string): number[] | undefined => graphs.unet.linears.find((l) => l.module === m)?.dims;
      assert.deepStrictEqual(get('down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k'), [768, 320]);
      assert.deepStrictEqual(get('up_blocks.3.attentions.2.transformer_blocks.0.ff.net.0.proj'), [320, 2560]);
      assert.deepStrictEqual(get('mid_block.attentions.0.transformer_blocks.0.attn1.to_out.0'), [1280, 1280]);
      assert.deepStrictEqual(get('down_blocks.2.attentions.1.proj_in'), [1280, 1280, 1, 1]);
      assert.deepStrictEqual(get('up_blocks.1.resnets.2.conv1'), [1280, 1920, 3, 3]);
      assert.strictEqual(graphs.text_encoder.linears.length, 12 * 6);
    });
  });
});
