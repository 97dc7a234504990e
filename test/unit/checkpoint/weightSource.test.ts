import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointError } from '../../../server/src/render/checkpoint/checkpointError';
import { loadCheckpoint, LoadedCheckpoint } from '../../../server/src/render/checkpoint/loadCheckpoint';
import { halfToFloat } from '../../../server/src/render/onnx/half';
import { PipelineComponent, WeightRef } from '../../../server/src/render/sdGraphs/architecture';
import {
  CheckpointDtype,
  CheckpointSpec,
  generatedValues,
  TINY_SD1_ARCHITECTURE,
  TINY_SDXL_ARCHITECTURE,
  writeCheckpoint,
} from '../../../server/src/render/testModel/generateCheckpoint';
import { rewriteHeader } from './rewriteHeader';
import { useTempFolder } from './tempFolder';

/**
 * The WeightSource over a checkpoint: each diffusers name gives the bytes the generator wrote under its LDM key,
 * in fp32, fp16 and bf16, including OpenCLIP's fused q/k/v rows and its transposed text_projection.
 */
describe('checkpoint weight source', () => {
  const root = useTempFolder('sd-ckpt-weights-');

  const parsed = new Map<string, { data: Buffer; headerLength: number; header: Record<string, { dtype: string; shape: number[]; data_offsets: number[] }> }>();

  /** The file's header parsed here, independently of the reader. */
  function rawTensor(file: string, key: string): { dtype: string; shape: number[]; bytes: Buffer } {
    let whole = parsed.get(file);
    if (!whole) {
      const data = fs.readFileSync(file);
      const headerLength = Number(data.readBigUInt64LE(0));
      whole = { data, headerLength, header: JSON.parse(data.subarray(8, 8 + headerLength).toString('utf8')) };
      parsed.set(file, whole);
    }
    const { data, headerLength, header } = whole;
    const entry = header[key];
    assert.ok(entry, `the file has "${key}"`);
    const start = 8 + headerLength;
    return { dtype: entry.dtype, shape: entry.shape, bytes: data.subarray(start + entry.data_offsets[0], start + entry.data_offsets[1]) };
  }

  function bytesOf(ref: WeightRef): Buffer {
    if ('bytes' in ref.data) return Buffer.from(ref.data.bytes);
    const { file, offset, length } = ref.data;
    const fd = fs.openSync(file, 'r');
    try {
      const out = Buffer.alloc(length);
      assert.strictEqual(fs.readSync(fd, out, 0, length, offset), length);
      return out;
    } finally {
      fs.closeSync(fd);
    }
  }

  function decode(bytes: Buffer, dtype: string): number[] {
    const out: number[] = [];
    const width = dtype === 'F32' || dtype === 'float32' ? 4 : 2;
    for (let i = 0; i < bytes.length; i += width) {
      if (width === 4) out.push(bytes.readFloatLE(i));
      else if (dtype === 'F16' || dtype === 'float16') out.push(halfToFloat(bytes.readUInt16LE(i)));
      else out.push(new Float32Array(new Uint32Array([bytes.readUInt16LE(i) << 16]).buffer)[0]);
    }
    return out;
  }

  /** Largest allowed |stored − written| for a value: exact in fp32, half an ulp of the format otherwise. */
  function tolerance(dtype: CheckpointDtype, value: number): number {
    if (dtype === 'F32') return 0;
    const mantissaBits = dtype === 'F16' ? 10 : 7;
    return Math.max(Math.abs(value) * 2 ** -(mantissaBits + 1), dtype === 'F16' ? 2 ** -25 : 0);
  }

  const checkpoints = new Map<string, { file: string; spec: CheckpointSpec; loaded: LoadedCheckpoint }>();

  async function sdxl(dtype: CheckpointDtype) {
    const cached = checkpoints.get(dtype);
    if (cached) return cached;
    const spec: CheckpointSpec = { architecture: TINY_SDXL_ARCHITECTURE, dtype, seed: 11, extras: true };
    const file = path.join(root(), `sdxl-${dtype}.safetensors`);
    writeCheckpoint(file, spec);
    const entry = { file, spec, loaded: await loadCheckpoint(file) };
    checkpoints.set(dtype, entry);
    return entry;
  }

  for (const dtype of ['F32', 'F16', 'BF16'] as const) {
    describe(dtype, () => {
      it('every weight of every component is its LDM tensor\'s bytes (a file range, not a copy), values as the generator wrote them', async () => {
        const { file, spec, loaded } = await sdxl(dtype);
        let ranges = 0;
        for (const entry of loaded.weights.table) {
          const ref = loaded.weights.weight(entry.component, entry.name);
          assert.strictEqual(ref.dtype, { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[dtype]);
          assert.deepStrictEqual(ref.shape, entry.shape);
          if (entry.layout.kind !== 'same') continue;
          assert.ok('file' in ref.data, `${entry.name} is a file range`);
          ranges++;
          assert.ok(bytesOf(ref).equals(rawTensor(file, entry.ldmKey).bytes), `${entry.component} ${entry.name} = ${entry.ldmKey}`);
        }
        // All but OpenCLIP's q/k/v (2 encoders' worth of layers × 6) and text_projection are plain ranges.
        assert.strictEqual(ranges, loaded.weights.table.length - 2 * 6 - 1);
        for (const [component, name, key] of [
          ['unet', 'down_blocks.1.attentions.0.transformer_blocks.1.attn2.to_k.weight', 'model.diffusion_model.input_blocks.3.1.transformer_blocks.1.attn2.to_k.weight'],
          ['vae_decoder', 'decoder.up_blocks.0.resnets.1.conv2.weight', 'first_stage_model.decoder.up.3.block.1.conv2.weight'],
          ['text_encoder', 'text_model.encoder.layers.1.mlp.fc1.bias', 'conditioner.embedders.0.transformer.text_model.encoder.layers.1.mlp.fc1.bias'],
        ] as const) {
          const stored = decode(bytesOf(loaded.weights.weight(component, name)), dtype);
          const written = generatedValues(spec, key);
          assert.strictEqual(stored.length, written.length);
          stored.forEach((v, i) => assert.ok(Math.abs(v - written[i]) <= tolerance(dtype, written[i]), `${name}[${i}]: ${v} vs ${written[i]}`));
        }
      });

      it('OpenCLIP\'s fused in_proj gives q, k and v as consecutive row ranges', async () => {
        const { file, loaded } = await sdxl(dtype);
        const w = TINY_SDXL_ARCHITECTURE.textEncoders[1].width;
        const fusedWeight = rawTensor(file, 'conditioner.embedders.1.model.transformer.resblocks.1.attn.in_proj_weight');
        const fusedBias = rawTensor(file, 'conditioner.embedders.1.model.transformer.resblocks.1.attn.in_proj_bias');
        assert.deepStrictEqual(fusedWeight.shape, [3 * w, w]);
        const element = dtype === 'F32' ? 4 : 2;
        ['q_proj', 'k_proj', 'v_proj'].forEach((p, i) => {
          const weight = loaded.weights.weight('text_encoder_2', `text_model.encoder.layers.1.self_attn.${p}.weight`);
          const bias = loaded.weights.weight('text_encoder_2', `text_model.encoder.layers.1.self_attn.${p}.bias`);
          assert.deepStrictEqual([weight.shape, bias.shape], [[w, w], [w]]);
          assert.ok('file' in weight.data && 'file' in bias.data);
          assert.ok(bytesOf(weight).equals(fusedWeight.bytes.subarray(i * w * w * element, (i + 1) * w * w * element)), `${p} weight rows`);
          assert.ok(bytesOf(bias).equals(fusedBias.bytes.subarray(i * w * element, (i + 1) * w * element)), `${p} bias rows`);
        });
      });

      it('OpenCLIP\'s text_projection [width, proj] comes transposed to [proj, width], from memory', async () => {
        const { file, loaded } = await sdxl(dtype);
        const stored = rawTensor(file, 'conditioner.embedders.1.model.text_projection');
        const [width, proj] = stored.shape;
        const ref = loaded.weights.weight('text_encoder_2', 'text_projection.weight');
        assert.deepStrictEqual(ref.shape, [proj, width]);
        assert.ok('bytes' in ref.data);
        const a = decode(stored.bytes, dtype);
        const b = decode(bytesOf(ref), dtype);
        for (let r = 0; r < width; r++) for (let c = 0; c < proj; c++) assert.strictEqual(b[c * width + r], a[r * proj + c]);
      });
    });
  }

  it('the VAE\'s 1×1-conv attention comes as [C, C] Linear weights over the same bytes', async () => {
    const { file, loaded } = await sdxl('F16');
    const c = TINY_SDXL_ARCHITECTURE.vaeDecoder.baseChannels * 2;
    for (const [name, key] of [['to_q', 'q'], ['to_k', 'k'], ['to_v', 'v'], ['to_out.0', 'proj_out']]) {
      const ref = loaded.weights.weight('vae_decoder', `decoder.mid_block.attentions.0.${name}.weight`);
      const stored = rawTensor(file, `first_stage_model.decoder.mid.attn_1.${key}.weight`);
      assert.deepStrictEqual([ref.shape, stored.shape], [[c, c], [c, c, 1, 1]]);
      assert.ok(bytesOf(ref).equals(stored.bytes));
    }
  });

  it('ignores model_ema.*, alphas_cumprod and int64 position_ids, which the file also holds', async () => {
    const { file, loaded } = await sdxl('F16');
    assert.strictEqual(rawTensor(file, 'conditioner.embedders.0.transformer.text_model.embeddings.position_ids').dtype, 'I64');
    assert.ok(loaded.file.tensors.has('model_ema.decay') && loaded.file.tensors.has('alphas_cumprod'));
    assert.ok(!loaded.weights.table.some((e) => /model_ema|alphas_cumprod|position_ids/.test(e.ldmKey)));
  });

  it('loads a checkpoint whose VAE has only its decoder half', async () => {
    const file = path.join(root(), 'decoder-only.safetensors');
    writeCheckpoint(file, { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F16', seed: 3, vaeDecoderOnly: true });
    const loaded = await loadCheckpoint(file);
    assert.ok(![...loaded.file.tensors.keys()].some((k) => k.startsWith('first_stage_model.encoder.')));
    assert.deepStrictEqual(loaded.architecture.vaeDecoder, TINY_SD1_ARCHITECTURE.vaeDecoder);
    assert.deepStrictEqual(loaded.weights.weight('vae_decoder', 'post_quant_conv.weight').shape, [4, 4, 1, 1]);
  });

  it('a missing required key names itself and the diffusers weight it holds', async () => {
    const file = path.join(root(), 'missing.safetensors');
    const omitKeys = ['first_stage_model.decoder.up.0.block.1.conv2.weight', 'model.diffusion_model.input_blocks.1.1.proj_out.bias'];
    writeCheckpoint(file, { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F16', seed: 3, omitKeys });
    await assert.rejects(loadCheckpoint(file), (e: CheckpointError) => {
      assert.strictEqual(e.code, 'missing-key');
      assert.strictEqual(
        e.message,
        `${file} has no "model.diffusion_model.input_blocks.1.1.proj_out.bias" (unet weight down_blocks.0.attentions.0.proj_out.bias) (and 1 more problem like it)`,
      );
      return true;
    });
  });

  it('SDXL\'s first text encoder may leave out its unused final layer norm; asking for it names the key', async () => {
    const file = path.join(root(), 'no-final-norm.safetensors');
    const prefix = 'conditioner.embedders.0.transformer.text_model.final_layer_norm';
    writeCheckpoint(file, { architecture: TINY_SDXL_ARCHITECTURE, dtype: 'F16', seed: 3, omitKeys: [`${prefix}.weight`, `${prefix}.bias`] });
    const loaded = await loadCheckpoint(file);
    assert.throws(
      () => loaded.weights.weight('text_encoder' as PipelineComponent, 'text_model.final_layer_norm.weight'),
      (e: CheckpointError) => e.code === 'missing-key' && e.message === `${file} has no "${prefix}.weight" (text_encoder weight text_model.final_layer_norm.weight)`,
    );
  });

  it('a weight in a dtype other than F32/F16/BF16', async () => {
    const file = path.join(root(), 'int16.safetensors');
    writeCheckpoint(file, { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F16', seed: 3 });
    const key = 'model.diffusion_model.out.2.bias';
    rewriteHeader(file, (header) => ({ ...header, [key]: { ...(header[key] as { dtype: string; shape: number[]; data_offsets: [number, number] }), dtype: 'I16' } }));
    await assert.rejects(loadCheckpoint(file), (e: CheckpointError) => {
      assert.strictEqual(e.code, 'bad-dtype');
      assert.strictEqual(e.message, `${file}: "${key}" is I16; checkpoint weights must be F32, F16 or BF16 (unet weight conv_out.bias)`);
      return true;
    });
  });

  it('a header that gives the UNet a zero width', async () => {
    const file = path.join(root(), 'zero.safetensors');
    writeCheckpoint(file, { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F16', seed: 3 });
    const key = 'model.diffusion_model.input_blocks.0.0.weight';
    rewriteHeader(file, (header) => {
      const entry = header[key] as { dtype: string; shape: number[]; data_offsets: [number, number] };
      return { ...header, [key]: { ...entry, shape: [0, 4, 3, 3], data_offsets: [entry.data_offsets[0], entry.data_offsets[0]] } };
    });
    await assert.rejects(loadCheckpoint(file), { message: `${file}: "${key}" has an empty dimension: [0, 4, 3, 3]` });
  });

  it('a weight of another shape than the architecture implies', async () => {
    const file = path.join(root(), 'reshaped.safetensors');
    writeCheckpoint(file, { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F16', seed: 3 });
    // Rewrite one header entry's shape to a same-sized but different shape: the header stays self-consistent.
    const data = fs.readFileSync(file);
    const headerLength = Number(data.readBigUInt64LE(0));
    const text = data.subarray(8, 8 + headerLength).toString('utf8');
    const key = 'model.diffusion_model.time_embed.2.weight';
    const header = JSON.parse(text);
    const [a, b] = header[key].shape;
    header[key].shape = [a * 2, b / 2];
    let json = JSON.stringify(header);
    json += ' '.repeat(headerLength - Buffer.byteLength(json));
    fs.writeFileSync(file, Buffer.concat([data.subarray(0, 8), Buffer.from(json), data.subarray(8 + headerLength)]));
    await assert.rejects(loadCheckpoint(file), (e: CheckpointError) => {
      assert.strictEqual(e.code, 'bad-shape');
      assert.strictEqual(e.message, `${file}: "${key}" has shape [${a * 2}, ${b / 2}], the model's other tensors imply [${a}, ${b}] (unet weight time_embedding.linear_2.weight)`);
      return true;
    });
  });
});
