/**
 * Hires. fix as the parameter line carries it, under the keys A1111 writes (processing.py
 * StableDiffusionProcessingTxt2Img.init / calculate_target_resolution) and reads back when
 * generation data is pasted (infotext_utils: "Hires resize: WxH" arrives as Hires resize-1/-2):
 * `Denoising strength`, `Hires upscale` or `Hires resize`, `Hires steps`, `Hires upscaler`,
 * `Hires sampler`, `Hires schedule type`, `Hires CFG Scale`, `Hires prompt`, `Hires negative prompt`.
 * A1111 turns the fix on when the data has Denoising strength and one of Hires upscale, Hires
 * upscaler or Hires resize (its paste handler for the enable_hr checkbox).
 */
import { pyFloat, pyInt } from '../../../service/semantics/pyNumbers';
import type { ParameterEntry } from '../../../service/syntax/sections';

export interface HiresFix {
  /** `Hires upscaler` as written; A1111's default ("Latent") when the line has none. */
  upscaler: string;
  /** Whether the line named the upscaler (A1111 writes it back only then). */
  upscalerWritten: boolean;
  /** `Hires upscale` (2 when the line has a resize instead, or nothing). */
  scale: number;
  /** `Hires resize` width and height (0: not set). */
  resizeX: number;
  resizeY: number;
  /** `Hires steps` (0: the first pass's step count). */
  steps: number;
  denoisingStrength: number;
  sampler?: string;
  scheduleType?: string;
  cfgScale?: number;
  prompt?: string;
  negativePrompt?: string;
}

/** A Hires. fix setting the render cannot use; the message names the key, its value and where it is. */
export class HiresParameterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HiresParameterError';
  }
}

/** A1111's latent downscale factor (opt_f). */
const OPT_F = 8;

/** Reads Hires. fix from a parameter line (`text` is the file, for line and column in errors); undefined when A1111 would leave it off. */
export function readHiresFix(text: string, entries: readonly ParameterEntry[]): HiresFix | undefined {
  const find = (key: string) => entries.filter((e) => e.key === key).pop(); // A1111 keeps the last of a repeated key
  const fail = (entry: ParameterEntry, why: string): never => {
    const before = text.slice(0, entry.valueSpan.start);
    const line = before.split('\n').length;
    const column = entry.valueSpan.start - before.lastIndexOf('\n');
    throw new HiresParameterError(`line ${line}, column ${column}: ${entry.key}: '${entry.value}' ${why}`);
  };
  // The parser hands values without surrounding whitespace (sections.ts); only a JSON string is unquoted.
  const unquote = (t: string): string => {
    try {
      const s: unknown = JSON.parse(t);
      return typeof s === 'string' ? s : t;
    } catch {
      return t;
    }
  };
  const number = (key: string, check: (n: number) => boolean, want: string): number | undefined => {
    const entry = find(key);
    if (!entry) return undefined;
    const n = pyFloat(unquote(entry.value));
    if (n === undefined || !Number.isFinite(n) || !check(n)) return fail(entry, want);
    return n;
  };
  const integer = (key: string, want: string): number | undefined => {
    const entry = find(key);
    if (!entry) return undefined;
    const n = pyInt(unquote(entry.value));
    if (n === undefined || n < 0) return fail(entry, want);
    return n;
  };
  const denoising = find('Denoising strength');
  const resize = find('Hires resize');
  const resize1 = find('Hires resize-1');
  const upscale = find('Hires upscale');
  const upscaler = find('Hires upscaler');
  if (!denoising || !(upscale || upscaler || resize || resize1)) return undefined;

  let resizeX = 0;
  let resizeY = 0;
  if (resize) {
    const m = /^(\d+)x(\d+)$/.exec(unquote(resize.value));
    if (!m) fail(resize, 'is not WIDTHxHEIGHT');
    resizeX = Number(m![1]);
    resizeY = Number(m![2]);
  } else {
    resizeX = integer('Hires resize-1', 'is not a whole number of pixels') ?? 0;
    resizeY = integer('Hires resize-2', 'is not a whole number of pixels') ?? 0;
  }
  const text2 = (key: string) => {
    const e = find(key);
    return e ? unquote(e.value) : undefined;
  };
  return {
    upscaler: upscaler ? unquote(upscaler.value) : 'Latent',
    upscalerWritten: !!upscaler,
    scale: number('Hires upscale', (n) => n > 0, 'must be a number above 0') ?? 2,
    resizeX,
    resizeY,
    steps: integer('Hires steps', 'is not a whole number of steps') ?? 0,
    denoisingStrength: number('Denoising strength', (n) => n > 0 && n <= 1, 'must be above 0 and at most 1')!,
    sampler: text2('Hires sampler'),
    scheduleType: text2('Hires schedule type'),
    cfgScale: number('Hires CFG Scale', (n) => n >= 0, 'must be a number of at least 0'),
    prompt: text2('Hires prompt'),
    negativePrompt: text2('Hires negative prompt'),
  };
}

export interface HiresTarget {
  /** A1111's hr_upscale_to_x / hr_upscale_to_y: the size the latent is upscaled to (before truncation). */
  upscaleToX: number;
  upscaleToY: number;
  /** Latent columns / rows cropped afterwards (a resize to another aspect ratio), A1111's truncate_x / truncate_y. */
  truncateX: number;
  truncateY: number;
  /** The second pass's latent size after the crop. */
  latentWidth: number;
  latentHeight: number;
}

/** `calculate_target_resolution` for a first pass of `width`×`height`. */
export function hiresTarget(width: number, height: number, fix: HiresFix): HiresTarget {
  let upscaleToX: number;
  let upscaleToY: number;
  let truncateX = 0;
  let truncateY = 0;
  const floorDiv = (a: number, b: number) => Math.floor(a / b);
  if (fix.resizeX === 0 && fix.resizeY === 0) {
    upscaleToX = Math.trunc(width * fix.scale);
    upscaleToY = Math.trunc(height * fix.scale);
  } else if (fix.resizeY === 0) {
    upscaleToX = fix.resizeX;
    upscaleToY = floorDiv(fix.resizeX * height, width);
  } else if (fix.resizeX === 0) {
    upscaleToX = floorDiv(fix.resizeY * width, height);
    upscaleToY = fix.resizeY;
  } else {
    if (width / height < fix.resizeX / fix.resizeY) {
      upscaleToX = fix.resizeX;
      upscaleToY = floorDiv(fix.resizeX * height, width);
    } else {
      upscaleToX = floorDiv(fix.resizeY * width, height);
      upscaleToY = fix.resizeY;
    }
    truncateX = floorDiv(upscaleToX - fix.resizeX, OPT_F);
    truncateY = floorDiv(upscaleToY - fix.resizeY, OPT_F);
  }
  const fullW = floorDiv(upscaleToX, OPT_F);
  const fullH = floorDiv(upscaleToY, OPT_F);
  // samples[:, :, ty//2 : H - (ty+1)//2, tx//2 : W - (tx+1)//2]
  const latentWidth = fullW - floorDiv(truncateX, 2) - floorDiv(truncateX + 1, 2);
  const latentHeight = fullH - floorDiv(truncateY, 2) - floorDiv(truncateY + 1, 2);
  return { upscaleToX, upscaleToY, truncateX, truncateY, latentWidth, latentHeight };
}

/** The latent rows/columns A1111 keeps after upscaling to `target` (its truncate slice), from a [c, fullH, fullW] tensor. */
export function cropLatent(x: Float32Array, channels: number, target: HiresTarget): Float32Array {
  const fullW = Math.floor(target.upscaleToX / OPT_F);
  const fullH = Math.floor(target.upscaleToY / OPT_F);
  const top = Math.floor(target.truncateY / 2);
  const left = Math.floor(target.truncateX / 2);
  const { latentWidth: w, latentHeight: h } = target;
  if (w === fullW && h === fullH) return x;
  const out = new Float32Array(channels * h * w);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < h; y++) {
      const from = c * fullH * fullW + (top + y) * fullW + left;
      out.set(x.subarray(from, from + w), c * h * w + y * w);
    }
  }
  return out;
}

/**
 * A1111's img2img step split for the second pass (sd_samplers_common.setup_img2img_steps, with the
 * steps passed in as sample_hr_pass does): a schedule of int(steps / min(denoise, 0.999)) steps of
 * which the last `steps` run, from sigmas[total − t_enc − 1] with t_enc = steps − 1.
 */
export function img2imgSteps(steps: number, denoisingStrength: number): { totalSteps: number; tEnc: number; startIndex: number } {
  const totalSteps = Math.trunc(steps / Math.min(denoisingStrength, 0.999));
  const tEnc = steps - 1;
  return { totalSteps, tEnc, startIndex: totalSteps - tEnc - 1 };
}
