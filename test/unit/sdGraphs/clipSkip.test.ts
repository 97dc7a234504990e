import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { loadCheckpoint } from '../../../server/src/render/checkpoint/loadCheckpoint';
import { readWithClipSkipOutputs } from '../../../server/src/render/model/clipSkipOutputs';
import { openModelFolder } from '../../../server/src/render/model/modelFolder';
import { loadSessions, ModelSessions } from '../../../server/src/render/model/sessions';
import { renderParameters } from '../../../server/src/render/parameters';
import { RenderHost } from '../../../server/src/render/renderHost';
import { clipSkipLayer, renderTxt2Img } from '../../../server/src/render/pipeline/txt2img';
import { SdArchitecture } from '../../../server/src/render/sdGraphs/architecture';
import { checkpointGraphs } from '../../../server/src/render/sdGraphs/graphFiles';
import { createGraphSessions } from '../../../server/src/render/sdGraphs/graphSessions';
import { TINY_SD1_ARCHITECTURE, TINY_SD2_ARCHITECTURE, TINY_SDXL_ARCHITECTURE, writeCheckpoint } from '../../../server/src/render/testModel/generateCheckpoint';
import { generateTinyPipeline, TINY_SD15 } from '../../../server/src/render/testModel/generateModel';
import { parsePromptDocument } from '../../../server/src/service/syntax/document';
import { FIXTURES } from '../fixtures';
import { ModelBuilder } from '../../../server/src/render/onnx/onnxWriter';
import { prepareLoras } from '../../../server/src/render/lora/prepare';
import { tinyKohyaLora, writeSafetensors } from '../render/loraFiles';

/**
 * Clip skip as A1111's FrozenCLIPEmbedderWithCustomWords.encode_with_transformers applies it on SD1:
 * clip skip N conditions on `final_layer_norm(hidden_states[-N])`. That is exactly what a text encoder
 * with N - 1 fewer layers (the same weights otherwise) gives as its last_hidden_state, which is the
 * independent reference here: a graph of fewer layers over the same checkpoint, a folder generated
 * with fewer layers from the same seed (its weights depend only on seed and name).
 */

const CPU: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], graphOptimizationLevel: 'extended', logSeverityLevel: 3 };
const IDS = Int32Array.from({ length: 77 }, (_, i) => (i === 0 ? 49406 : i < 6 ? 320 + 17 * i : 49407));

function withTextLayers(arch: SdArchitecture, layers: number): SdArchitecture {
  return { ...arch, textEncoders: [{ ...arch.textEncoders[0], layers }, ...arch.textEncoders.slice(1)] };
}

async function encode(session: ort.InferenceSession): Promise<Record<string, Float32Array>> {
  const meta = session.inputMetadata[0];
  const int64 = meta.isTensor && meta.type === 'int64';
  const ids = int64 ? new ort.Tensor('int64', BigInt64Array.from(IDS, (v) => BigInt(v)), [1, 77]) : new ort.Tensor('int32', IDS, [1, 77]);
  const result = await session.run({ input_ids: ids });
  const out: Record<string, Float32Array> = {};
  for (const [name, t] of Object.entries(result)) out[name] = t.data as Float32Array;
  return out;
}

describe('Clip skip (A1111 CLIP_stop_at_last_layers)', function () {
  this.timeout(180000);
  let root = '';
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-clip-skip-'));
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it("a checkpoint's SD1 text encoder outputs final_layer_norm(hidden_states[-N]) equal to a graph of N - 1 fewer layers", async () => {
    const arch = withTextLayers(TINY_SD1_ARCHITECTURE, 3);
    const checkpoint = path.join(root, 'sd1-3layers.safetensors');
    writeCheckpoint(checkpoint, { architecture: arch, dtype: 'F32', seed: 9 });
    const loaded = await loadCheckpoint(checkpoint);
    const cacheRoot = path.join(root, 'cache');
    const textEncoderOf = async (layers: number) => {
      const graphs = checkpointGraphs({ checkpoint, architecture: withTextLayers(loaded.architecture, layers), source: loaded.weights, dtype: 'float32', cacheRoot });
      const sessions = await createGraphSessions(ort, { ...graphs, graphs: { text_encoder: graphs.graphs.text_encoder } }, CPU);
      try {
        return await encode(sessions.text_encoder!);
      } finally {
        await sessions.text_encoder!.release();
      }
    };
    const full = await textEncoderOf(3);
    assert.deepStrictEqual(
      Object.keys(full).filter((k) => k.startsWith('normed_hidden_states.')).sort(),
      ['normed_hidden_states.0', 'normed_hidden_states.1', 'normed_hidden_states.2'],
    );
    const twoLayers = await textEncoderOf(2);
    const oneLayer = await textEncoderOf(1);
    // Clip skip 2 → normed_hidden_states.2 (layers + 1 - 2); clip skip 3 → .1; clip skip 4 → .0 (the embeddings).
    assert.deepStrictEqual(full['normed_hidden_states.2'], twoLayers.last_hidden_state);
    assert.deepStrictEqual(full['normed_hidden_states.1'], oneLayer.last_hidden_state);
    // Clip skip 4 on the 3-layer encoder is the embeddings through the final norm, as on the 1-layer one.
    assert.deepStrictEqual(full['normed_hidden_states.0'], oneLayer['normed_hidden_states.0']);
    // The earlier layers really differ (the test would pass on a constant graph otherwise).
    assert.notDeepStrictEqual(full['normed_hidden_states.2'], full.last_hidden_state);
    assert.notDeepStrictEqual(full['normed_hidden_states.1'], full['normed_hidden_states.2']);
  });

  it('SD2 and SDXL checkpoints get no clip-skip outputs: A1111 ignores clip skip for OpenCLIP and (by default) for SDXL', async () => {
    for (const arch of [TINY_SD2_ARCHITECTURE, TINY_SDXL_ARCHITECTURE]) {
      const checkpoint = path.join(root, `${arch.family}.safetensors`);
      writeCheckpoint(checkpoint, { architecture: arch, dtype: 'F32', seed: 3 });
      const loaded = await loadCheckpoint(checkpoint);
      const graphs = checkpointGraphs({ checkpoint, architecture: loaded.architecture, source: loaded.weights, dtype: 'float32', cacheRoot: path.join(root, 'cache') });
      for (const g of Object.values(graphs.graphs)) assert.deepStrictEqual(g!.outputs.filter((o) => o.startsWith('normed_hidden_states.')), [], `${arch.family} ${g!.component}`);
    }
  });

  it('the clip-skip layer per family: SD1 reads normed_hidden_states.<layers + 1 - N>; SD2/SDXL and N ≤ 1 read the last layer', () => {
    const io = (outputs: string[]) => ({ textEncoder: { outputs, inputs: new Map(), session: undefined as never } });
    const sd1 = io(['last_hidden_state', 'pooler_output', 'normed_hidden_states.0', 'normed_hidden_states.1', 'normed_hidden_states.2']);
    assert.deepStrictEqual(clipSkipLayer('sd1', sd1, 1), { layer: 'last', written: 1 });
    assert.deepStrictEqual(clipSkipLayer('sd1', sd1, 0), { layer: 'last', written: 0 });
    assert.deepStrictEqual(clipSkipLayer('sd1', sd1, 2), { layer: 'normed_hidden_states.2', written: 2 });
    assert.deepStrictEqual(clipSkipLayer('sd1', sd1, 4), { layer: 'normed_hidden_states.0', written: 4 });
    assert.throws(() => clipSkipLayer('sd1', sd1, 5), /Clip skip: 5 skips more layers than this text encoder has \(3\); use at most 4/);
    assert.deepStrictEqual(clipSkipLayer('sd2', sd1, 2), { layer: 'last', written: 2 });
    assert.deepStrictEqual(clipSkipLayer('sdxl', sd1, 2), { layer: 'last', written: 2 });
    const none = clipSkipLayer('sd1', { ...io(['last_hidden_state']), clipSkipUnavailable: 'its final layer norm is not one LayerNormalization node' }, 2);
    assert.deepStrictEqual(none, {
      layer: 'last',
      written: 1,
      note: 'Clip skip 2 not applied (rendered with clip skip 1): its final layer norm is not one LayerNormalization node.',
    });
  });

  it('a text encoder whose final norm is not one LayerNormalization (an older export) is left as it is, saying why', () => {
    // last_hidden_state from decomposed ops, as exports before opset 17 write LayerNorm.
    const model = new ModelBuilder(13);
    const g = model.graph;
    g.input('input_ids', 'int32', [1, 77]);
    g.node('Cast', ['input_ids'], ['x'], { to: 1 });
    g.node('ReduceMean', ['x'], ['mean'], { axes: [-1] });
    g.node('Sub', ['x', 'mean'], ['last_hidden_state']);
    g.output('last_hidden_state', 'float32', [1, 77]);
    const file = path.join(root, 'old_export.onnx');
    fs.writeFileSync(file, model.serialize().model);
    assert.deepStrictEqual(readWithClipSkipOutputs(file), {
      kind: 'impossible',
      reason: 'its final layer norm is not one LayerNormalization node (an export older than opset 17, or one with fused nodes)',
    });
    fs.writeFileSync(file, 'not a model');
    assert.strictEqual(readWithClipSkipOutputs(file).kind, 'impossible');
  });

  describe('a diffusers folder whose text encoder has no hidden-state outputs', () => {
    let full = '';
    let fewer = '';
    let fullSessions: ModelSessions;
    let fewerSessions: ModelSessions;
    before(async () => {
      full = path.join(root, 'folder-3');
      fewer = path.join(root, 'folder-2');
      generateTinyPipeline(full, { ...TINY_SD15, layers: 3, tokenizerFrom: path.join(FIXTURES, 'clip') });
      generateTinyPipeline(fewer, { ...TINY_SD15, layers: 2, tokenizerFrom: path.join(FIXTURES, 'clip') });
      fullSessions = await loadSessions(openModelFolder(full), 'cpu', ort);
      fewerSessions = await loadSessions(openModelFolder(fewer), 'cpu', ort);
    });
    after(async () => {
      await fullSessions?.release();
      await fewerSessions?.release();
    });

    it('gets them when loaded (the file on disk is left as it is)', async () => {
      const file = path.join(full, 'text_encoder', 'model.onnx');
      const before = fs.readFileSync(file);
      const session = await ort.InferenceSession.create(file, CPU);
      assert.deepStrictEqual(session.outputNames.filter((o) => o.startsWith('normed')), []);
      await session.release();
      const edited = readWithClipSkipOutputs(file);
      assert.strictEqual(edited.kind, 'added');
      assert.strictEqual(edited.kind === 'added' && edited.layers, 3);
      assert.deepStrictEqual(fullSessions.textEncoder.outputs.filter((o) => o.startsWith('normed')), ['normed_hidden_states.0', 'normed_hidden_states.1', 'normed_hidden_states.2']);
      assert.strictEqual(fullSessions.clipSkipUnavailable, undefined);
      assert.ok(fs.readFileSync(file).equals(before));
      const outputs = await encode(fullSessions.textEncoder.session);
      const reference = await encode(fewerSessions.textEncoder.session);
      assert.deepStrictEqual(outputs['normed_hidden_states.2'], reference.last_hidden_state);
    });

    it('keeps them when a LoRA is merged into the text encoder (the merged bytes get them too)', async () => {
      const file = path.join(root, 'te_lora.safetensors');
      writeSafetensors(file, tinyKohyaLora());
      const prepared = await prepareLoras([{ name: 'te', path: file, te: 1, unet: 1 }]);
      const merged = await loadSessions(openModelFolder(full), 'cpu', ort, prepared);
      const mergedFewer = await loadSessions(openModelFolder(fewer), 'cpu', ort, await prepareLoras([{ name: 'te', path: file, te: 1, unet: 1 }]));
      try {
        assert.deepStrictEqual(merged.loras.map((l) => [l.name, l.matched]), [['te', 2]]);
        const outputs = await encode(merged.textEncoder.session);
        const reference = await encode(mergedFewer.textEncoder.session);
        assert.deepStrictEqual(outputs['normed_hidden_states.2'], reference.last_hidden_state);
        assert.notDeepStrictEqual(outputs['normed_hidden_states.2'], (await encode(fullSessions.textEncoder.session))['normed_hidden_states.2']);
      } finally {
        await merged.release();
        await mergedFewer.release();
      }
    });

    it('renders clip skip 2 exactly as the folder of one layer fewer renders clip skip 1, and writes Clip skip: 2 after Denoising strength', async () => {
      const text = 'a cat\nNegative prompt: lowres\nSteps: 3, Sampler: Euler a, CFG scale: 7, Seed: 5, Size: 64x64, Clip skip: 2';
      const skipped = await renderTxt2Img(ort, openModelFolder(full), fullSessions, renderParameters(text, { model: full }));
      const reference = await renderTxt2Img(ort, openModelFolder(fewer), fewerSessions, renderParameters(text, { model: fewer, clipSkip: 1 }));
      const plain = await renderTxt2Img(ort, openModelFolder(full), fullSessions, renderParameters(text, { model: full, clipSkip: 1 }));
      assert.deepStrictEqual(skipped.rgb, reference.rgb);
      assert.notDeepStrictEqual(skipped.rgb, plain.rgb);
      assert.deepStrictEqual(skipped.notes, []);
      const keys = parsePromptDocument(skipped.infotext).sections.parameters!.entries.map((e) => `${e.key}: ${e.value}`);
      assert.deepStrictEqual(keys, ['Steps: 3', 'Sampler: Euler a', 'Schedule type: Automatic', 'CFG scale: 7', 'Seed: 5', 'Size: 64x64', 'Model: folder-3', 'Clip skip: 2', 'Version: sd-prompt']);
      assert.ok(!plain.infotext.includes('Clip skip'));
      // The setting applies where the file says nothing; the file's value wins over it.
      const fromSetting = renderParameters(text.replace(', Clip skip: 2', ''), { model: full }, { clipSkip: 2 });
      assert.strictEqual(fromSetting.clipSkip, 2);
      assert.strictEqual(renderParameters(text, { model: full }, { clipSkip: 3 }).clipSkip, 2);
      assert.strictEqual(renderParameters(text.replace(', Clip skip: 2', ''), { model: full }).clipSkip, 1);
    });

    it('through the render worker, only a clip skip above 1 has the outputs added: its text encoder reloads, the UNet and VAE are kept, and later renders reuse it', async () => {
      const host = new RenderHost(path.resolve(__dirname, '../../../server/src/render/worker.js'));
      const text = 'a cat\nSteps: 1, Sampler: Euler, CFG scale: 7, Seed: 5, Size: 64x64';
      const render = (clipSkip: number) => host.render({ promptText: text, model: full, device: 'cpu', overrides: { clipSkip }, idleReleaseMs: 10 * 60_000 });
      try {
        const plain = await render(1);
        const skipped = await render(2);
        const plainAgain = await render(1);
        assert.ok(plain.timings.load > 0);
        assert.deepStrictEqual([skipped.timings.load > 0, skipped.reused], [true, ['unet/model.onnx', 'vae_decoder/model.onnx']]);
        assert.deepStrictEqual([skipped.notes, /Clip skip: 2/.test(skipped.infotext)], [[], true]);
        assert.strictEqual(plainAgain.timings.load, 0, 'the text encoder with the outputs serves clip skip 1 too');
        assert.deepStrictEqual(Buffer.from(plainAgain.png), Buffer.from(plain.png));
        assert.notDeepStrictEqual(Buffer.from(skipped.png), Buffer.from(plain.png));
      } finally {
        await host.dispose();
      }
    });
  });
});
