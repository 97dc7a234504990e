import { baseName } from './comfyPrompt';
import { invokeSampler } from './samplerNames';
import { GenerationParts } from './types';

/**
 * InvokeAI's `invokeai_metadata` PNG text (JSON): `positive_prompt`, `negative_prompt`,
 * `width`, `height`, `seed`, `steps`, `cfg_scale`, `scheduler` (diffusers names, `_k` = Karras),
 * `model` ({`model_name`|`name`}), `loras` ([{`lora`|`model`: {`model_name`|`name`}, `weight`}]),
 * `clip_skip`. LoRAs become `<lora:name:weight>` tags (InvokeAI applies one weight to both).
 */
export function invokeAiToPrompt(text: string): GenerationParts {
  let json: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(text);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
    json = parsed as Record<string, unknown>;
  } catch (e) {
    throw new Error(`InvokeAI invokeai_metadata chunk is not a JSON object (${(e as Error).message})`);
  }
  const notes: string[] = [];
  const schedulerName = typeof json.scheduler === 'string' ? json.scheduler : '';
  const { sampler, schedule } = invokeSampler(schedulerName);
  if (schedulerName && !sampler) notes.push(`InvokeAI scheduler ${schedulerName} has no A1111 equivalent`);
  const tags: string[] = [];
  for (const entry of Array.isArray(json.loras) ? json.loras : []) {
    const e = entry as { lora?: { model_name?: string; name?: string }; model?: { model_name?: string; name?: string }; weight?: number };
    const model = e?.lora ?? e?.model;
    const name = model?.model_name ?? model?.name;
    if (typeof name === 'string') tags.push(`<lora:${baseName(name)}:${typeof e.weight === 'number' ? e.weight : 1}>`);
  }
  const positive = typeof json.positive_prompt === 'string' ? json.positive_prompt : '';
  const model = json.model as { model_name?: string; name?: string } | undefined;
  const modelName = model?.model_name ?? model?.name;
  const clipSkip = typeof json.clip_skip === 'number' && json.clip_skip > 0 ? json.clip_skip + 1 : undefined;
  const width = json.width;
  const height = json.height;
  return {
    prompt: [positive, tags.join(' ')].filter((p) => p).join(' '),
    negativePrompt: typeof json.negative_prompt === 'string' ? json.negative_prompt : '',
    notes,
    parameters: [
      ['Steps', numberOf(json.steps)],
      ['Sampler', sampler],
      ['Schedule type', schedule],
      ['CFG scale', numberOf(json.cfg_scale)],
      ['Seed', numberOf(json.seed)],
      ['Size', typeof width === 'number' && typeof height === 'number' ? `${width}x${height}` : undefined],
      ['Model', typeof modelName === 'string' ? baseName(modelName) : undefined],
      ['Clip skip', clipSkip],
    ],
  };
}

function numberOf(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
