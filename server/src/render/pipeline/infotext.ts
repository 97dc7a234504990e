/**
 * The A1111 infotext ("generation data") a render writes into its PNG, as
 * `processing.create_infotext` lays it out: the prompt, `Negative prompt: ...` when there is
 * one, then `Key: value` pairs joined by ", ", values quoted as JSON when they contain a
 * comma, a colon or a line break (`infotext_utils.quote`).
 */
export interface GenerationParameters {
  prompt: string;
  negativePrompt: string;
  /** In A1111's order: Steps, Sampler, Schedule type, CFG scale, Seed, Size, Model hash, Model, ... */
  parameters: [key: string, value: string | number | undefined][];
  /** sd-dynamic-prompts' templates, when the prompts are a variant of them. */
  templates?: { prompt: string; negativePrompt: string };
}

export function quoteParameter(value: string): string {
  if (!/[,\n:]/.test(value)) return value;
  return JSON.stringify(value);
}

export function createInfotext(p: GenerationParameters): string {
  const pairs = p.parameters
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => (k === String(v) ? k : `${k}: ${quoteParameter(String(v))}`))
    .join(', ');
  const negative = p.negativePrompt ? `\nNegative prompt: ${p.negativePrompt}` : '';
  // sd-dynamic-prompts' PngInfoSaver appends its lines after the whole infotext, unquoted, each only when not empty.
  const template = p.templates?.prompt ? `\nTemplate: ${p.templates.prompt}` : '';
  const negativeTemplate = p.templates?.negativePrompt ? `\nNegative Template: ${p.templates.negativePrompt}` : '';
  return `${p.prompt}${negative}\n${pairs}`.trim() + template + negativeTemplate;
}
