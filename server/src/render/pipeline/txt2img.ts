import * as path from 'path';
import type { Tensor } from 'onnxruntime-node';
import { splitAnd } from '../../service/semantics/multicond';
import { parseAttention } from '../../service/semantics/attention';
import { parseSchedule, ScheduleOptions, ScheduleParse, scheduleVariants } from '../../service/semantics/schedule';
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
import { samplerDefinition } from './samplers/registry';
import { cropLatent, HiresFix, hiresTarget, img2imgSteps } from './hires/hiresParameters';
import { interpolate, LATENT_UPSCALE_MODES } from './hires/latentUpscale';
import { toRgb8 } from './rgb8';
import { NORMED_HIDDEN_STATES, normedHiddenStateCount } from '../model/clipSkipOutputs';

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
  /** A1111's short hash of a checkpoint file (`Model hash:`); absent for a diffusers folder, which has none. */
  modelHash?: string;
  /** Hires. fix from the parameter line (`Denoising strength` with `Hires upscale` / `Hires upscaler` / `Hires resize`). */
  hires?: HiresFix;
  /** `NGMS` (A1111's s_min_uncond) and `NGMS all steps`: skip the negative prompt below this noise level. */
  ngms?: { sMinUncond: number; allSteps: boolean };
  /** sd-dynamic-prompts' `Template:` / `Negative Template:` (the prompts are a variant of them): written after the infotext. */
  templates?: { prompt: string; negativePrompt: string };
  /** `Clip skip` (A1111's CLIP_stop_at_last_layers): SD1 conditions on an earlier CLIP layer. 1 (the last layer) when absent. */
  clipSkip?: number;
  /** The VAE file that decodes (a checkpoint's separate VAE): its infotext writes `VAE hash:` and `VAE:`. */
  vae?: { name: string; hash?: string };
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
  /** The PNG's size: the parameters' Size, or Hires. fix's target when its second pass ran. */
  width: number;
  height: number;
  infotext: string;
  /** What the render did differently from A1111 and why (a Hires. fix it could not run): shown in the panel and the JSON summary. */
  notes: string[];
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
  const clip = clipSkipLayer(folder.kind, sessions, p.clipSkip ?? 1);
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
      const first = await runTextEncoder(ort, sessions.textEncoder, input.ids, sdxl ? 'penultimate' : clip.layer);
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
  // A1111 builds the first pass's schedules over its sampler's total steps (firstpass_steps).
  const firstPassSteps: ScheduleOptions = { baseSteps: p.steps * choice.stepMultiplier };
  const scheduleOf = async (text: string, parsed = parseSchedule(text), steps = firstPassSteps) => {
    const variants = scheduleVariants(text, steps, parsed);
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
  const uncondScheduleOf = async (negative: string, steps?: ScheduleOptions) => {
    const schedule = await scheduleOf(negative, undefined, steps);
    if (!(sdxl && negative === '')) return schedule;
    // A1111 (sd_models_xl): an empty negative prompt on SDXL is all zeros, context and pooled.
    return schedule.map((e) => ({
      endAtStep: e.endAtStep,
      cond: { chunks: e.cond.chunks.map((c) => new Float32Array(c.length)), pooled: e.cond.pooled && new Float32Array(e.cond.pooled.length) },
    }));
  };
  const uncondSchedule = await uncondScheduleOf(prompts.negative);
  const encodeMs = Date.now() - t0;

  // ---- denoising ----
  const t1 = Date.now();
  const noise = NoiseSchedule.fromConfig(folder.schedulerConfig, path.join(folder.root, 'scheduler/scheduler_config.json'));
  const sampler = createSampler(choice.kind, p.steps, choice.schedule, noise, { ...p.sampling, sdxl: folder.kind === 'sdxl' });
  const h = p.height / 8;
  const w = p.width / 8;
  // A1111's per-image generators: the first draw is the initial latent, ancestral samplers take the later ones.
  const rng = renderImageRng(p);
  let x: Float32Array = rng.next();
  for (let i = 0; i < x.length; i++) x[i] *= sampler.initNoiseSigma;
  // reconstruct_cond_batch: the first entry the step has not passed, and past the last one (DPM adaptive's
  // extra model calls) the first entry again, as A1111's target_index stays 0.
  const at = (entries: { endAtStep: number; cond: Conditioning }[], step: number) =>
    (entries.find((e) => step <= e.endAtStep) ?? entries[0]).cond;
  // A1111 also asks for s_min_uncond > 0, which never decides here: no sigma the model is given is under 0.
  const ngms = p.ngms;
  let ngmsApplied = false;
  /**
   * One pass's guided UNet (A1111's CFGDenoiser): prompt schedules looked up with its `step`, which
   * counts model calls (a second-order sampler makes two per step; its schedules were built for twice
   * the steps) and starts at 0 for each pass, as each pass makes its own sampler.
   */
  const guidedUnet = (pass: PassConditioning): UnetCall => {
    let modelCalls = 0;
    return async (input, timestep, cfgScaleMultiplier, sigma) => {
      const condsNow = pass.conds.map((c) => at(c.schedule, modelCalls));
      const uncondNow = at(pass.uncond, modelCalls);
      // NGMS (s_min_uncond): below that noise level, every other call (every call with "NGMS all
      // steps") skips the negative prompt; the first AND part's output stands in for it, at CFG scale 1.
      const skipUncond = !!ngms && (modelCalls % 2 === 1 || ngms.allSteps) && sigma < ngms.sMinUncond;
      modelCalls++;
      // AND parts stacked to one length; the negative prompt keeps its own (A1111's default, pad_cond_uncond off).
      // Every chunk is 77 tokens × the encoders' width; the UNet's declared input shape may not say it
      // (a symbolic or absent feature dimension), so the width comes from the conditioning itself.
      const width = condsNow[0].chunks[0].length / CONTEXT_LENGTH;
      const conds = stackConds(condsNow.map((c) => concat(c.chunks)), width);
      const extra = (c: Conditioning) => (sdxl ? { textEmbeds: c.pooled!, timeIds: pass.timeIds } : undefined);
      const outputs: { output: Float32Array; weight: number }[] = [];
      for (const [k, context] of conds.entries()) {
        const output = await runUnet(ort, sessions.unet, input, pass.h, pass.w, timestep, context, width, extra(condsNow[k]));
        outputs.push({ output, weight: pass.conds[k].weight });
      }
      if (skipUncond) {
        ngmsApplied = true;
        return { guided: combineGuidance(outputs[0].output, outputs, 1), uncond: outputs[0].output };
      }
      const uncondOut = await runUnet(ort, sessions.unet, input, pass.h, pass.w, timestep, concat(uncondNow.chunks), width, extra(uncondNow));
      return { guided: combineGuidance(uncondOut, outputs, pass.cfgScale * cfgScaleMultiplier), uncond: uncondOut };
    };
  };
  // What A1111 would do with the file's Hires. fix, decided before sampling so progress counts both passes.
  const notes: string[] = clip.note ? [clip.note] : [];
  const hiresRun = p.hires ? planHires(p, p.hires, notes) : undefined;
  const hiresSteps = hiresRun ? hiresRun.steps : 0;
  const every = options.previewEvery ?? 5;
  const progress = (done: number, latent: Float32Array, lw: number, lh: number) => {
    const total = sampler.steps + hiresSteps;
    options.onProgress?.({ step: done, steps: total, preview: done % every === 0 ? previewOf(latent, lw, lh) : undefined });
  };
  x = await sampler.sample(x, {
    unet: guidedUnet({
      conds: condSchedules,
      uncond: uncondSchedule,
      cfgScale: p.cfgScale,
      // SDXL's size conditioning: original size, crop top-left, target size (A1111 uses the image size).
      timeIds: Float32Array.of(p.height, p.width, 0, 0, p.height, p.width),
      h,
      w,
    }),
    randn: rng.fill,
    seed: p.seed,
    beforeModelCall: checkCancel,
    // DPM adaptive decides its step count as it goes: progress stops at the estimate.
    onStep: ({ i, x: latent }) => progress(Math.min(i + 1, sampler.steps), latent, w, h),
  });
  let outW = w;
  let outH = h;
  let hiresSampler: ReturnType<typeof createSampler> | undefined;
  if (hiresRun) {
    // sample_hr_pass: upscale the latent, crop a resize's overhang, fresh generators at the new
    // size (their first draw is the img2img noise), the second pass's own sampler and conditioning.
    const target = hiresRun.target;
    const full = interpolate(x, 4, h, w, Math.floor(target.upscaleToY / 8), Math.floor(target.upscaleToX / 8), hiresRun.mode);
    const latent = cropLatent(full, 4, target);
    outW = target.latentWidth;
    outH = target.latentHeight;
    const hiresRng = renderImageRng({ seed: p.seed, width: outW * 8, height: outH * 8, noise: p.noise });
    const split = img2imgSteps(hiresRun.steps, p.hires!.denoisingStrength);
    hiresSampler = createSampler(hiresRun.choice.kind, split.totalSteps, hiresRun.choice.schedule, noise, {
      ...p.sampling,
      sdxl: folder.kind === 'sdxl',
      img2imgStart: split.startIndex,
    });
    // calculate_hr_conds: schedules over the hires sampler's total steps, with the first pass's as the
    // offset (an integer [a:b:N] switches at N − first-pass steps, a fraction f at (f − 1) × hires steps).
    const hiresScheduleSteps: ScheduleOptions = { ...firstPassSteps, hiresSteps: hiresRun.steps * hiresRun.choice.stepMultiplier };
    const hiresPrompts = p.hires!.prompt !== undefined || p.hires!.negativePrompt !== undefined
      ? promptTexts({ prompt: p.hires!.prompt ?? p.prompt, negativePrompt: p.hires!.negativePrompt ?? p.negativePrompt })
      : prompts;
    const hiresConds: PassConditioning['conds'] = [];
    for (const { text, weight, schedule } of hiresPrompts.subprompts) hiresConds.push({ weight, schedule: await scheduleOf(text, schedule, hiresScheduleSteps) });
    const hiresUncond = await uncondScheduleOf(hiresPrompts.negative, hiresScheduleSteps);
    const sigma0 = hiresSampler.sigmas[0];
    const start = hiresRng.next();
    for (let i = 0; i < start.length; i++) start[i] = latent[i] + start[i] * sigma0;
    const first = sampler.steps;
    const hs = hiresSampler;
    x = await hs.sample(start, {
      unet: guidedUnet({
        conds: hiresConds,
        uncond: hiresUncond,
        cfgScale: p.hires!.cfgScale ?? p.cfgScale,
        // A1111 conditions the second pass with the upscaled size (SdConditioning width/height).
        timeIds: Float32Array.of(target.upscaleToY, target.upscaleToX, 0, 0, target.upscaleToY, target.upscaleToX),
        h: outH,
        w: outW,
      }),
      randn: hiresRng.fill,
      seed: p.seed,
      beforeModelCall: checkCancel,
      onStep: ({ i, x: l }) => progress(first + Math.min(i + 1, hs.steps), l, outW, outH),
    });
  }
  const denoiseMs = Date.now() - t1;

  // ---- decoding ----
  checkCancel();
  const t2 = Date.now();
  const scale = VAE_SCALE[folder.kind];
  const latents = x.map((v) => v / scale);
  const image = await runVae(ort, sessions.vaeDecoder, latents, outH, outW);
  const width = outW * 8;
  const height = outH * 8;
  const rgb = toRgb8(image, width, height);
  // A1111 writes the prompts after strip_comments (its Comments script replaces p.all_prompts and
  // p.main_prompt), so a comment never reaches the image's generation data; Copy as Generation Data agrees.
  const etaWritten = choice.samplerLabel === 'DDIM' ? p.sampling?.etaDdim : p.sampling?.eta;
  const noisePairs = noiseInfotextParameters(p.noise, choice.samplerLabel, etaWritten);
  // create_infotext: Denoising strength sits after Seed resize from, before ENSD and RNG.
  const ensdAt = noisePairs.findIndex(([k]) => k === 'ENSD');
  // ... and Clip skip after it (A1111 writes it for every family when over 1, as the image was made with that setting).
  // (The noise pairs list every key, ENSD included, or none at all when the render has no noise parameters.)
  noisePairs.splice(Math.max(ensdAt, 0), 0, ['Denoising strength', p.hires?.denoisingStrength], ['Clip skip', clip.written > 1 ? clip.written : undefined]);
  const firstPassSettings = samplerInfotextParameters(choice.kind, p.sampling ?? {}, sampler);
  const written = new Set(firstPassSettings.filter(([, v]) => v !== undefined).map(([k]) => k));
  const hiresOnlySettings = hiresRun && hiresSampler
    ? samplerInfotextParameters(hiresRun.choice.kind, p.sampling ?? {}, hiresSampler).filter(([k, v]) => v !== undefined && !written.has(k))
    : [];
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
      ['Model hash', p.modelHash],
      ['Model', p.modelName],
      ['VAE hash', p.vae?.hash],
      ['VAE', p.vae?.name],
      // DDIM's eta is its own setting (Eta DDIM); the k-diffusion samplers share Eta.
      ...noisePairs,
      ...(p.hires ? hiresInfotextParameters(p, p.hires, choice.samplerLabel, sampler.info.scheduleLabel, hiresSampler?.info.scheduleLabel) : []),
      ...firstPassSettings,
      // CFGDenoiser adds NGMS when it skipped the negative prompt at least once.
      ['NGMS', ngmsApplied ? ngms!.sMinUncond : undefined],
      ['NGMS all steps', ngmsApplied && ngms!.allSteps ? 'True' : undefined],
      // The Hires. fix sampler's get_sigmas and initialize run after the first pass, into the same
      // extra_generation_params: the settings only it takes (Sigma noise for DPM++ SDE after Euler a) follow.
      ...hiresOnlySettings,
      ['Version', 'sd-prompt'],
    ],
    templates: p.templates,
  });
  const png = encodePng(width, height, rgb, { parameters: infotext });
  return { png, rgb, width, height, infotext, notes, timings: { encode: encodeMs, denoise: denoiseMs, decode: Date.now() - t2 } };
}

/** One sampling pass's conditioning and latent size, for the guided UNet. */
interface PassConditioning {
  conds: { weight: number; schedule: { endAtStep: number; cond: Conditioning }[] }[];
  uncond: { endAtStep: number; cond: Conditioning }[];
  cfgScale: number;
  timeIds: Float32Array;
  h: number;
  w: number;
}

/**
 * The second pass A1111 would run for the file's Hires. fix, or undefined with a note saying why the
 * render is the first pass only: an upscaler that is not a latent one (ESRGAN, SwinIR, LDSR, None:
 * they need models or a PIL resize and a VAE encode), or a second-pass sampler without an img2img
 * path here (DDIM, PLMS, UniPC).
 */
function planHires(p: RenderParameters, fix: HiresFix, notes: string[]) {
  const mode = LATENT_UPSCALE_MODES.get(fix.upscaler);
  const target = hiresTarget(p.width, p.height, fix);
  const size = `${target.latentWidth * 8}x${target.latentHeight * 8}`;
  if (!mode) {
    notes.push(`Hires. fix skipped: the upscaler '${fix.upscaler}' is not one of A1111's latent upscalers (${[...LATENT_UPSCALE_MODES.keys()].join(', ')}); this is the first pass only, at ${p.width}x${p.height} instead of ${size}.`);
    return undefined;
  }
  const choice = resolveSamplerName(fix.sampler ?? p.sampler, fix.scheduleType ?? p.scheduleType);
  if (samplerDefinition(choice.kind).family === 'timesteps') {
    notes.push(`Hires. fix skipped: its second pass with ${choice.samplerLabel} (an img2img pass of A1111's timestep samplers) is not implemented; this is the first pass only, at ${p.width}x${p.height} instead of ${size}.`);
    return undefined;
  }
  if (target.latentWidth < 1 || target.latentHeight < 1) {
    notes.push(`Hires. fix skipped: its target size ${target.upscaleToX}x${target.upscaleToY} is under 8 pixels; this is the first pass only.`);
    return undefined;
  }
  return { mode, target, choice, steps: fix.steps || p.steps };
}

/**
 * The Hires. fix keys A1111 adds to extra_generation_params, in its order: StableDiffusionProcessingTxt2Img.init
 * (Hires sampler when it differs, Hires prompt / negative prompt when they differ, Hires schedule type),
 * calculate_target_resolution (Hires upscale or Hires resize), then Hires steps (when set) and Hires
 * upscaler; Hires CFG Scale (Forge's key) when the file set one. Hires schedule type is what the second
 * pass's get_sigmas writes: its schedule when one ran and differs from the first pass's.
 */
function hiresInfotextParameters(
  p: RenderParameters,
  fix: HiresFix,
  samplerLabel: string,
  firstSchedule: string | undefined,
  hiresSchedule: string | undefined,
): [key: string, value: string | number | undefined][] {
  const hiresSampler = fix.sampler === undefined ? undefined : resolveSamplerName(fix.sampler, fix.scheduleType).samplerLabel;
  const differs = (a: string | undefined, b: string) => (a !== undefined && a !== b ? a : undefined);
  return [
    ['Hires sampler', hiresSampler !== samplerLabel ? hiresSampler : undefined],
    ['Hires prompt', differs(fix.prompt, stripCommentsText(p.prompt))],
    ['Hires negative prompt', differs(fix.negativePrompt, stripCommentsText(p.negativePrompt))],
    ['Hires schedule type', hiresSchedule !== undefined && hiresSchedule !== firstSchedule ? hiresSchedule : undefined],
    fix.resizeX === 0 && fix.resizeY === 0 ? ['Hires upscale', fix.scale] : ['Hires resize', `${fix.resizeX}x${fix.resizeY}`],
    ['Hires steps', fix.steps || undefined],
    ['Hires upscaler', fix.upscalerWritten ? fix.upscaler : undefined],
    ['Hires CFG Scale', fix.cfgScale],
  ];
}


/**
 * The texts the conditioning encodes, in A1111's order: comments stripped, the positive prompt's
 * extra-network tags removed and split on AND (each part with its weight and prompt-editing parse), and
 * the negative prompt whole. From the file's parse when the parameters carry it, else parsed here.
 */
function promptTexts(p: Pick<RenderParameters, 'prompt' | 'negativePrompt' | 'parsed'>): { subprompts: { text: string; weight: number; schedule: ScheduleParse }[]; negative: string } {
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
 * The output SD1's conditioning reads for a clip skip, as A1111's encode_with_transformers: 1 (or less) is
 * `last_hidden_state`; N > 1 is `final_layer_norm(hidden_states[-N])`, the graph's `normed_hidden_states.<layers + 1 - N>`.
 * SD2 (OpenCLIP's fixed penultimate layer) and SDXL (A1111's "Clip skip SDXL" option, off by default) ignore it.
 * `written` is what the infotext says: the setting, except where this render could not apply it (then a note says why).
 */
export function clipSkipLayer(
  kind: ModelFolder['kind'],
  sessions: Pick<ModelSessions, 'textEncoder' | 'clipSkipUnavailable'>,
  clipSkip: number,
): { layer: 'last' | string; written: number; note?: string } {
  if (clipSkip <= 1 || kind === 'sd2' || kind === 'sdxl') return { layer: 'last', written: clipSkip };
  const layers = normedHiddenStateCount(sessions.textEncoder.outputs);
  if (layers === 0) {
    const why = sessions.clipSkipUnavailable ?? 'its text encoder graph has no hidden-state outputs';
    return { layer: 'last', written: 1, note: `Clip skip ${clipSkip} not applied (rendered with clip skip 1): ${why}.` };
  }
  if (clipSkip > layers + 1) {
    throw new Error(`Clip skip: ${clipSkip} skips more layers than this text encoder has (${layers}); use at most ${layers + 1}.`);
  }
  return { layer: `${NORMED_HIDDEN_STATES}${layers + 1 - clipSkip}`, written: clipSkip };
}

/**
 * One chunk through a text encoder. `penultimate` takes `hidden_states.{N-1}` of an export
 * with hidden-state outputs (what SDXL conditions on); `last` takes `last_hidden_state`; any
 * other name is that output (clip skip's).
 */
async function runTextEncoder(
  ort: typeof import('onnxruntime-node'),
  io: GraphIo,
  ids: Int32Array,
  layer: 'last' | 'penultimate' | string,
): Promise<{ values: Float32Array; width: number; pooled?: Float32Array }> {
  const type = io.inputs.get('input_ids')!.type;
  const tensor = type === 'int64' ? new ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [1, CONTEXT_LENGTH]) : new ort.Tensor('int32', ids, [1, CONTEXT_LENGTH]);
  const result = await io.session.run({ input_ids: tensor });
  let name = layer === 'last' ? 'last_hidden_state' : layer;
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
  width: number,
  sdxl?: { textEmbeds: Float32Array; timeIds: Float32Array },
): Promise<Float32Array> {
  const ts = io.inputs.get('timestep')!;
  const tsDims = ts.shape.length === 0 ? [] : [1];
  const timestepTensor =
    ts.type === 'int64'
      ? new ort.Tensor('int64', BigInt64Array.of(BigInt(Math.round(timestep))), tsDims)
      : floatTensor(ort, ts.type, Float32Array.of(timestep), tsDims);
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
  // loadSessions refused a UNet without `out_sample` and a VAE decoder without `sample`.
  return floatData(result.out_sample);
}

async function runVae(ort: typeof import('onnxruntime-node'), io: GraphIo, latents: Float32Array, h: number, w: number): Promise<Float32Array> {
  const result = await io.session.run({ latent_sample: floatTensor(ort, io.inputs.get('latent_sample')!.type, latents, [1, 4, h, w]) });
  return floatData(result.sample);
}

function previewOf(x: Float32Array, w: number, h: number): { width: number; height: number; rgb: Uint8Array } {
  const plane = w * h;
  const rgb = new Uint8Array(plane * 3);
  for (let k = 0; k < plane; k++) {
    for (let c = 0; c < 3; c++) {
      let v = 0;
      for (let l = 0; l < 4; l++) v += x[l * plane + k] * PREVIEW_COEFFICIENTS[l][c];
      // single_sample_to_image: clamp((x + 1) / 2, 0, 1) × 255, truncated to uint8 as numpy's astype does.
      rgb[k * 3 + c] = Math.floor(Math.min(1, Math.max(0, (v + 1) / 2)) * 255);
    }
  }
  return { width: w, height: h, rgb };
}
