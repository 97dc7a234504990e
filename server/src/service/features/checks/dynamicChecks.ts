import { walkDynamic } from '../../dynamic/ast';
import { parseDynamicPrompt } from '../../dynamic/parser';
import { findDynamicProblems } from '../../dynamic/problems';
import { WildcardLibrary } from '../../dynamic/wildcardLibrary';
import { MappedText, Span } from '../../semantics/spans';
import { PromptSettings } from '../../settings';
import { PromptDocument } from '../../syntax/document';
import { Problem } from './problem';

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

/** The texts dynamicprompts reads: as written (the webui runs the extension before it strips comments). */
function dynamicParts(doc: PromptDocument): MappedText[] {
  const templates = doc.sections.templates;
  if (templates) {
    return [templates.positive, templates.negative]
      .filter((p): p is NonNullable<typeof p> => p !== undefined)
      .map((p) => MappedText.identity(doc.text.slice(p.content.start, p.content.end), p.content.start));
  }
  const parts = [doc.positive.part, ...(doc.negative ? [doc.negative.part] : [])];
  return parts.map((p) => MappedText.identity(doc.text.slice(p.content.start, p.content.end), p.content.start));
}

function toSource(text: MappedText, span: Span): Span {
  return text.spanToSource(span.start, span.end);
}

function checkOn(text: MappedText, out: Problem[], wildcards?: WildcardLibrary): void {
  for (const p of findDynamicProblems(text.text, 0, wildcards)) {
    const span = toSource(text, p.span);
    const problem: Problem = { code: p.code, severity: p.severity, span, message: p.message };
    if (p.code === 'wildcard-unknown' && p.suggestion) {
      problem.fixes = [{ title: `Change to '__${p.suggestion}__'`, edits: [{ span, newText: p.suggestion }], preferred: true }];
    } else if (p.code === 'dynamic-unbalanced-brace' && p.severity === 'warning') {
      problem.fixes = [{ title: "Remove the '}'", edits: [{ span, newText: '' }] }];
    }
    out.push(problem);
  }
}

function checkOff(text: MappedText, out: Problem[]): void {
  if (!/[{]|__/.test(text.text)) return;
  const parsed = parseDynamicPrompt(text.text);
  if (!parsed.root) return;
  walkDynamic(parsed.root, (node) => {
    if (node.kind === 'variant' && (node.options.length > 1 || node.bound)) {
      out.push({
        code: 'dynamic-prompts-off',
        severity: 'information',
        span: toSource(text, node.span),
        message:
          "Dynamic prompts are off (sdPrompt.dynamicPrompts.enable): A1111 without sd-dynamic-prompts passes this '{...|...}' to CLIP as written, braces and bars included.",
      });
    } else if (node.kind === 'wildcard') {
      out.push({
        code: 'dynamic-prompts-off',
        severity: 'information',
        span: toSource(text, node.span),
        message: `Dynamic prompts are off (sdPrompt.dynamicPrompts.enable): A1111 without sd-dynamic-prompts passes '__${node.path}__' to CLIP as written.`,
      });
    }
  });
}
