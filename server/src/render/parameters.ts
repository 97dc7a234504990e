import * as path from 'path';
import { pyFloat, pyInt } from '../service/semantics/pyNumbers';
import { parsePromptDocument } from '../service/syntax/document';
import { RenderParameters } from './pipeline/txt2img';
import { resolveSeed } from './pipeline/random';

/** What a caller may set over the file's own parameters. */
export interface ParameterOverrides {
  model: string;
  steps?: number;
  seed?: number;
  sampler?: string;
  cfg?: number;
  width?: number;
  height?: number;
}

/** The file's parameters under the options: `Steps`, `Sampler`, `Schedule type`, `CFG scale`, `Seed`, `Size`. */
export function renderParameters(text: string, o: ParameterOverrides): RenderParameters {
  const doc = parsePromptDocument(text);
  const param = (key: string) => doc.sections.parameters?.entries.find((e) => e.key === key)?.value;
  const size = /^(\d+)x(\d+)$/.exec(param('Size') ?? '');
  return {
    prompt: text.slice(doc.positive.part.content.start, doc.positive.part.content.end),
    negativePrompt: doc.negative ? text.slice(doc.negative.part.content.start, doc.negative.part.content.end) : '',
    steps: o.steps ?? pyInt(param('Steps') ?? '') ?? 20,
    sampler: o.sampler ?? param('Sampler') ?? 'Euler a',
    scheduleType: o.sampler ? undefined : param('Schedule type'),
    cfgScale: o.cfg ?? pyFloat(param('CFG scale') ?? '') ?? 7,
    seed: resolveSeed(o.seed ?? pyInt(param('Seed') ?? '')),
    width: o.width ?? (size ? Number(size[1]) : 512),
    height: o.height ?? (size ? Number(size[2]) : 512),
    modelName: path.basename(path.resolve(o.model)),
  };
}

