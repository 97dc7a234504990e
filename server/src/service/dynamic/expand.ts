import { MappedText, Span } from '../semantics/spans';
import { parseSections } from '../syntax/sections';
import { DynamicNode } from './ast';
import { parseDynamicPrompt } from './parser';
import { PyRandom } from './pyRandom';
import { DynamicSamplingError, SamplingContext, generatorFrom } from './sampling';
import { WildcardLibrary } from './wildcardLibrary';

/**
 * The prompts sd-dynamic-prompts makes from a `.prompt` file, as the webui extension calls
 * dynamicprompts 0.31.0. Random mode: one RandomPromptGenerator, one prompt generator kept
 * across the images, Python's Random reseeded with each image's seed (Seed + i over Batch
 * size × Batch count); the negative prompt after the positive with the same seeds (or "" for
 * each image when it is empty). Combinatorial mode ("all"): every combination, each with
 * every negative combination. With `Template:` lines in the file those are expanded. The text
 * is given as written: the webui runs the extension before its own comment stripping.
 */
export interface ExpandOptions {
  mode: 'random' | 'all';
  /** Most prompts listed in combinatorial mode (a guard against endless or huge expansions). */
  maxPrompts?: number;
  /** The seed to use instead of the file's `Seed:` (a render with a new seed, random mode). */
  seed?: number;
}

export interface ExpandResult {
  prompts: string[];
  negativePrompts: string[];
  seeds: number[];
  /** True when combinatorial mode stopped at `maxPrompts`. */
  truncated: boolean;
  /** The texts that were expanded, and where they stand in the file. */
  templates: { positive: string; negative: string; positiveSpan: Span; negativeSpan?: Span };
}

/** A problem that stops expansion, with its range in the file. */
export class ExpandError extends Error {
  constructor(
    message: string,
    readonly span: Span,
  ) {
    super(message);
  }
}

export const DEFAULT_MAX_PROMPTS = 10_000;

export function expandPromptFile(text: string, library: WildcardLibrary, options: ExpandOptions): ExpandResult {
  const sections = parseSections(text);
  const positivePart = sections.templates?.positive?.content ?? (sections.templates ? emptyAt(sections.templates.span.start) : sections.positive.content);
  const negativePart = sections.templates
    ? (sections.templates.negative?.content ?? sections.negative?.content)
    : sections.negative?.content;
  const positive = templateText(text, positivePart);
  const negative = negativePart ? templateText(text, negativePart) : undefined;
  const parameters = new Map((sections.parameters?.entries ?? []).map((e) => [e.key, e] as const));
  const intParameter = (key: string, fallback: number): number => {
    const entry = parameters.get(key);
    if (!entry) return fallback;
    const value = entry.value.replace(/^"|"$/g, '').trim();
    if (!/^-?\d+$/.test(value)) throw new ExpandError(`${key} '${entry.value}' is not a whole number.`, entry.valueSpan);
    return Number(value);
  };

  const result: ExpandResult = {
    prompts: [],
    negativePrompts: [],
    seeds: [],
    truncated: false,
    templates: { positive: positive.mapped.text, negative: negative?.mapped.text ?? '', positiveSpan: positivePart },
  };
  if (negativePart) result.templates.negativeSpan = negativePart;

  if (options.mode === 'all') {
    const limit = options.maxPrompts ?? DEFAULT_MAX_PROMPTS;
    const positives = allPrompts(positive, library, limit);
    const negatives = negative && negative.mapped.text ? allPrompts(negative, library, limit) : { prompts: [''], truncated: false };
    result.truncated = positives.truncated || negatives.truncated;
    outer: for (const p of positives.prompts.length ? positives.prompts : ['']) {
      for (const n of negatives.prompts.length ? negatives.prompts : ['']) {
        if (result.prompts.length >= limit) {
          result.truncated = true;
          break outer;
        }
        result.prompts.push(p);
        result.negativePrompts.push(n);
      }
    }
    return result;
  }

  const seedEntry = parameters.get('Seed');
  const seed = options.seed ?? intParameter('Seed', -1);
  if (seed === -1) {
    throw new ExpandError(
      'No fixed Seed: the webui picks a random seed, and the variants with it, so they cannot be listed. Give the file a Seed, or list every combination (--all).',
      seedEntry?.valueSpan ?? sections.parameters?.span ?? { start: text.length, end: text.length },
    );
  }
  const batchSize = Math.max(1, intParameter('Batch size', 1));
  const batchCount = Math.max(1, intParameter('Batch count', 1));
  const limit = options.maxPrompts ?? DEFAULT_MAX_PROMPTS;
  const count = Math.min(batchSize * batchCount, limit);
  result.truncated = batchSize * batchCount > limit;
  const variationStrength = Number(parameters.get('Variation seed strength')?.value ?? '0');
  // With a variation seed the extension keeps one prompt for every image (should_freeze_prompt).
  const frozen = Number.isFinite(variationStrength) && variationStrength > 0;
  const seeds = Array.from({ length: count }, (_, i) => (frozen ? seed : seed + i));
  result.seeds = seeds;
  const positives = randomPrompts(positive, library, frozen ? seeds.slice(0, 1) : seeds);
  result.prompts = frozen ? seeds.map(() => positives[0]) : positives;
  const negatives = negative && negative.mapped.text ? randomPrompts(negative, library, frozen ? seeds.slice(0, 1) : seeds) : [''];
  result.negativePrompts = seeds.map((_, i) => (negatives.length === count ? negatives[i] : negatives[i % negatives.length]));
  return result;
}

function emptyAt(offset: number): Span {
  return { start: offset, end: offset };
}

interface Template {
  mapped: MappedText;
}

/**
 * A part's text as the extension gets it: A1111 runs extension scripts before its own
 * comment stripping (modules/processing_scripts come last in load_scripts), so dynamicprompts
 * sees the `#` comments and skips them by its own rules.
 */
function templateText(text: string, part: Span): Template {
  return { mapped: MappedText.identity(text.slice(part.start, part.end), part.start) };
}

function parseTemplate(template: Template): DynamicNode {
  const parsed = parseDynamicPrompt(template.mapped.text);
  if (!parsed.root) {
    const error = parsed.error!;
    throw new ExpandError(error.message, template.mapped.spanToSource(error.span.start, error.span.end));
  }
  return parsed.root;
}

function inFile(template: Template, e: unknown): never {
  if (e instanceof DynamicSamplingError) {
    const span = e.span ? template.mapped.spanToSource(e.span.start, e.span.end) : template.mapped.spanToSource(0, template.mapped.text.length);
    throw new ExpandError(e.message, span);
  }
  throw e;
}

/** `RandomPromptGenerator.generate(template, n, seeds=seeds)`. */
function randomPrompts(template: Template, library: WildcardLibrary, seeds: number[]): string[] {
  if (template.mapped.text === '') return seeds.map(() => '');
  const root = parseTemplate(template);
  const context: SamplingContext = { method: 'random', rand: new PyRandom(), library, variables: new Map(), sampling: new Set() };
  try {
    const gen = generatorFrom(root, context);
    const prompts: string[] = [];
    for (const seed of seeds) {
      context.rand.seed(seed);
      const r = gen.next();
      if (r.done) break;
      prompts.push(r.value);
    }
    return prompts;
  } catch (e) {
    return inFile(template, e);
  }
}

/** `CombinatorialPromptGenerator.generate(template, max)`. */
function allPrompts(template: Template, library: WildcardLibrary, limit: number): { prompts: string[]; truncated: boolean } {
  if (template.mapped.text === '') return { prompts: [''], truncated: false };
  const root = parseTemplate(template);
  const context: SamplingContext = { method: 'combinatorial', rand: new PyRandom(), library, variables: new Map(), sampling: new Set() };
  try {
    const gen = generatorFrom(root, context);
    const prompts: string[] = [];
    for (let r = gen.next(); !r.done; r = gen.next()) {
      if (prompts.length >= limit) return { prompts, truncated: true };
      prompts.push(r.value);
    }
    return { prompts, truncated: false };
  } catch (e) {
    return inFile(template, e);
  }
}
