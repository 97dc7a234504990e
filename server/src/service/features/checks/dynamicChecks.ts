import { walkDynamic } from '../../dynamic/ast';
import { parseDynamicPrompt } from '../../dynamic/parser';
import { findDynamicProblems } from '../../dynamic/problems';
import { WildcardLibrary } from '../../dynamic/wildcardLibrary';
import { PromptSettings } from '../../settings';
import { PromptDocument } from '../../syntax/document';
import { MAX_PROBLEMS_PER_CODE, Problem } from './problem';

/**
 * sd-dynamic-prompts syntax. On (`sdPrompt.dynamicPrompts.enable`): what stops
 * dynamicprompts or surprises (see dynamic/problems.ts), in the `Template:` lines when the
 * file has them, else in the prompts. Off: one information per `{a|b}` or `__name__`, since
 * without the extension A1111 passes the braces, bars and underscores to CLIP as text.
 */
export function checkDynamic(doc: PromptDocument, settings: PromptSettings, out: Problem[], wildcards?: WildcardLibrary): void {
  const parts = dynamicParts(doc);
  for (const part of parts) {
    if (settings.dynamicPrompts.enable) checkOn(part, out, wildcards);
    else checkOff(part, out);
  }
}

/** A text dynamicprompts reads, as written (the webui runs the extension before it strips comments), and where it starts. */
interface DynamicText {
  text: string;
  start: number;
}

function dynamicParts(doc: PromptDocument): DynamicText[] {
  const templates = doc.sections.templates;
  const parts = templates
    ? [templates.positive, templates.negative].filter((p): p is NonNullable<typeof p> => p !== undefined)
    : [doc.positive.part, ...(doc.negative ? [doc.negative.part] : [])];
  return parts.map((p) => ({ text: doc.text.slice(p.content.start, p.content.end), start: p.content.start }));
}

function checkOn(part: DynamicText, out: Problem[], wildcards?: WildcardLibrary): void {
  // Without these characters the text is plain literal text to dynamicprompts: nothing to parse.
  if (!/[{}$%]|__/.test(part.text)) return;
  for (const p of findDynamicProblems(part.text, part.start, wildcards)) {
    const span = p.span;
    const problem: Problem = { code: p.code, severity: p.severity, span, message: p.message };
    if (p.code === 'wildcard-unknown' && p.suggestion) {
      problem.fixes = [{ title: `Change to '__${p.suggestion}__'`, edits: [{ span, newText: p.suggestion }], preferred: true }];
    } else if (p.code === 'dynamic-unbalanced-brace' && p.severity === 'warning') {
      problem.fixes = [{ title: "Remove the '}'", edits: [{ span, newText: '' }] }];
    }
    out.push(problem);
  }
}

function checkOff(part: DynamicText, out: Problem[]): void {
  if (!/[{]|__/.test(part.text)) return;
  const parsed = parseDynamicPrompt(part.text, part.start);
  if (!parsed.root) return;
  let found = 0;
  walkDynamic(parsed.root, (node) => {
    // Past the per-code cap the diagnostics pass drops them anyway.
    if (found >= MAX_PROBLEMS_PER_CODE) return;
    if (node.kind === 'variant' && (node.options.length > 1 || node.bound)) {
      found++;
      out.push({
        code: 'dynamic-prompts-off',
        severity: 'information',
        span: node.span,
        message:
          "Dynamic prompts are off (sdPrompt.dynamicPrompts.enable): A1111 without sd-dynamic-prompts passes this '{...|...}' to CLIP as written, braces and bars included.",
      });
    } else if (node.kind === 'wildcard') {
      found++;
      out.push({
        code: 'dynamic-prompts-off',
        severity: 'information',
        span: node.span,
        message: `Dynamic prompts are off (sdPrompt.dynamicPrompts.enable): A1111 without sd-dynamic-prompts passes '__${node.path}__' to CLIP as written.`,
      });
    }
  });
}
