import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  OnnxAttribute,
  OnnxModel,
  OnnxReadError,
  WeightEntry,
  WeightIndex,
  indexWeights,
  parseOnnxModel,
  readOnnxModel,
} from '../../../server/src/render/lora/onnxIndex';
import { PipelineConfig, SD15_SIZED, TINY_SD15, TINY_SDXL, buildPipelineGraphs, generateTinyPipeline } from '../../../server/src/render/testModel/generateModel';
import { LinearRecord } from '../../../server/src/render/testModel/net';
import { AttrValue, GraphBuilder, ModelBuilder, PbMessage, attrFloat, toFloat16Array } from '../../../server/src/render/testModel/onnxWriter';

type Row = Pick<WeightEntry, 'module' | 'initializer' | 'node' | 'op' | 'layout' | 'dims'>;

const LAYOUT_OF_OP = { MatMul: 'in_out', Gemm: 'out_in', Conv: 'conv' } as const;

/** The generator's ground truth as index rows: torch.onnx's layouts follow from the op (net.ts). */
function expectedRows(linears: LinearRecord[]): Row[] {
  return linears.map((l) => ({ module: l.module, initializer: l.initializer, node: l.node, op: l.op, layout: LAYOUT_OF_OP[l.op], dims: l.dims }));
}

function rows(index: WeightIndex): Row[] {
  return index.weights.map((w) => ({ module: w.module, initializer: w.initializer, node: w.node, op: w.op, layout: w.layout, dims: w.dims }));
}

/**
 * A builder's graph as the decoder would return it, without serializing: SD15_SIZED's weights
 * are lazy and 3.4 GB, and only names, dims and attributes matter to the index. Large
 * initializers get external locations laid out as the writer would (back to back, ≥ 1024 bytes).
 */
function modelFromBuilder(model: ModelBuilder, file: string, externalData: boolean): OnnxModel {
  const g: GraphBuilder = model.graph;
  const bytesPer = { float32: 4, float16: 2, int32: 4, int64: 8, bool: 1 } as const;
  const code = { float32: 1, float16: 10, int32: 6, int64: 7, bool: 9 } as const;
  let offset = 0;
  const attr = (name: string, v: AttrValue): OnnxAttribute => {
    if (typeof v === 'number') return { name, type: 2, i: v };
    if (typeof v === 'string') return { name, type: 3, s: v };
    if (Array.isArray(v)) return { name, type: 7, ints: v };
    if (v.kind === 'float') return { name, type: 1, f: v.value };
    if (v.kind === 'floats') return { name, type: 6, floats: v.value };
    return { name, type: 4 };
  };
  return {
    file,
    irVersion: model.irVersion,
    producerName: model.producerName,
    producerVersion: model.producerVersion,
    opsets: [...model.opsets].map(([domain, version]) => ({ domain, version })),
    graph: {
      name: g.name,
      nodes: g.nodes.map((n) => ({
        name: n.name,
        opType: n.opType,
        domain: n.domain,
        inputs: n.inputs,
        outputs: n.outputs,
        attributes: Object.fromEntries(Object.entries(n.attrs).map(([k, v]) => [k, attr(k, v)])),
      })),
      initializers: g.initializers.map((i) => {
        const length = i.dims.reduce((a, b) => a * b, 1) * bytesPer[i.type];
        const external = externalData && length >= 1024;
        const location = external
          ? { kind: 'external' as const, location: 'model.onnx_data', file: path.join(path.dirname(file), 'model.onnx_data'), offset, length }
          : { kind: 'inline' as const, offset: 0, length };
        if (external) offset += length;
        return { name: i.name, dims: i.dims, dataType: code[i.type], dtype: i.type, location };
      }),
      inputs: g.inputs.map((v) => ({ name: v.name, elemType: v.type })),
      outputs: g.outputs.map((v) => ({ name: v.name, elemType: v.type })),
    },
  };
}

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'sd-onnx-index-'));
}

describe('ONNX weight index', () => {
  const folders: string[] = [];
  after(() => {
    for (const f of folders) fs.rmSync(f, { recursive: true, force: true });
  });

  for (const [label, config] of [
    ['TINY_SD15', TINY_SD15],
    ['TINY_SDXL', TINY_SDXL],
  ] as [string, PipelineConfig][]) {
    it(`${label}: every model's index equals the generator's Linear/Conv ground truth`, () => {
      const folder = tmpDir();
      folders.push(folder);
      const pipeline = generateTinyPipeline(folder, config);
      const keys = Object.keys(pipeline.models);
      assert.deepStrictEqual(keys, config.base === 'sdxl' ? ['text_encoder', 'text_encoder_2', 'unet', 'vae_decoder'] : ['text_encoder', 'unet', 'vae_decoder']);
      // The builders again, serialized in memory (tiny): the writer's own account of where each tensor went.
      const { graphs } = buildPipelineGraphs(config);
      for (const key of keys) {
        const generated = pipeline.models[key];
        const file = path.join(folder, generated.file);
        const model = readOnnxModel(file);
        const index = indexWeights(model);
        assert.deepStrictEqual(rows(index), expectedRows(generated.linears), `${key}: index = ground truth`);
        assert.deepStrictEqual(index.unattributed, [], `${key}: nothing unattributed`);
        assert.strictEqual(index.fused, undefined);
        assert.strictEqual(index.byModule.size, generated.linears.length);
        for (const w of index.weights) {
          assert.strictEqual(w.dtype, 'float32');
          assert.deepStrictEqual(w.via, []);
          if (w.op === 'Conv') assert.strictEqual(w.group, 1);
        }
        assert.deepStrictEqual(model.graph.inputs.map((i) => i.name), generated.inputs);
        assert.deepStrictEqual(model.graph.outputs.map((o) => o.name), generated.outputs);

        const built = graphs[key];
        const serialized = built.model.serialize(built.externalData ? { externalDataFile: 'model.onnx_data' } : {});
        const writerExternal = new Map(serialized.externalTensors.map((t) => [t.name, t]));
        const modelBytes = fs.readFileSync(file);
        assert.deepStrictEqual(modelBytes, Buffer.from(serialized.model), `${key}: regenerated bytes are identical`);
        const dataFile = generated.externalFile ? path.join(folder, generated.externalFile) : undefined;
        const data = dataFile ? fs.readFileSync(dataFile) : undefined;
        for (const w of index.weights) {
          const init = built.model.graph.initializers.find((i) => i.name === w.initializer);
          assert.ok(init);
          const values = typeof init.data === 'function' ? init.data() : init.data;
          const expected = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
          if (built.externalData) {
            const t = writerExternal.get(w.initializer);
            assert.ok(t, `${w.initializer} is external`);
            assert.deepStrictEqual(w.location, { kind: 'external', location: 'model.onnx_data', file: dataFile, offset: t.offset, length: t.length });
            assert.ok(data);
            assert.ok(data.subarray(w.location.offset, w.location.offset + w.location.length).equals(expected), `${w.initializer}: bytes at its external range`);
          } else {
            assert.strictEqual(w.location.kind, 'inline');
            assert.ok(modelBytes.subarray(w.location.offset, w.location.offset + w.location.length).equals(expected), `${w.initializer}: bytes at its inline range`);
          }
        }
      }
      if (config.base === 'sdxl') {
        const te2 = indexWeights(readOnnxModel(path.join(folder, 'text_encoder_2/model.onnx')));
        const proj = te2.byModule.get('text_projection');
        assert.strictEqual(proj?.layout, 'in_out');
        assert.ok(te2.byModule.has('text_model.encoder.layers.1.self_attn.q_proj'));
        const unet = indexWeights(readOnnxModel(path.join(folder, 'unet/model.onnx')));
        assert.strictEqual(unet.byModule.get('add_embedding.linear_1')?.layout, 'out_in');
        assert.strictEqual(unet.byModule.get('down_blocks.1.attentions.0.transformer_blocks.1.attn2.to_k')?.layout, 'in_out');
        // SDXL's linear proj_in (use_linear_projection).
        assert.strictEqual(unet.byModule.get('down_blocks.1.attentions.0.proj_in')?.op, 'MatMul');
      }
    });
  }

  it('SD15_SIZED (graphs only, no weights): the UNet has all 192 attention/FF/proj modules at SD1.5 shapes', () => {
    const { graphs } = buildPipelineGraphs(SD15_SIZED);
    const unetGraph = graphs.unet;
    const index = indexWeights(modelFromBuilder(unetGraph.model, '/virtual/unet/model.onnx', true));
    assert.deepStrictEqual(rows(index), expectedRows(unetGraph.linears));
    assert.deepStrictEqual(index.unattributed, []);
    const lora = index.weights.filter((w) => /\.(attentions\.\d+\.(proj_in|proj_out)|attn[12]\.(to_q|to_k|to_v|to_out\.0)|ff\.net\.(0\.proj|2))$/.test(w.module));
    assert.strictEqual(lora.length, 192);
    const at = (m: string): WeightEntry => {
      const w = index.byModule.get(m);
      assert.ok(w, m);
      return w;
    };
    const B = 'down_blocks.0.attentions.0';
    assert.deepStrictEqual([at(`${B}.transformer_blocks.0.attn2.to_k`).dims, at(`${B}.transformer_blocks.0.attn2.to_k`).layout], [[768, 320], 'in_out']);
    assert.deepStrictEqual(at(`${B}.transformer_blocks.0.attn1.to_q`).dims, [320, 320]);
    assert.deepStrictEqual(at(`${B}.transformer_blocks.0.ff.net.0.proj`).dims, [320, 2560]);
    assert.deepStrictEqual(at(`${B}.transformer_blocks.0.ff.net.2`).dims, [1280, 320]);
    assert.deepStrictEqual([at(`${B}.proj_in`).dims, at(`${B}.proj_in`).layout], [[320, 320, 1, 1], 'conv']);
    assert.deepStrictEqual(at('mid_block.attentions.0.transformer_blocks.0.attn2.to_v').dims, [768, 1280]);
    assert.deepStrictEqual(at('up_blocks.3.attentions.2.transformer_blocks.0.attn1.to_out.0').dims, [320, 320]);
    assert.deepStrictEqual([at('down_blocks.0.resnets.0.time_emb_proj').dims, at('down_blocks.0.resnets.0.time_emb_proj').layout], [[320, 1280], 'out_in']);
    assert.deepStrictEqual(at('down_blocks.0.resnets.0.conv1').dims, [320, 320, 3, 3]);
    const attnParams = lora.reduce((a, w) => a + w.dims.reduce((x, y) => x * y, 1), 0);
    // Per Transformer2DModel at width C with 768-wide context: proj_in/out 2C², attn1 4C², attn2 2C² + 2·768C,
    // GEGLU FF 8C² + 4C²; SD1.5 has 5 at 320, 5 at 640, 6 at 1280 (mid included): the "about 267 M".
    const perBlock = (c: number): number => 20 * c * c + 2 * 768 * c;
    assert.strictEqual(attnParams, 5 * perBlock(320) + 5 * perBlock(640) + 6 * perBlock(1280));
    assert.strictEqual(attnParams, 266_977_280);

    const te = indexWeights(modelFromBuilder(graphs.text_encoder.model, '/virtual/text_encoder/model.onnx', false));
    assert.deepStrictEqual(rows(te), expectedRows(graphs.text_encoder.linears));
    assert.deepStrictEqual(te.byModule.get('text_model.encoder.layers.11.self_attn.q_proj')?.dims, [768, 768]);
    assert.deepStrictEqual(te.byModule.get('text_model.encoder.layers.0.mlp.fc1')?.dims, [768, 3072]);
  });

  it('orientation from the op and its attributes: Transpose→MatMul, Cast→MatMul, Gemm transB=0/1, never the shape', () => {
    const m = new ModelBuilder(17);
    const g = m.graph;
    const x = g.input('x', 'float32', [2, 4]);
    const w = (n: number) => Float32Array.from({ length: 16 }, (_, i) => i + n);
    // Every weight is square [4, 4] so that shape could not tell the orientation.
    g.initializer('onnx::MatMul_10', w(0), [4, 4]);
    g.node('Transpose', ['onnx::MatMul_10'], ['t0'], { perm: [1, 0] }, '/blk/lin_t/Transpose');
    g.node('MatMul', [x, 't0'], ['y0'], {}, '/blk/lin_t/MatMul');
    g.initializer('blk.lin_c.weight', toFloat16Array(w(1)), [4, 4]);
    g.node('Cast', ['blk.lin_c.weight'], ['c1'], { to: 1 }, '/blk/lin_c/Cast');
    g.node('MatMul', ['y0', 'c1'], ['y1'], {}, '/blk/lin_c/MatMul');
    g.initializer('onnx::MatMul_12', w(2), [4, 4]);
    g.node('MatMul', ['y1', 'onnx::MatMul_12'], ['y2'], {}, '/text_model/encoder/layers.0/self_attn/q_proj/MatMul');
    g.initializer('blk.g0.weight', w(3), [4, 4]);
    g.node('Gemm', ['y2', 'blk.g0.weight'], ['y3'], { alpha: attrFloat(1), transB: 0 }, '/blk/g0/Gemm');
    g.initializer('blk.g1.weight', w(4), [4, 4]);
    g.node('Gemm', ['y3', 'blk.g1.weight'], ['y4'], { transB: 1 }, '/blk/g1/Gemm');
    // Transpose then Gemm transB=1: two flips, back to [in, out]. No perm: Transpose reverses the axes.
    g.initializer('onnx::Gemm_20', w(5), [4, 4]);
    g.node('Transpose', ['onnx::Gemm_20'], ['t5'], {}, '/blk/g2/Transpose');
    g.node('Gemm', ['y4', 't5'], ['y5'], { transB: 1 }, '/blk/g2/Gemm');
    // Gemm without transB: default 0.
    g.initializer('blk.g3.weight', w(6), [4, 4]);
    g.node('Gemm', ['y5', 'blk.g3.weight'], ['y6'], {}, '/blk/g3/Gemm');
    // A MatMul of two activations is not a weight; one with no scope cannot be attributed.
    g.node('MatMul', ['y6', 'y6'], ['y7'], {}, '/blk/attn/MatMul');
    g.initializer('onnx::MatMul_30', w(7), [4, 4]);
    g.node('MatMul', ['y6', 'onnx::MatMul_30'], ['y8'], {}, 'MatMul_30');
    // A grouped (depthwise) conv: layout conv, group recorded.
    const img = g.input('img', 'float32', [1, 4, 3, 3]);
    g.initializer('blk.dw.weight', Float32Array.from({ length: 36 }, (_, i) => i), [4, 1, 3, 3]);
    g.node('Conv', [img, 'blk.dw.weight'], ['z'], { group: 4, kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, '/blk/dw/Conv');
    g.output('y8', 'float32', [2, 4]);
    g.output('z', 'float32', [1, 4, 3, 3]);

    const bytes = m.serialize().model;
    const index = indexWeights(parseOnnxModel(bytes, 'hand.onnx'));
    const summary = index.weights.map((e) => [e.module, e.initializer, e.op, e.layout, e.dtype, e.via.join('>')]);
    assert.deepStrictEqual(summary, [
      ['blk.lin_t', 'onnx::MatMul_10', 'MatMul', 'out_in', 'float32', 'Transpose'],
      ['blk.lin_c', 'blk.lin_c.weight', 'MatMul', 'in_out', 'float16', 'Cast'],
      ['text_model.encoder.layers.0.self_attn.q_proj', 'onnx::MatMul_12', 'MatMul', 'in_out', 'float32', ''],
      ['blk.g0', 'blk.g0.weight', 'Gemm', 'in_out', 'float32', ''],
      ['blk.g1', 'blk.g1.weight', 'Gemm', 'out_in', 'float32', ''],
      ['blk.g2', 'onnx::Gemm_20', 'Gemm', 'in_out', 'float32', 'Transpose'],
      ['blk.g3', 'blk.g3.weight', 'Gemm', 'in_out', 'float32', ''],
      ['blk.dw', 'blk.dw.weight', 'Conv', 'conv', 'float32', ''],
    ]);
    assert.strictEqual(index.byModule.get('blk.dw')?.group, 4);
    assert.deepStrictEqual(index.unattributed, [
      { initializer: 'onnx::MatMul_30', node: 'MatMul_30', op: 'MatMul', reason: "neither the initializer name nor the node name 'MatMul_30' carries a module path" },
    ]);
    // Inline locations point at the tensor's bytes in the model.
    const lc = index.byModule.get('blk.lin_c');
    assert.ok(lc && lc.location.kind === 'inline');
    assert.deepStrictEqual(
      new Uint16Array(bytes.slice(lc.location.offset, lc.location.offset + lc.location.length).buffer),
      toFloat16Array(w(1)),
    );
    assert.strictEqual(indexWeights(parseOnnxModel(bytes, 'hand.onnx')).fused, undefined);
  });

  it('a fused-attention graph (com.microsoft MultiHeadAttention, packed QKV) is reported as needing a plain export', () => {
    const m = new ModelBuilder(17);
    m.opsets.set('com.microsoft', 1);
    const g = m.graph;
    const x = g.input('x', 'float32', [1, 4, 8]);
    const qkv = Float32Array.from({ length: 8 * 24 }, (_, i) => i / 100);
    g.initializer('MatMul_QKV_0_weight', qkv, [8, 24]);
    g.node('MatMul', [x, 'MatMul_QKV_0_weight'], ['qkv'], {}, 'MatMul_QKV_0');
    g.node('MultiHeadAttention', ['qkv'], ['a'], { num_heads: 2 }, 'MultiHeadAttention_0', 'com.microsoft');
    g.initializer('onnx::MatMul_5', Float32Array.from({ length: 64 }, (_, i) => i), [8, 8]);
    g.node('MatMul', ['a', 'onnx::MatMul_5'], ['y'], {}, '/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_out.0/MatMul');
    g.output('y', 'float32', [1, 4, 8]);
    const index = indexWeights(parseOnnxModel(m.serialize().model, 'optimized/unet/model.onnx'));
    assert.ok(index.fused);
    assert.deepStrictEqual(
      index.fused.nodes.map((n) => [n.opType, n.domain, n.name]),
      [
        ['MatMul', '', 'MatMul_QKV_0'],
        ['MultiHeadAttention', 'com.microsoft', 'MultiHeadAttention_0'],
      ],
    );
    assert.match(index.fused.message, /^optimized\/unet\/model\.onnx: the graph is optimized with fused attention/);
    assert.match(index.fused.message, /MultiHeadAttention/);
    assert.match(index.fused.message, /LoRA needs a plain export/);
    assert.deepStrictEqual(index.unattributed.map((u) => [u.initializer, u.reason]), [['MatMul_QKV_0_weight', 'packed Q/K/V weight of a fused attention']]);
    // What was not fused is still indexed.
    assert.deepStrictEqual(index.weights.map((e) => e.module), ['down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0']);
  });

  it('decodes packed repeated fields, negative ints and external data written by another writer', () => {
    // onnx's Python writer emits dims unpacked, protobuf-es and others packed: both must decode.
    const packed = (values: number[]): Uint8Array => {
      const m = new PbMessage();
      for (const v of values) m.varint(1, v);
      // Strip each tag byte (field 1, varint = 0x08): what remains is the packed payload.
      const b = m.toBytes();
      return Uint8Array.from(b.filter((_, i) => i % 2 === 1));
    };
    const tensor = new PbMessage().bytes(1, packed([3, 5])).varint(2, 10).string(8, 'onnx::MatMul_7');
    for (const [k, v] of [['location', 'w.bin'], ['offset', '4096'], ['length', '30']]) tensor.message(13, new PbMessage().string(1, k).string(2, v));
    tensor.varint(14, 1);
    const softmaxAxis = new PbMessage().string(1, 'axis').varint(3, -1).varint(20, 2);
    const perm = new PbMessage().string(1, 'perm').bytes(8, packed([1, 0])).varint(20, 7);
    const graph = new PbMessage()
      .message(1, new PbMessage().string(1, 'onnx::MatMul_7').string(2, 't').string(3, '/enc/fc/Transpose').string(4, 'Transpose').message(5, perm))
      .message(1, new PbMessage().string(1, 'x').string(1, 't').string(2, 'y').string(3, '/enc/fc/MatMul').string(4, 'MatMul'))
      .message(1, new PbMessage().string(1, 'y').string(2, 'z').string(3, '/enc/Softmax').string(4, 'Softmax').message(5, softmaxAxis))
      .string(2, 'g')
      .message(5, tensor);
    const bytes = new PbMessage().varint(1, 9).message(7, graph).message(8, new PbMessage().varint(2, 21)).toBytes();
    const model = parseOnnxModel(bytes, '/models/te/model.onnx');
    assert.strictEqual(model.irVersion, 9);
    assert.deepStrictEqual(model.opsets, [{ domain: '', version: 21 }]);
    assert.strictEqual(model.graph.nodes[2].attributes.axis.i, -1);
    assert.deepStrictEqual(model.graph.nodes[0].attributes.perm.ints, [1, 0]);
    const index = indexWeights(model);
    assert.deepStrictEqual(index.weights.map((w) => [w.module, w.layout, w.dims, w.dtype, w.location]), [
      ['enc.fc', 'out_in', [3, 5], 'float16', { kind: 'external', location: 'w.bin', file: path.resolve('/models/te/w.bin'), offset: 4096, length: 30 }],
    ]);
  });

  describe('bad input gives a clear error naming the file', () => {
    let folder = '';
    let unet = '';
    before(() => {
      folder = tmpDir();
      folders.push(folder);
      generateTinyPipeline(folder, TINY_SD15);
      unet = path.join(folder, 'unet/model.onnx');
    });

    const rejects = (file: string, pattern: RegExp): void => {
      assert.throws(
        () => readOnnxModel(file),
        (e: unknown) => {
          assert.ok(e instanceof OnnxReadError, String(e));
          assert.ok(e.message.startsWith(`${file}: `), e.message);
          assert.match(e.message, pattern);
          return true;
        },
      );
    };

    it('a truncated model', () => {
      const bytes = fs.readFileSync(unet);
      for (const keep of [bytes.length - 1, Math.floor(bytes.length / 2), 3]) {
        const file = path.join(folder, `truncated-${keep}.onnx`);
        fs.writeFileSync(file, bytes.subarray(0, keep));
        rejects(file, /not a readable ONNX model \((truncated|no graph)/);
      }
    });

    it('files that are not ONNX', () => {
      const cases: [string, Uint8Array | string, RegExp][] = [
        ['empty.onnx', new Uint8Array(0), /the file is empty/],
        ['text.onnx', 'hello, this is a prompt, not a model\n', /not a readable ONNX model/],
        ['png.onnx', Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]), /not a readable ONNX model/],
        ['json.onnx', '{"_class_name": "UNet2DConditionModel"}', /not a readable ONNX model/],
        ['proto-without-graph.onnx', new PbMessage().varint(1, 8).string(2, 'x').toBytes(), /no graph found/],
      ];
      for (const [name, content, pattern] of cases) {
        const file = path.join(folder, name);
        fs.writeFileSync(file, content);
        rejects(file, pattern);
      }
      rejects(path.join(folder, 'missing.onnx'), /cannot read the model \(ENOENT/);
    });

    it('external data that is missing, short, or outside the model folder', () => {
      const moved = path.join(folder, 'moved');
      fs.mkdirSync(moved);
      fs.copyFileSync(unet, path.join(moved, 'model.onnx'));
      rejects(path.join(moved, 'model.onnx'), /external data file .*moved\/model\.onnx_data cannot be read/);
      const data = fs.readFileSync(path.join(folder, 'unet/model.onnx_data'));
      fs.writeFileSync(path.join(moved, 'model.onnx_data'), data.subarray(0, data.length - 4));
      rejects(path.join(moved, 'model.onnx'), /lies at \d+\.\.\d+ of .*model\.onnx_data, which has only \d+ bytes/);

      const m = new ModelBuilder(17);
      m.graph.input('x', 'float32', [1, 1024]);
      m.graph.initializer('w.weight', new Float32Array(1024 * 2), [1024, 2]);
      m.graph.node('MatMul', ['x', 'w.weight'], ['y'], {}, '/w/MatMul');
      m.graph.output('y', 'float32', [1, 2]);
      fs.mkdirSync(path.join(folder, 'inner'));
      const escape = path.join(folder, 'inner/escape.onnx');
      m.write(escape, { externalDataFile: '../escape.onnx_data' });
      rejects(escape, /external data location '\.\.\/escape\.onnx_data' is outside the model's folder/);
    });
  });
});
