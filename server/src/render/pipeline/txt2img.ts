import * as path from 'path';
import type { Tensor } from 'onnxruntime-node';
import { splitAnd } from '../../service/semantics/multicond';
import { parseAttention } from '../../service/semantics/attention';
import { parseSchedule, ScheduleParse, scheduleVariants } from '../../service/semantics/schedule';
import { parseExtraNetworks } from '../../service/semantics/extraNetworks';
import { MappedText } from '../../service/semantics/spans';
import { stripCommentsText } from '../../service/semantics/comments';
import type { PromptAnalysis } from '../../service/syntax/document';
import { chunkPrompt, weightedTexts } from '../../service/tokens/chunks';
import { loadTokenizer } from './tokenizerFiles';
import { GraphIo, ModelSessions } from '../model/sessions';
import { fromFloat16, toFloat16 } from '../onnx/half';
import { ModelFolder } from '../model/modelFolder';
import { applyEmphasis, chunkInput, combineGuidance, concat, CONTEXT_LENGTH, stackConds } from './conditioning';
import { createInfotext } from './infotext';
import { encodePng } from './png';
import { renderImageRng } from './rng/renderNoise';
import type { NoiseParameters } from './rng/noiseParameters';
import { noiseInfotextParameters } from './rng/noiseInfotext';
import { NoiseSchedule, createSampler, UnetCall } from './schedulers';
import { resolveSamplerName } from './samplerNames';
import { samplerInfotextParameters, SamplerSettings } from './samplers/samplerParameters';

/**
 * txt2img as A1111 runs it, on onnxruntime sessions: conditioning per AND part and prompt-editing
 * step (chunks of 75 with emphasis and mean restore, the negative prompt padded to the same
 * chunk count), classifier-free guidance with AND weights, a k-diffusion/DDIM sampler, the VAE
 * decoder, and a PNG carrying the infotext.
 */
export interface RenderParameters {
  prompt: string;
  negativePrompt: string;
  /**
   * The file's parse (renderParameters), whose parts are `prompt` and `negativePrompt`: when given, the
   * conditioning takes their comment-stripped, tag-free, AND-split and schedule-parsed texts from it
   * instead of parsing the prompts again. Callers with bare prompts leave it out.
   */
  parsed?: { positive: PromptAnalysis; negative?: PromptAnalysis };
  steps: number;
  sampler: string;
  scheduleType?: string;
  cfgScale: number;
  seed: number;
  /** RNG source, variation seed, seed resize and ENSD (A1111's GPU noise with none of them when absent). */
  noise?: NoiseParameters;
  /** Eta, Sigma noise/churn/tmin/tmax, Discard penultimate sigma, schedule overrides (A1111's defaults when absent). */
  sampling?: SamplerSettings;
  width: number;
  height: number;
  modelName: string;
}

export interface RenderProgress {
  step: number;
  steps: number;
  /** Every few steps: a cheap RGB preview of the latents (width/8 × height/8). */
  preview?: { width: number; height: number; rgb: Uint8Array };
}

export interface RenderOutcome {
  png: Buffer;
  /** The image's RGB bytes (what the PNG holds). */
  rgb: Uint8Array;
  infotext: string;
  timings: { encode: number; denoise: number; decode: number };
}

export class RenderCancelled extends Error {
  constructor() {
    super('render cancelled');
  }
}

/** SD1's VAE latent scale (SDXL 0.13025). */
const VAE_SCALE = { sd1: 0.18215, sd2: 0.18215, sdxl: 0.13025, unknown: 0.18215 } as const;
/** A1111's cheap latent → RGB approximation for SD1 (sd_vae_approx.cheap_approximation). */
const PREVIEW_COEFFICIENTS = [
  [0.298, 0.207, 0.208],
  [0.187, 0.286, 0.173],
  [-0.158, 0.189, 0.264],
  [-0.184, -0.271, -0.473],
];

export async function renderTxt2Img(
  ort: typeof import('onnxruntime-node'),
  folder: ModelFolder,
  sessions: ModelSessions,
  p: RenderParameters,
  options: { onProgress?: (p: RenderProgress) => void; signal?: AbortSignal; previewEvery?: number } = {},
): Promise<RenderOutcome> {
  const choice = resolveSamplerName(p.sampler, p.scheduleType);
  if (p.width % 8 || p.height % 8) throw new Error(`Size ${p.width}x${p.height} must be a multiple of 8 in both directions.`);
  const tokenizer = loadTokenizer(folder.tokenizer);
  const sdxl = folder.kind === 'sdxl' && !!sessions.textEncoder2;
  const tokenizer2 = sdxl ? loadTokenizer(folder.tokenizer2 ?? folder.tokenizer) : undefined;
  const checkCancel = () => {
    if (options.signal?.aborted) throw new RenderCancelled();
  };

  // ---- conditioning ----
  const t0 = Date.now();
  /**
   * One text's chunks as the UNet's context. SD1/SD2: the text encoder's last hidden state.
   * SDXL: both encoders' penultimate hidden states (each with its own emphasis), side by side,
   * and encoder 2's pooled output of the first chunk (A1111 returns `zs[0].pooled`).
   */
  const encodeCache = new Map<string, Conditioning>();
  const encodeText = async (text: string): Promise<Conditioning> => {
    const hit = encodeCache.get(text);
    if (hit) return hit;
    const segments = weightedTexts(parseAttention(text).segments);
    const chunks = chunkPrompt(segments, tokenizer).chunks;
    const out: Conditioning = { chunks: [] };
    for (const chunk of chunks) {
      const input = chunkInput(chunk, { bos: tokenizer.bosId, eos: tokenizer.eosId, pad: folder.kind === 'sd2' ? 0 : tokenizer.eosId });
      const first = await runTextEncoder(ort, sessions.textEncoder, input.ids, sdxl ? 'penultimate' : 'last');
      const context = applyEmphasis(first.values, input.multipliers, first.width);
      if (!sdxl) {
        out.chunks.push(context);
        continue;
      }
      // OpenCLIP (encoder 2) pads with 0 after the end token.
      const input2 = chunkInput(chunk, { bos: tokenizer2!.bosId, eos: tokenizer2!.eosId, pad: 0 });
      const second = await runTextEncoder(ort, sessions.textEncoder2!, input2.ids, 'penultimate');
      out.chunks.push(sideBySide(context, first.width, applyEmphasis(second.values, input2.multipliers, second.width), second.width));
      out.pooled ??= second.pooled;
    }
    encodeCache.set(text, out);
    return out;
  };
  const scheduleOf = async (text: string, parsed = parseSchedule(text)) => {
    const variants = scheduleVariants(text, { baseSteps: p.steps * choice.stepMultiplier }, parsed);
    const entries: { endAtStep: number; cond: Conditioning }[] = [];
    for (const v of variants) entries.push({ endAtStep: v.step, cond: await encodeText(v.text) });
    return entries;
  };
  const prompts = promptTexts(p);
  const condSchedules: { weight: number; schedule: { endAtStep: number; cond: Conditioning }[] }[] = [];
  for (const { text, weight, schedule } of prompts.subprompts) {
    condSchedules.push({ weight, schedule: await scheduleOf(text, schedule) });
    checkCancel();
  }
  const negative = prompts.negative;
  let uncondSchedule = await scheduleOf(negative);
  if (sdxl && negative === '') {
    // A1111 (sd_models_xl): an empty negative prompt on SDXL is all zeros, context and pooled.
    uncondSchedule = uncondSchedule.map((e) => ({
      endAtStep: e.endAtStep,
      cond: { chunks: e.cond.chunks.map((c) => new Float32Array(c.length)), pooled: e.cond.pooled && new Float32Array(e.cond.pooled.length) },
    }));
  }
  const encodeMs = Date.now() - t0;

  // ---- denoising ----
  const t1 = Date.now();
  const noise = NoiseSchedule.fromConfig(folder.schedulerConfig, path.join(folder.root, 'scheduler/scheduler_config.json'));
  const sampler = createSampler(choice.kind, p.steps, choice.schedule, noise, { ...p.sampling, sdxl: folder.kind === 'sdxl' });
  const h = p.height / 8;
  const w = p.width / 8;
  // A1111's per-image generators: the first draw is the initial latent, ancestral samplers take the later ones.
  const rng = renderImageRng(p);
  const randn = rng.fill;
  let x: Float32Array = rng.next();
  for (let i = 0; i < x.length; i++) x[i] *= sampler.initNoiseSigma;
  const at = (entries: { endAtStep: number; cond: Conditioning }[], step: number) =>
    (entries.find((e) => step <= e.endAtStep) ?? entries[entries.length - 1]).cond;
  // SDXL's size conditioning: original size, crop top-left, target size (A1111 uses the image size).
  const timeIds = Float32Array.of(p.height, p.width, 0, 0, p.height, p.width);
  // A1111 looks prompt schedules up with CFGDenoiser.step, which counts model calls (a second-order
  // sampler makes two per step; its schedules were built for twice the steps).
  let modelCalls = 0;
  const unet: UnetCall = async (input, timestep, cfgScaleMultiplier) => {
    const condsNow = condSchedules.map((c) => at(c.schedule, modelCalls));
    const uncondNow = at(uncondSchedule, modelCalls);
    modelCalls++;
    // AND parts stacked to one length; the negative prompt keeps its own (A1111's default, pad_cond_uncond off).
    const conds = stackConds(condsNow.map((c) => concat(c.chunks)), condsNow[0].chunks[0].length / CONTEXT_LENGTH);
    const uncond = concat(uncondNow.chunks);
    const extra = (c: Conditioning) => (sdxl ? { textEmbeds: c.pooled!, timeIds } : undefined);
    const outputs: { output: Float32Array; weight: number }[] = [];
    for (const [k, context] of conds.entries()) {
      const output = await runUnet(ort, sessions.unet, input, h, w, timestep, context, extra(condsNow[k]));
      outputs.push({ output, weight: condSchedules[k].weight });
    }
    const uncondOut = await runUnet(ort, sessions.unet, input, h, w, timestep, uncond, extra(uncondNow));
    return { guided: combineGuidance(uncondOut, outputs, p.cfgScale * cfgScaleMultiplier), uncond: uncondOut };
  };
  const every = options.previewEvery ?? 5;
  x = await sampler.sample(x, {
    unet,
    randn,
    seed: p.seed,
    beforeModelCall: checkCancel,
    onStep: ({ i, x: latent }) => {
      // DPM adaptive decides its step count as it goes: progress stops at the estimate.
      const step = Math.min(i + 1, sampler.steps);
      options.onProgress?.({ step, steps: sampler.steps, preview: step % every === 0 ? previewOf(latent, w, h) : undefined });
    },
  });
  const denoiseMs = Date.now() - t1;

  // ---- decoding ----
  checkCancel();
  const t2 = Date.now();
  const scale = VAE_SCALE[folder.kind];
  const latents = x.map((v) => v / scale);
  const image = await runVae(ort, sessions.vaeDecoder, latents, h, w);
  const rgb = new Uint8Array(p.width * p.height * 3);
  const plane = p.width * p.height;
  for (let c = 0; c < 3; c++) {
    // A1111 truncates (numpy astype(uint8)), it does not round.
    for (let k = 0; k < plane; k++) rgb[k * 3 + c] = Math.trunc(Math.min(1, Math.max(0, (image[c * plane + k] + 1) / 2)) * 255);
  }
  // A1111 writes the prompts after strip_comments (its Comments script replaces p.all_prompts and
  // p.main_prompt), so a comment never reaches the image's generation data; Copy as Generation Data agrees.
  const infotext = createInfotext({
    prompt: stripCommentsText(p.prompt),
    negativePrompt: stripCommentsText(p.negativePrompt),
    parameters: [
      ['Steps', p.steps],
      ['Sampler', choice.samplerLabel],
      // A1111 writes the schedule it resolved "Automatic" to ("Karras" for DPM++ 2M).
      ['Schedule type', sampler.info.scheduleLabel ?? choice.scheduleLabel],
      ['CFG scale', p.cfgScale],
      ['Seed', p.seed],
      ['Size', `${p.width}x${p.height}`],
      ['Model', p.modelName],
      // DDIM's eta is its own setting (Eta DDIM); the k-diffusion samplers share Eta.
      ...noiseInfotextParameters(p.noise, choice.samplerLabel, choice.samplerLabel === 'DDIM' ? p.sampling?.etaDdim : p.sampling?.eta),
      ...samplerInfotextParameters(choice.kind, p.sampling ?? {}, sampler),
      ['Version', 'sd-prompt'],
    ],
  });
  const png = encodePng(p.width, p.height, rgb, { parameters: infotext });
  return { png, rgb, infotext, timings: { encode: encodeMs, denoise: denoiseMs, decode: Date.now() - t2 } };
}


/**
 * The texts the conditioning encodes, in A1111's order: comments stripped, the positive prompt's
 * extra-network tags removed and split on AND (each part with its weight and prompt-editing parse), and
 * the negative prompt whole. From the file's parse when the parameters carry it, else parsed here.
 */
function promptTexts(p: RenderParameters): { subprompts: { text: string; weight: number; schedule: ScheduleParse }[]; negative: string } {
  if (p.parsed) {
    return {
      subprompts: p.parsed.positive.subprompts.map(({ sub, schedule }) => ({ text: sub.text, weight: sub.weight, schedule })),
      negative: p.parsed.negative?.stripped.text.text ?? '',
    };
  }
  const cleaned = parseExtraNetworks(MappedText.identity(stripCommentsText(p.prompt), 0)).prompt.text;
  return {
    subprompts: splitAnd(cleaned).subprompts.map((sub) => ({ text: sub.text, weight: sub.weight, schedule: parseSchedule(sub.text) })),
    negative: stripCommentsText(p.negativePrompt),
  };
}

/** A float tensor in the graph input's own dtype (fp16 graphs take float16). */
function floatTensor(ort: typeof import('onnxruntime-node'), type: Tensor.Type | undefined, data: Float32Array, dims: number[]): Tensor {
  return type === 'float16' ? new ort.Tensor('float16', toFloat16(data), dims) : new ort.Tensor('float32', data, dims);
}

function floatData(t: Tensor): Float32Array {
  return t.type === 'float16' ? fromFloat16(t.data as Uint16Array) : Float32Array.from(t.data as Float32Array);
}

interface Conditioning {
  /** Per chunk: 77 × context width. */
  chunks: Float32Array[];
  /** SDXL: encoder 2's pooled output (`text_embeds`). */
  pooled?: Float32Array;
}

/**
 * One chunk through a text encoder. `penultimate` takes `hidden_states.{N-1}` of an export
 * with hidden-state outputs (what SDXL conditions on); `last` takes `last_hidden_state`.
 */
async function runTextEncoder(
  ort: typeof import('onnxruntime-node'),
  io: GraphIo,
  ids: Int32Array,
  layer: 'last' | 'penultimate',
): Promise<{ values: Float32Array; width: number; pooled?: Float32Array }> {
  const type = io.inputs.get('input_ids')!.type;
  const tensor = type === 'int64' ? new ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [1, CONTEXT_LENGTH]) : new ort.Tensor('int32', ids, [1, CONTEXT_LENGTH]);
  const result = await io.session.run({ input_ids: tensor });
  let name = 'last_hidden_state';
  if (layer === 'penultimate') {
    const layers = io.outputs.map((n) => /^hidden_states\.(\d+)$/.exec(n)).filter((m): m is RegExpExecArray => !!m).map((m) => Number(m[1]));
    if (layers.length < 2) throw new Error('an SDXL text encoder must output its hidden states (hidden_states.N): export it with optimum, which adds them');
    name = `hidden_states.${Math.max(...layers) - 1}`;
  }
  const out = result[name] ?? result[io.outputs[0]];
  const pooled = result.text_embeds ?? result.pooler_output;
  return { values: floatData(out), width: out.dims[2], pooled: pooled && floatData(pooled) };
}

/** Two [tokens × a] and [tokens × b] matrices joined along the feature axis. */
function sideBySide(left: Float32Array, a: number, right: Float32Array, b: number): Float32Array {
  const tokens = left.length / a;
  const out = new Float32Array(tokens * (a + b));
  for (let t = 0; t < tokens; t++) {
    out.set(left.subarray(t * a, (t + 1) * a), t * (a + b));
    out.set(right.subarray(t * b, (t + 1) * b), t * (a + b) + a);
  }
  return out;
}

async function runUnet(
  ort: typeof import('onnxruntime-node'),
  io: GraphIo,
  sample: Float32Array,
  h: number,
  w: number,
  timestep: number,
  context: Float32Array,
  sdxl?: { textEmbeds: Float32Array; timeIds: Float32Array },
): Promise<Float32Array> {
  const ts = io.inputs.get('timestep')!;
  const tsDims = ts.shape.length === 0 ? [] : [1];
  const timestepTensor =
    ts.type === 'int64'
      ? new ort.Tensor('int64', BigInt64Array.of(BigInt(Math.round(timestep))), tsDims)
      : floatTensor(ort, ts.type, Float32Array.of(timestep), tsDims);
  const width = (io.inputs.get('encoder_hidden_states')!.shape[2] as number) || context.length / CONTEXT_LENGTH;
  const feeds: Record<string, Tensor> = {
    sample: floatTensor(ort, io.inputs.get('sample')!.type, sample, [1, 4, h, w]),
    timestep: timestepTensor,
    encoder_hidden_states: floatTensor(ort, io.inputs.get('encoder_hidden_states')!.type, context, [1, context.length / width, width]),
  };
  if (sdxl && io.inputs.has('text_embeds')) {
    feeds.text_embeds = floatTensor(ort, io.inputs.get('text_embeds')!.type, sdxl.textEmbeds, [1, sdxl.textEmbeds.length]);
    feeds.time_ids = floatTensor(ort, io.inputs.get('time_ids')!.type, sdxl.timeIds, [1, sdxl.timeIds.length]);
  }
  const result = await io.session.run(feeds);
  return floatData(result.out_sample ?? result[io.outputs[0]]);
}

async function runVae(ort: typeof import('onnxruntime-node'), io: GraphIo, latents: Float32Array, h: number, w: number): Promise<Float32Array> {
  const result = await io.session.run({ latent_sample: floatTensor(ort, io.inputs.get('latent_sample')!.type, latents, [1, 4, h, w]) });
  return floatData(result.sample ?? result[io.outputs[0]]);
}

function previewOf(x: Float32Array, w: number, h: number): { width: number; height: number; rgb: Uint8Array } {
  const plane = w * h;
  const rgb = new Uint8Array(plane * 3);
  for (let k = 0; k < plane; k++) {
    for (let c = 0; c < 3; c++) {
      let v = 0;
      for (let l = 0; l < 4; l++) v += x[l * plane + k] * PREVIEW_COEFFICIENTS[l][c];
      rgb[k * 3 + c] = Math.round(Math.min(1, Math.max(0, (v + 1) / 2)) * 255);
    }
  }
  return { width: w, height: h, rgb };
}
