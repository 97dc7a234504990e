import { renderParameters } from '../render/parameters';
import { RNG_SOURCES, RngSource } from '../render/pipeline/rng/noiseGenerator';
import { NoiseParameterError, readBatchImages } from '../render/pipeline/rng/noiseParameters';
import { renderImageRng } from '../render/pipeline/rng/renderNoise';
import { parsePromptDocument } from '../service/syntax/document';
import { InputError } from './boundedRead';
import { UsageError } from './usage';

/**
 * `sd-prompt noise FILE [--draws N] [--rng GPU|CPU|NV] [--json]`: the noise a render of the file
 * starts from and the draws its ancestral sampler adds, from the render's own generators, so a
 * user can compare it with A1111's before spending a render. `--rng` stands for the
 * `sdPrompt.render.rngSource` setting (used when the file has no `RNG:`).
 */
export interface NoiseOptions {
  file: string;
  /** Ancestral draws after the initial noise. */
  draws: number;
  rng?: RngSource;
  json: boolean;
}

/** More draws than any sampler makes in a usual render, and a bound on the output. */
const MAX_DRAWS = 1000;

export function parseNoiseArgs(args: string[]): NoiseOptions {
  let file: string | undefined;
  let draws = 0;
  let rng: RngSource | undefined;
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--draws') {
      const v = args[++i];
      if (v === undefined || !/^\d+$/.test(v) || Number(v) > MAX_DRAWS) throw new UsageError(`--draws takes a whole number from 0 to ${MAX_DRAWS}, not '${v ?? ''}'`);
      draws = Number(v);
    } else if (a === '--rng') {
      const v = args[++i];
      const known = RNG_SOURCES.find((s) => s === v);
      if (!known) throw new UsageError(`--rng takes one of ${RNG_SOURCES.join(', ')}, not '${v ?? ''}'`);
      rng = known;
    } else if (a === '--json') json = true;
    else if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option '${a}'`);
    else if (file !== undefined) throw new UsageError('noise takes one FILE (or - for standard input)');
    else file = a;
  }
  if (file === undefined) throw new UsageError('noise needs a FILE.prompt, or - to read one from standard input');
  return { file, draws, rng, json };
}

export interface NoiseReport {
  rng: RngSource;
  shape: [number, number, number];
  images: { seed: number; draws: Float32Array[] }[];
}

/** The noise of a .prompt text as the render makes it: every image of `Batch size` × `Batch count`. */
export function noiseReport(text: string, draws: number, defaultSource?: RngSource): NoiseReport {
  let params;
  let images;
  try {
    params = renderParameters(text, { model: 'noise' }, { rngSource: defaultSource });
    images = readBatchImages(text, parsePromptDocument(text).sections.parameters?.entries ?? []);
  } catch (e) {
    if (e instanceof NoiseParameterError) throw new InputError(e.message);
    throw e;
  }
  if (params.width % 8 || params.height % 8 || params.width <= 0 || params.height <= 0) {
    throw new InputError(`Size ${params.width}x${params.height} must be a positive multiple of 8 in both directions`);
  }
  const rng = renderImageRng(params, images);
  const shape: [number, number, number] = [rng.options.shape[0], rng.options.shape[1], rng.options.shape[2]];
  const out: NoiseReport = { rng: rng.options.source, shape, images: rng.options.seeds.map((seed) => ({ seed, draws: [] })) };
  for (let k = 0; k <= draws; k++) {
    const batch = rng.next();
    out.images.forEach((image, i) => image.draws.push(batch.slice(i * rng.imageSize, (i + 1) * rng.imageSize)));
  }
  return out;
}

export function runNoise(o: NoiseOptions, io: { stdout: (s: string) => void; readInput: (file: string) => string }): number {
  const report = noiseReport(io.readInput(o.file), o.draws, o.rng);
  io.stdout(o.json ? noiseJson(report) + '\n' : noiseSummary(report));
  return 0;
}

/** The report as JSON, each value written as the shortest decimal that reads back as the same float32. */
export function noiseJson(report: NoiseReport): string {
  const images = report.images.map(
    (image) => `{"seed":${image.seed},"draws":[${image.draws.map((d) => `[${Array.from(d, float32Text).join(',')}]`).join(',')}]}`,
  );
  return `{"rng":"${report.rng}","shape":${JSON.stringify(report.shape)},"images":[${images.join(',')}]}`;
}

function float32Text(v: number): string {
  // Starting at 6 digits gives the same text: a value that 6 digits or fewer round-trip is printed
  // padded to 6 and read back to the same double, whose String() is the shortest form.
  for (let digits = 6; digits < 9; digits++) {
    const text = v.toPrecision(digits);
    if (Math.fround(Number(text)) === v) return String(Number(text));
  }
  return String(v);
}

function noiseSummary(report: NoiseReport): string {
  const [c, h, w] = report.shape;
  const lines = [`RNG ${report.rng}, latent ${c}x${h}x${w} (${w * 8}x${h * 8}), ${report.images.length} image${report.images.length === 1 ? '' : 's'}`];
  for (const image of report.images) {
    lines.push(`seed ${image.seed}:`);
    image.draws.forEach((d, k) => {
      let sum = 0;
      let sq = 0;
      for (const v of d) {
        sum += v;
        sq += v * v;
      }
      const mean = sum / d.length;
      const std = Math.sqrt(Math.max(0, sq / d.length - mean * mean));
      const first = Array.from(d.subarray(0, 4), (v) => v.toFixed(4)).join(' ');
      lines.push(`  ${k === 0 ? 'initial noise ' : `draw ${k}`.padEnd(14)} mean ${mean.toFixed(4)}, std ${std.toFixed(4)}, first ${first}`);
    });
  }
  return lines.join('\n') + '\n';
}
