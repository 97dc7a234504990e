import * as path from 'path';
import { pyFloat, pyInt } from '../service/semantics/pyNumbers';
import { parsePromptDocument } from '../service/syntax/document';
import { RenderParameters } from './pipeline/txt2img';
import { resolveSeed } from './pipeline/rng/seeds';
import { readNoiseParameters } from './pipeline/rng/noiseParameters';
import { readSamplerParameters } from './pipeline/samplers/samplerParameters';
import type { RngSource } from './pipeline/rng/noiseGenerator';
import { readHiresFix } from './pipeline/hires/hiresParameters';
import { readNgms } from './pipeline/ngmsParameters';
import type { TemplateLines, TemplatePart } from '../service/dynamic/templateLines';

/** Defaults from settings (`sdPrompt.render.*`): used where the file's parameter line says nothing. */
export interface ParameterDefaults {
  steps?: number;
  sampler?: string;
  cfgScale?: number;
  width?: number;
  height?: number;
  /** `sdPrompt.render.rngSource`: the noise source when the file has no `RNG:` (A1111's default: GPU). */
  rngSource?: RngSource;
  /** `sdPrompt.render.clipSkip`: the clip skip when the file has no `Clip skip:` (A1111's default: 1). */
  clipSkip?: number;
}

/** What a caller may set over the file's own parameters. */
export interface ParameterOverrides {
  model: string;
  steps?: number;
  seed?: number;
  sampler?: string;
  cfg?: number;
  width?: number;
  height?: number;
  /** `render --clip-skip N`: over the file's `Clip skip:`. */
  clipSkip?: number;
}

/**
 * The render's parameters: explicit options first, then the file's parameter line (`Steps`,
 * `Sampler`, `Schedule type`, `CFG scale`, `Seed`, `Size`), then settings, then A1111's defaults.
 */
export function renderParameters(text: string, o: ParameterOverrides, defaults: ParameterDefaults = {}): RenderParameters {
  const doc = parsePromptDocument(text);
  const param = (key: string) => doc.sections.parameters?.entries.find((e) => e.key === key)?.value;
  const size = /^(\d+)x(\d+)$/.exec(param('Size') ?? '');
  return {
    prompt: text.slice(doc.positive.part.content.start, doc.positive.part.content.end),
    negativePrompt: doc.negative ? text.slice(doc.negative.part.content.start, doc.negative.part.content.end) : '',
    // The conditioning reads the prompts from this parse rather than parsing them again.
    parsed: { positive: doc.positive, negative: doc.negative },
    steps: o.steps ?? pyInt(param('Steps') ?? '') ?? defaults.steps ?? 20,
    sampler: o.sampler ?? param('Sampler') ?? defaults.sampler ?? 'Euler a',
    scheduleType: o.sampler ? undefined : param('Schedule type'),
    cfgScale: o.cfg ?? pyFloat(param('CFG scale') ?? '') ?? defaults.cfgScale ?? 7,
    seed: resolveSeed(o.seed ?? pyInt(param('Seed') ?? '')),
    noise: readNoiseParameters(text, doc.sections.parameters?.entries ?? [], defaults.rngSource),
    sampling: readSamplerParameters(text, doc.sections.parameters?.entries ?? []),
    width: o.width ?? (size ? Number(size[1]) : (defaults.width ?? 512)),
    height: o.height ?? (size ? Number(size[2]) : (defaults.height ?? 512)),
    // A1111 writes a checkpoint by its file name without extension (`name_for_extra`); a folder by its name.
    modelName: path.basename(path.resolve(o.model)).replace(/\.safetensors$/i, ''),
    hires: readHiresFix(text, doc.sections.parameters?.entries ?? []),
    ngms: readNgms(text, doc.sections.parameters?.entries ?? []),
    // A1111 pastes `Clip skip` into CLIP_stop_at_last_layers (an int); a value it cannot read leaves the setting.
    clipSkip: o.clipSkip ?? pyInt(param('Clip skip') ?? '') ?? defaults.clipSkip ?? 1,
    ...templatesOf(text, doc.sections.templates),
  };
}

/** The `Template:` / `Negative Template:` lines after the parameter line (what Render Preview's variant came from), for the infotext. */
function templatesOf(text: string, templates: TemplateLines | undefined): { templates?: { prompt: string; negativePrompt: string } } {
  if (!templates) return {};
  const slice = (part: TemplatePart | undefined) => (part ? text.slice(part.content.start, part.content.end) : '');
  return { templates: { prompt: slice(templates.positive), negativePrompt: slice(templates.negative) } };
}
