import { novelAiSampler } from './samplerNames';
import { GenerationParts } from './types';

/**
 * NovelAI's PNG text: `Description` holds the prompt, `Comment` a JSON object with `prompt`,
 * `uc` (the negative prompt), `steps`, `scale`, `seed`, `sampler`, `width`, `height` and more.
 * NovelAI's `{x}` / `[x]` weigh by 1.05 where A1111's `(x)` / `[x]` weigh by 1.1: the text is
 * kept as written, with a note, since rewriting weights would change what the user copied.
 */
export function novelAiToPrompt(description: string | undefined, comment: string): GenerationParts {
  let json: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(comment);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
    json = parsed as Record<string, unknown>;
  } catch (e) {
    throw new Error(`NovelAI Comment chunk is not a JSON object (${(e as Error).message})`);
  }
  const prompt = typeof json.prompt === 'string' ? json.prompt : description ?? '';
  const negativePrompt = typeof json.uc === 'string' ? json.uc : '';
  const notes: string[] = [];
  const samplerName = typeof json.sampler === 'string' ? json.sampler : '';
  const { sampler } = novelAiSampler(samplerName);
  if (samplerName && !sampler) notes.push(`NovelAI sampler ${samplerName} has no A1111 equivalent`);
  if (/[{}]/.test(prompt + negativePrompt)) notes.push('NovelAI weighs {x} by 1.05 and [x] by 1/1.05; A1111 reads { } as text and [x] as 1/1.1');
  const used = new Set(['prompt', 'uc', 'steps', 'scale', 'seed', 'sampler', 'width', 'height', 'signed_hash', 'request_type']);
  const rest = Object.entries(json).filter(([k, v]) => !used.has(k) && v !== null && typeof v !== 'object');
  if (rest.length) notes.push('NovelAI settings: ' + rest.map(([k, v]) => `${k} ${String(v)}`).join(', '));
  const width = json.width;
  const height = json.height;
  return {
    prompt,
    negativePrompt,
    notes,
    parameters: [
      ['Steps', numberOf(json.steps)],
      ['Sampler', sampler],
      ['CFG scale', numberOf(json.scale)],
      ['Seed', numberOf(json.seed)],
      ['Size', typeof width === 'number' && typeof height === 'number' ? `${width}x${height}` : undefined],
    ],
  };
}

function numberOf(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
