import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { openModelFolder, ModelFolder } from '../../../server/src/render/model/modelFolder';
import { GraphIo, loadSessions, ModelSessions } from '../../../server/src/render/model/sessions';
import { clipSkipLayer, RenderParameters, renderTxt2Img } from '../../../server/src/render/pipeline/txt2img';
import { AYS_SD15, AYS_SDXL } from '../../../server/src/render/pipeline/samplers/schedules';
import { generateTinyPipeline, TINY_SD15, TINY_SD2, TINY_SDXL } from '../../../server/src/render/testModel/generateModel';
import { ModelBuilder } from '../../../server/src/render/onnx/onnxWriter';
import { FIXTURES } from '../fixtures';

/**
 * What txt2img feeds the UNet on SDXL, SD2 and SD1 (A1111's sd_models_xl, sd_hijack_clip and
 * sd_hijack_open_clip), read from the UNet's inputs and compared with the text encoders run here on
 * hand-written token ids: SDXL's context is CLIP-L's and OpenCLIP's penultimate hidden states
 * (`hidden_states[-2]`) side by side per token with OpenCLIP's pooled `text_embeds`; an empty negative
 * prompt is zeros; SD2 pads after the end token with 0 and SD1 with the end token; Align Your Steps
 * takes SDXL's own table. Then graphs that differ from optimum's in ways the pipeline must not care
 * about: outputs in another order or extra ones, a 0-d timestep.
 */

const BOS = 49406;
const EOS = 49407;
/** CLIP BPE ids (test/fixtures/clip/vocab.json): `a</w>` 320, `cat</w>` 2368, `dog</w>` 1929. */
const A_CAT = [320, 2368];
const A_DOG = [320, 1929];

function chunkIds(tokens: number[], pad: number): Int32Array {
  const ids = new Int32Array(77).fill(pad);
  ids[0] = BOS;
  ids.set(tokens, 1);
  ids[tokens.length + 1] = EOS;
  return ids;
}

async function encode(io: GraphIo, ids: Int32Array): Promise<Record<string, Float32Array>> {
  const result = await io.session.run({ input_ids: new ort.Tensor('int32', ids, [1, 77]) });
  const out: Record<string, Float32Array> = {};
  for (const [name, t] of Object.entries(result)) out[name] = t.data as Float32Array;
  return out;
}

/** Per token, `a` values of `left` then `b` values of `right` (torch.cat along the feature axis). */
function joinPerToken(left: Float32Array, a: number, right: Float32Array, b: number): Float32Array {
  const out: number[] = [];
  for (let t = 0; t < 77; t++) out.push(...left.subarray(t * a, (t + 1) * a), ...right.subarray(t * b, (t + 1) * b));
  return Float32Array.from(out);
}

type Feeds = Record<string, ort.Tensor>;

/** The same graph, with what each run was fed kept in `calls`. */
function recording(io: GraphIo, calls: Feeds[]): GraphIo {
  const session = {
    run: async (feeds: Feeds) => {
      calls.push(feeds);
      return io.session.run(feeds);
    },
  } as unknown as ort.InferenceSession;
  return { ...io, session };
}

/** Marks a generated folder's family as `sd-prompt convert` does (a tiny folder's 32-wide context names none). */
function markFamily(dir: string, family: 'sd1' | 'sd2'): void {
  const indexFile = path.join(dir, 'model_index.json');
  fs.writeFileSync(indexFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(indexFile, 'utf8')), _sd_prompt_family: family }));
}

function graphIo(session: ort.InferenceSession): GraphIo {
  const inputs: GraphIo['inputs'] = new Map();
  for (const m of session.inputMetadata) if (m.isTensor) inputs.set(m.name, { type: m.type, shape: m.shape });
  return { session, inputs, outputs: [...session.outputNames] };
}

/** k-diffusion's DiscreteSchedule.sigma_to_t over SD's scaled-linear betas (0.00085-0.012, 1000 steps). */
function sigmaToT(sigma: number): number {
  const logSigmas: number[] = [];
  let cumprod = 1;
  for (let i = 0; i < 1000; i++) {
    const beta = (Math.sqrt(0.00085) + (i / 999) * (Math.sqrt(0.012) - Math.sqrt(0.00085))) ** 2;
    cumprod *= 1 - beta;
    logSigmas.push(Math.log(Math.sqrt((1 - cumprod) / cumprod)));
  }
  const ls = Math.log(sigma);
  let low = 0;
  for (let i = 0; i < 1000; i++) if (ls - logSigmas[i] >= 0) low = i;
  low = Math.min(low, 998);
  const w = Math.min(Math.max((logSigmas[low] - ls) / (logSigmas[low] - logSigmas[low + 1]), 0), 1);
  return (1 - w) * low + w * (low + 1);
}

describe('txt2img conditioning on SDXL, SD2 and SD1: what the UNet is fed', function () {
  this.timeout(60000);
  let root = '';
  let xlFolder: ModelFolder;
  let xl: ModelSessions;
  let sd2Folder: ModelFolder;
  let sd2: ModelSessions;
  let sd1Folder: ModelFolder;
  let sd1: ModelSessions;
  // SDXL's first encoder at CLIP-L's real depth (12 layers: hidden_states.0 … .12, two-digit indices);
  // its second with one layer, whose penultimate hidden state is the embeddings (hidden_states.0).
  const XL_LAYERS = 12;
  const base: RenderParameters = {
    prompt: 'a cat',
    negativePrompt: 'a dog',
    steps: 1,
    sampler: 'Euler',
    cfgScale: 7,
    seed: 7,
    width: 64,
    height: 64,
    modelName: 'tiny',
  };

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-t2i-xl-'));
    const tokenizerFrom = path.join(FIXTURES, 'clip');
    generateTinyPipeline(path.join(root, 'xl'), { ...TINY_SDXL, layers: XL_LAYERS, layers2: 1, tokenizerFrom });
    generateTinyPipeline(path.join(root, 'sd2'), { ...TINY_SD2, tokenizerFrom });
    generateTinyPipeline(path.join(root, 'sd1'), { ...TINY_SD15, tokenizerFrom });
    markFamily(path.join(root, 'sd2'), 'sd2');
    markFamily(path.join(root, 'sd1'), 'sd1');
    xlFolder = openModelFolder(path.join(root, 'xl'));
    sd2Folder = openModelFolder(path.join(root, 'sd2'));
    sd1Folder = openModelFolder(path.join(root, 'sd1'));
    assert.deepStrictEqual([xlFolder.kind, sd2Folder.kind, sd1Folder.kind], ['sdxl', 'sd2', 'sd1']);
    xl = await loadSessions(xlFolder, 'cpu', ort);
    sd2 = await loadSessions(sd2Folder, 'cpu', ort);
    sd1 = await loadSessions(sd1Folder, 'cpu', ort);
  });
  after(async () => {
    await xl?.release();
    await sd2?.release();
    await sd1?.release();
    fs.rmSync(root, { recursive: true, force: true });
  });

  /** Renders with the UNet's feeds recorded: with Euler, each step runs the prompt, then the negative prompt. */
  async function unetFeeds(folder: ModelFolder, sessions: ModelSessions, p: Partial<RenderParameters> = {}): Promise<Feeds[]> {
    const calls: Feeds[] = [];
    await renderTxt2Img(ort, folder, { ...sessions, unet: recording(sessions.unet, calls) }, { ...base, ...p });
    return calls;
  }

  /** SDXL's conditioning of one short text, built here: each encoder's hidden_states[-2], side by side, and encoder 2's text_embeds. */
  async function sdxlConditioning(tokens: number[]): Promise<{ context: Float32Array; pooled: Float32Array }> {
    const first = await encode(xl.textEncoder, chunkIds(tokens, EOS));
    const second = await encode(xl.textEncoder2!, chunkIds(tokens, 0));
    // The test tells layers apart only if they differ.
    assert.notDeepStrictEqual(first[`hidden_states.${XL_LAYERS - 1}`], first.last_hidden_state);
    assert.notDeepStrictEqual(first[`hidden_states.${XL_LAYERS - 1}`], first[`hidden_states.${XL_LAYERS}`]);
    assert.notDeepStrictEqual(first[`hidden_states.${XL_LAYERS - 1}`], first['hidden_states.8']);
    assert.notDeepStrictEqual(second['hidden_states.0'], second.last_hidden_state);
    assert.notDeepStrictEqual(second['hidden_states.0'], second['hidden_states.1']);
    return {
      context: joinPerToken(first[`hidden_states.${XL_LAYERS - 1}`], TINY_SDXL.hiddenSize, second['hidden_states.0'], TINY_SDXL.hiddenSize2!),
      pooled: second.text_embeds,
    };
  }

  it("SDXL: the UNet's context is CLIP-L's and OpenCLIP's penultimate hidden states side by side per token (32 + 64 wide), with OpenCLIP's text_embeds and the size ids", async () => {
    const calls = await unetFeeds(xlFolder, xl);
    assert.strictEqual(calls.length, 2);
    const [cond, uncond] = calls;
    const prompt = await sdxlConditioning(A_CAT);
    const negative = await sdxlConditioning(A_DOG);
    assert.deepStrictEqual(cond.encoder_hidden_states.dims, [1, 77, 96]);
    assert.deepStrictEqual(cond.encoder_hidden_states.data, prompt.context);
    assert.deepStrictEqual(cond.text_embeds.data, prompt.pooled);
    assert.deepStrictEqual(Array.from(cond.time_ids.data as Float32Array), [64, 64, 0, 0, 64, 64]);
    // A negative prompt that is not empty is encoded as the prompt is (zeros only for an empty one).
    assert.deepStrictEqual(uncond.encoder_hidden_states.data, negative.context);
    assert.deepStrictEqual(uncond.text_embeds.data, negative.pooled);
  });

  it("SDXL: an empty negative prompt is all zeros, context and text_embeds, as A1111's sd_models_xl forces; the size ids stay", async () => {
    const [cond, uncond] = await unetFeeds(xlFolder, xl, { negativePrompt: '' });
    assert.deepStrictEqual(uncond.encoder_hidden_states.dims, [1, 77, 96]);
    assert.deepStrictEqual(uncond.encoder_hidden_states.data, new Float32Array(77 * 96));
    assert.deepStrictEqual(uncond.text_embeds.data, new Float32Array(64));
    assert.deepStrictEqual(Array.from(uncond.time_ids.data as Float32Array), [64, 64, 0, 0, 64, 64]);
    assert.deepStrictEqual(cond.encoder_hidden_states.data, (await sdxlConditioning(A_CAT)).context);
  });

  it("SDXL: a text encoder without hidden_states.N outputs is a clear error (sd-prompt's clip-skip outputs normed_hidden_states.N are not them)", async () => {
    // SD1's encoder as loadSessions gives it: last_hidden_state, pooler_output and normed_hidden_states.0-1.
    assert.deepStrictEqual(sd1.textEncoder.outputs.filter((o) => o.startsWith('normed_hidden_states.')).length, 2);
    assert.deepStrictEqual(sd1.textEncoder.outputs.filter((o) => o.startsWith('hidden_states.')), []);
    await assert.rejects(
      renderTxt2Img(ort, xlFolder, { ...xl, textEncoder: sd1.textEncoder }, base),
      (e: Error) => e.message === 'an SDXL text encoder must output its hidden states (hidden_states.N): export it with optimum, which adds them',
    );
  });

  it('a folder that says SDXL but has one text encoder conditions on its last hidden state, as SD1 does', async () => {
    const dir = path.join(root, 'xl-one-encoder');
    generateTinyPipeline(dir, { ...TINY_SD15, tokenizerFrom: path.join(FIXTURES, 'clip') });
    const indexFile = path.join(dir, 'model_index.json');
    fs.writeFileSync(indexFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(indexFile, 'utf8')), _class_name: 'StableDiffusionXLPipeline' }));
    const folder = openModelFolder(dir);
    assert.deepStrictEqual([folder.kind, folder.textEncoder2], ['sdxl', undefined]);
    const sessions = await loadSessions(folder, 'cpu', ort);
    try {
      const [cond, uncond] = await unetFeeds(folder, sessions, { negativePrompt: '' });
      assert.deepStrictEqual(cond.encoder_hidden_states.data, (await encode(sessions.textEncoder, chunkIds(A_CAT, EOS))).last_hidden_state);
      // Not SDXL's zeros: the empty negative prompt is encoded.
      assert.deepStrictEqual(uncond.encoder_hidden_states.data, (await encode(sessions.textEncoder, chunkIds([], EOS))).last_hidden_state);
    } finally {
      await sessions.release();
    }
  });

  it("SD2 pads after the end token with 0 (OpenCLIP's id_pad); SD1 with the end token", async () => {
    const [sd2Cond] = await unetFeeds(sd2Folder, sd2);
    const zeroPadded = await encode(sd2.textEncoder, chunkIds(A_CAT, 0));
    assert.deepStrictEqual(sd2Cond.encoder_hidden_states.data, zeroPadded.last_hidden_state);
    assert.notDeepStrictEqual(zeroPadded.last_hidden_state, (await encode(sd2.textEncoder, chunkIds(A_CAT, EOS))).last_hidden_state);
    const [sd1Cond] = await unetFeeds(sd1Folder, sd1);
    const endPadded = await encode(sd1.textEncoder, chunkIds(A_CAT, EOS));
    assert.deepStrictEqual(sd1Cond.encoder_hidden_states.data, endPadded.last_hidden_state);
    assert.notDeepStrictEqual(endPadded.last_hidden_state, (await encode(sd1.textEncoder, chunkIds(A_CAT, 0))).last_hidden_state);
  });

  it("Align Your Steps takes SDXL's table on SDXL and SD 1.5's elsewhere (A1111's get_align_your_steps_sigmas)", async () => {
    // 11 steps: the table itself (then 0); each step runs the prompt and the negative prompt at its sigma's timestep.
    const timesteps = async (folder: ModelFolder, sessions: ModelSessions) =>
      (await unetFeeds(folder, sessions, { steps: 11, scheduleType: 'Align Your Steps' })).filter((_, i) => i % 2 === 0).map((f) => (f.timestep.data as Float32Array)[0]);
    const expected = (table: readonly number[]) => table.map(sigmaToT);
    // The tables part after their first entry: 6.315 vs 6.475 is several timesteps apart.
    assert.ok(Math.abs(sigmaToT(AYS_SDXL[1]) - sigmaToT(AYS_SD15[1])) > 3);
    const close = (actual: number[], wanted: number[]) => {
      assert.strictEqual(actual.length, wanted.length);
      actual.forEach((t, i) => assert.ok(Math.abs(t - wanted[i]) < 0.01, `timestep ${i}: ${t} vs ${wanted[i]}`));
    };
    close(await timesteps(xlFolder, xl), expected([14.615, 6.315, 3.771, 2.181, 1.342, 0.862, 0.555, 0.38, 0.234, 0.113, 0.029]));
    close(await timesteps(sd1Folder, sd1), expected([14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.029]));
  });

  it('the text encoders are read by output name, whatever order an export lists its outputs in', async () => {
    const reversed = (io: GraphIo): GraphIo => ({ ...io, outputs: [...io.outputs].reverse() });
    // SD1 (last_hidden_state) with the clip-skip outputs listed first.
    const sd1Reversed = { ...sd1, textEncoder: reversed(sd1.textEncoder) };
    assert.notStrictEqual(sd1Reversed.textEncoder.outputs[0], 'last_hidden_state');
    const [sd1Cond] = await unetFeeds(sd1Folder, sd1Reversed);
    assert.deepStrictEqual(sd1Cond.encoder_hidden_states.data, (await encode(sd1.textEncoder, chunkIds(A_CAT, EOS))).last_hidden_state);
    // SDXL (hidden_states[-2]) with the last hidden states listed first.
    const [xlCond] = await unetFeeds(xlFolder, { ...xl, textEncoder: reversed(xl.textEncoder), textEncoder2: reversed(xl.textEncoder2!) });
    assert.deepStrictEqual(xlCond.encoder_hidden_states.data, (await sdxlConditioning(A_CAT)).context);
  });
});

describe('txt2img on graphs that differ from the usual export', function () {
  this.timeout(60000);
  let root = '';
  let folder: ModelFolder;
  let sessions: ModelSessions;
  const created: ort.InferenceSession[] = [];
  const p: RenderParameters = { prompt: 'a cat', negativePrompt: 'a dog', steps: 2, sampler: 'Euler', cfgScale: 7, seed: 3, width: 64, height: 64, modelName: 'tiny' };

  /**
   * A stand-in UNet: eps = 0.001·t·sample + mean(context), with its timestep input 0-d or 1-D as exports
   * differ, and optionally an extra output listed before `out_sample`. Like diffusers' UNet exported with a
   * 0-d timestep (`timesteps[None]`), the 0-d form unsqueezes it first, so a timestep of the other rank
   * fails there (onnxruntime itself accepts a [1] tensor for a 0-d input).
   */
  async function miniUnet(timestepRank: 0 | 1, extraOutputFirst: boolean): Promise<GraphIo> {
    const model = new ModelBuilder(17);
    const g = model.graph;
    g.input('sample', 'float32', [1, 4, 'height', 'width']);
    g.input('timestep', 'float32', timestepRank === 0 ? [] : ['steps']);
    g.input('encoder_hidden_states', 'float32', [1, 77, TINY_SD15.hiddenSize]);
    g.initializer('scale', Float32Array.of(0.001), []);
    g.initializer('one', Float32Array.of(1), [1]);
    g.initializer('axis0', BigInt64Array.of(0n), [1]);
    if (timestepRank === 0) g.node('Unsqueeze', ['timestep', 'axis0'], ['t1']);
    else g.node('Identity', ['timestep'], ['t1']);
    // [t, 1] → t: a Concat needs t1 to be 1-D.
    g.node('Concat', ['t1', 'one'], ['t_and_one'], { axis: 0 });
    g.node('ReduceProd', ['t_and_one'], ['t']);
    g.node('Mul', ['sample', 't'], ['st']);
    g.node('Mul', ['st', 'scale'], ['scaled']);
    g.node('ReduceMean', ['encoder_hidden_states'], ['context_mean'], {});
    if (extraOutputFirst) {
      g.node('Neg', ['sample'], ['negated']);
      g.output('negated', 'float32', [1, 4, 'height', 'width']);
    }
    g.node('Add', ['scaled', 'context_mean'], ['out_sample']);
    g.output('out_sample', 'float32', [1, 4, 'height', 'width']);
    const session = await ort.InferenceSession.create(model.serialize().model);
    created.push(session);
    return graphIo(session);
  }

  /** A stand-in VAE decoder (nearest ×8 of the first three latent channels), optionally with an extra output listed before `sample`. */
  async function miniVae(extraOutputFirst: boolean): Promise<GraphIo> {
    const model = new ModelBuilder(17);
    const g = model.graph;
    g.input('latent_sample', 'float32', [1, 4, 'height', 'width']);
    g.initializer('roi', new Float32Array(0), [0]);
    g.initializer('scales', Float32Array.of(1, 1, 8, 8), [4]);
    g.initializer('starts', BigInt64Array.of(0n), [1]);
    g.initializer('ends', BigInt64Array.of(3n), [1]);
    g.initializer('axes', BigInt64Array.of(1n), [1]);
    if (extraOutputFirst) {
      g.node('Identity', ['latent_sample'], ['latent_copy']);
      g.output('latent_copy', 'float32', [1, 4, 'height', 'width']);
    }
    g.node('Resize', ['latent_sample', 'roi', 'scales'], ['upscaled'], {});
    g.node('Slice', ['upscaled', 'starts', 'ends', 'axes'], ['sample']);
    g.output('sample', 'float32', [1, 3, 'image_height', 'image_width']);
    const session = await ort.InferenceSession.create(model.serialize().model);
    created.push(session);
    return graphIo(session);
  }

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-t2i-graphs-'));
    generateTinyPipeline(root, { ...TINY_SD15, tokenizerFrom: path.join(FIXTURES, 'clip') });
    folder = openModelFolder(root);
    sessions = await loadSessions(folder, 'cpu', ort);
  });
  after(async () => {
    await sessions?.release();
    await Promise.all(created.map((s) => s.release()));
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('a UNet whose timestep input is 0-d renders the image the same UNet with a 1-D timestep renders', async () => {
    const oneD = await miniUnet(1, false);
    const zeroD = await miniUnet(0, false);
    assert.deepStrictEqual([oneD.inputs.get('timestep')!.shape, zeroD.inputs.get('timestep')!.shape], [['steps'], []]);
    const withOneD = await renderTxt2Img(ort, folder, { ...sessions, unet: oneD }, p);
    const withZeroD = await renderTxt2Img(ort, folder, { ...sessions, unet: zeroD }, p);
    assert.deepStrictEqual(withZeroD.rgb, withOneD.rgb);
  });

  it('a UNet and a VAE decoder with an extra output listed first: the render reads out_sample and sample by name', async () => {
    const plain = await renderTxt2Img(ort, folder, { ...sessions, unet: await miniUnet(1, false), vaeDecoder: await miniVae(false) }, p);
    const unetExtra = await miniUnet(1, true);
    const vaeExtra = await miniVae(true);
    assert.deepStrictEqual([unetExtra.outputs, vaeExtra.outputs], [['negated', 'out_sample'], ['latent_copy', 'sample']]);
    const extras = await renderTxt2Img(ort, folder, { ...sessions, unet: unetExtra, vaeDecoder: vaeExtra }, p);
    assert.deepStrictEqual(extras.rgb, plain.rgb);
    // The stand-ins make an image of their own (not a constant one the outputs could not change).
    assert.ok(new Set(plain.rgb).size > 10);
  });
});

describe('clip skip on an SD1 text encoder with no hidden-state outputs', () => {
  it('renders with clip skip 1 and says why, with the reason loadSessions gave or, without one, that the graph has none', () => {
    const io = { textEncoder: { outputs: ['last_hidden_state', 'pooler_output'], inputs: new Map(), session: undefined as never } };
    assert.deepStrictEqual(clipSkipLayer('sd1', io, 2), {
      layer: 'last',
      written: 1,
      note: 'Clip skip 2 not applied (rendered with clip skip 1): its text encoder graph has no hidden-state outputs.',
    });
  });
});
