import type { RenderPromptResult } from '../../../../common/src/protocol';
import { walkDynamic } from '../dynamic/ast';
import { ExpandError, expandPromptFile } from '../dynamic/expand';
import { parseDynamicPrompt } from '../dynamic/parser';
import { WildcardLibrary } from '../dynamic/wildcardLibrary';
import { parseSections } from '../syntax/sections';

export interface RenderPromptOptions {
  /** Whether sd-dynamic-prompts reads the file (the setting, or the extension found in the webui). */
  enabled: boolean;
  wildcards: WildcardLibrary;
  /** The seed the render uses over the file's (-1 or absent: the file's, else a random one). */
  seed?: number;
  /** Steps for a parameter line made up where the file has none (the render's default, `sdPrompt.render.steps`). */
  defaultSteps: number;
  /** A1111's random seed (`random.randrange(4294967294)`); tests pass a fixed one. */
  randomSeed?: () => number;
}

/** Longest prompt the variant line quotes. */
const VARIANT_QUOTE = 100;

/**
 * What Render Preview renders (`sdPrompt/renderPrompt`): the first image's variant for the render's
 * seed, as sd-dynamic-prompts picks it in random mode (`expandPromptFile`, the sampler `sd-prompt expand`
 * uses), laid out as the infotext the webui writes for that image: the resolved prompts, the parameter
 * line with the seed that picked them, then the extension's `Template:` / `Negative Template:` lines
 * (its PngInfoSaver appends `"\nTemplate: " + p.prompt` and `"\nNegative Template: " + p.negative_prompt`
 * to the infotext, each only when not empty, unquoted). A file without a seed gets a random one written
 * into its parameter line, so the variant shown is the one rendered.
 * With dynamic prompts off, or no variants, wildcards or variables in the file, the text is unchanged.
 */
export function renderPrompt(text: string, options: RenderPromptOptions): RenderPromptResult {
  if (!options.enabled) return { promptText: text };
  const sections = parseSections(text);
  const templateSpan = sections.templates?.positive?.content ?? (sections.templates ? undefined : sections.positive.content);
  const negativeSpan = sections.templates?.negative?.content ?? sections.negative?.content;
  const positiveTemplate = templateSpan ? text.slice(templateSpan.start, templateSpan.end) : '';
  const negativeTemplate = negativeSpan ? text.slice(negativeSpan.start, negativeSpan.end) : '';
  if (!isDynamic(positiveTemplate) && !isDynamic(negativeTemplate)) return { promptText: text };

  const fileSeed = sections.parameters?.entries.find((e) => e.key === 'Seed');
  const written = fileSeed && /^\d+$/.test(fileSeed.value.trim()) ? Number(fileSeed.value.trim()) : undefined;
  const seed =
    options.seed !== undefined && options.seed >= 0
      ? options.seed
      : (written ?? (options.randomSeed ?? (() => Math.floor(Math.random() * 4294967294)))());
  let expanded;
  try {
    expanded = expandPromptFile(text, options.wildcards, { mode: 'random', seed, maxPrompts: 1 });
  } catch (e) {
    if (!(e instanceof ExpandError)) throw e;
    // The extension would render its error message as the prompt; the file's text (with the diagnostic beside it) says more.
    const { line, column } = lineColumn(text, e.span.start);
    return { promptText: text, variant: `not expanded (line ${line}, column ${column}): ${e.message}` };
  }
  const positive = expanded.prompts[0] ?? '';
  const negative = expanded.negativePrompts[0] ?? '';
  let promptText = positive;
  if (negative !== '') promptText += `\nNegative prompt: ${negative}`;
  promptText += `\n${parameterLine(text, sections.parameters, seed, options.defaultSteps)}`;
  if (expanded.templates.positive !== '') promptText += `\nTemplate: ${expanded.templates.positive}`;
  if (expanded.templates.negative !== '') promptText += `\nNegative Template: ${expanded.templates.negative}`;
  const negativeNote = isDynamic(negativeTemplate) ? ` (negative: ${quote(negative)})` : '';
  return {
    promptText,
    template: { prompt: expanded.templates.positive, negativePrompt: expanded.templates.negative },
    variant: `variant for seed ${seed}: ${quote(positive)}${negativeNote}`,
  };
}

/** Whether dynamicprompts would change the text: variants, wildcards, variables (or a syntax error it stops on). */
function isDynamic(template: string): boolean {
  if (template === '') return false;
  const parsed = parseDynamicPrompt(template);
  if (!parsed.root) return true;
  let dynamic = false;
  walkDynamic(parsed.root, (node) => {
    if (node.kind !== 'literal' && node.kind !== 'sequence') dynamic = true;
  });
  return dynamic;
}

/** The file's parameter line with `Seed:` set to the seed that picked the variant (made up when the file has none). */
function parameterLine(text: string, line: ReturnType<typeof parseSections>['parameters'], seed: number, defaultSteps: number): string {
  if (!line) return `Steps: ${defaultSteps}, Seed: ${seed}`;
  const lineText = text.slice(line.span.start, line.span.end).replace(/\r$/, '');
  const entry = line.entries.find((e) => e.key === 'Seed');
  if (!entry) return `${lineText.replace(/[,\s]+$/, '')}, Seed: ${seed}`;
  const start = entry.valueSpan.start - line.span.start;
  const end = entry.valueSpan.end - line.span.start;
  return `${lineText.slice(0, start)}${seed}${lineText.slice(end)}`;
}

function quote(prompt: string): string {
  const oneLine = prompt.replace(/\s*[\r\n]+\s*/g, ' ').trim();
  return oneLine.length > VARIANT_QUOTE ? `${oneLine.slice(0, VARIANT_QUOTE - 1)}…` : oneLine;
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const lineStart = before.lastIndexOf('\n') + 1;
  return { line: before.split('\n').length, column: offset - lineStart + 1 };
}
