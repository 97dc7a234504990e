import { pyFloat, pyInt } from '../../service/semantics/pyNumbers';
import { isActivationError, loraActivation } from '../../service/semantics/extraNetworks';
import { parsePromptDocument } from '../../service/syntax/document';
import { generationData } from '../../service/features/extensionRequests';
import { BackendError, BackendRenderRequest } from './backend';

/** A `.prompt`'s generation data, read once for every backend (each maps it onto its own protocol). */
export interface Generation {
  /** The positive prompt after A1111's comment stripping, extra-network tags kept (A1111 and Swarm parse them). */
  prompt: string;
  /** The positive prompt with the extra-network tags removed (ComfyUI's text encoder must not see them). */
  promptWithoutTags: string;
  negativePrompt: string;
  /** The file as A1111 writes its infotext: A1111's `infotext` field reads the rest of the parameters from it. */
  infotext: string;
  steps: number;
  sampler: string;
  scheduleType?: string;
  cfgScale: number;
  /** -1: the server picks. */
  seed: number;
  width: number;
  height: number;
  model?: string;
  modelHash?: string;
  clipSkip?: number;
  rng?: string;
  ensd?: number;
  loras: { name: string; te: number; unet: number }[];
  images: number;
  hasParameterLine: boolean;
}

/**
 * The infotext with the seed that rendered (a backend that needs a seed of its own picks it for
 * `-1`): replaced on the parameter line, added to it, or a parameter line A1111 would write.
 */
export function infotextWithSeed(gen: Generation, seed: number): string {
  if (!gen.hasParameterLine) return `${gen.infotext}\nSteps: ${gen.steps}, Sampler: ${gen.sampler}, CFG scale: ${gen.cfgScale}, Seed: ${seed}, Size: ${gen.width}x${gen.height}`;
  const lines = gen.infotext.split('\n');
  const last = lines[lines.length - 1];
  lines[lines.length - 1] = /(^|, )Seed: -?\d+/.test(last) ? last.replace(/(^|, )Seed: -?\d+/, `$1Seed: ${seed}`) : `${last}, Seed: ${seed}`;
  return lines.join('\n');
}

/** Reads the generation data: options first, then the file's parameter line, then A1111's defaults. */
export function readGeneration(request: BackendRenderRequest): Generation {
  const doc = parsePromptDocument(request.promptText);
  const o = request.overrides ?? {};
  const entries = doc.sections.parameters?.entries ?? [];
  const param = (key: string) => entries.find((e) => e.key === key)?.value;
  const number = (key: string, read: (s: string) => number | undefined) => {
    const v = param(key);
    if (v === undefined) return undefined;
    const n = read(v);
    if (n === undefined) throw new BackendError('bad-input', `parameter line: '${key}: ${v}' is not a number`);
    return n;
  };
  const size = param('Size');
  const sizeMatch = /^(\d+)x(\d+)$/.exec(size ?? '');
  if (size !== undefined && !sizeMatch) throw new BackendError('bad-input', `parameter line: 'Size: ${size}' is not WIDTHxHEIGHT`);
  const loras: Generation['loras'] = [];
  for (const tag of doc.positive.tags) {
    if (tag.type !== 'lora' && tag.type !== 'lyco') continue;
    const a = loraActivation(tag);
    if (isActivationError(a)) throw new BackendError('bad-input', `LoRA tag '${a.item}': ${a.error} (A1111 applies no LoRA in this generation)`);
    loras.push({ name: a.name, te: a.te, unet: a.unet });
  }
  const images = request.images ?? 1;
  if (!Number.isInteger(images) || images < 1) throw new BackendError('bad-input', `images must be a whole number of at least 1, not ${images}`);
  return {
    prompt: doc.positive.stripped.text.text.trim(),
    promptWithoutTags: doc.positive.prompt.text.trim(),
    negativePrompt: (doc.negative?.stripped.text.text ?? '').trim(),
    infotext: generationData(doc),
    steps: o.steps ?? number('Steps', pyInt) ?? 20,
    sampler: o.sampler ?? param('Sampler') ?? 'Euler a',
    scheduleType: o.sampler ? undefined : param('Schedule type'),
    cfgScale: o.cfg ?? number('CFG scale', pyFloat) ?? 7,
    seed: o.seed ?? number('Seed', pyInt) ?? -1,
    width: o.width ?? (sizeMatch ? Number(sizeMatch[1]) : 512),
    height: o.height ?? (sizeMatch ? Number(sizeMatch[2]) : 512),
    model: param('Model'),
    modelHash: param('Model hash'),
    clipSkip: number('Clip skip', pyInt),
    rng: param('RNG'),
    ensd: number('ENSD', pyInt),
    loras,
    images,
    hasParameterLine: doc.sections.parameters !== undefined,
  };
}
