import { Hover, MarkupKind } from 'vscode-languageserver-types';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { DynamicNode, walkDynamic } from '../dynamic/ast';
import { countCombinations } from '../dynamic/combinations';
import { parseDynamicPrompt } from '../dynamic/parser';
import { WildcardLibrary } from '../dynamic/wildcardLibrary';
import { PromptDocument } from '../syntax/document';
import { markdownCode, markdownText } from './displayText';

/** How many of a wildcard's values the hover lists. */
export const HOVER_VALUES = 8;

/**
 * Hover over sd-dynamic-prompts syntax (when dynamic prompts are on): for a variant, its
 * options, how many it picks and the number of prompts combinatorial mode lists; for a
 * wildcard, how many values it has, the first ones, and a link to each file they come from.
 */
export function dynamicHoverAt(document: TextDocument, doc: PromptDocument, offset: number, wildcards?: WildcardLibrary): Hover | null {
  for (const part of dynamicTexts(doc)) {
    if (offset < part.start || offset > part.start + part.text.length) continue;
    const parsed = parseDynamicPrompt(part.text, part.start);
    if (!parsed.root) return null;
    let best: DynamicNode | undefined;
    walkDynamic(parsed.root, (node) => {
      if (node.kind !== 'variant' && node.kind !== 'wildcard') return;
      const span = node.span;
      if (offset >= span.start && offset <= span.end && (!best || span.end - span.start <= best.span.end - best.span.start)) best = node;
    });
    if (!best) return null;
    const found = best as DynamicNode;
    const range = { start: document.positionAt(found.span.start), end: document.positionAt(found.span.end) };
    return { contents: { kind: MarkupKind.Markdown, value: describe(found, wildcards) }, range };
  }
  return null;
}

/** The texts dynamicprompts reads, as written, and where each starts. */
function dynamicTexts(doc: PromptDocument): { text: string; start: number }[] {
  const templates = doc.sections.templates;
  const parts = templates
    ? [templates.positive, templates.negative].filter((p): p is NonNullable<typeof p> => p !== undefined)
    : [doc.positive.part, ...(doc.negative ? [doc.negative.part] : [])];
  return parts.map((p) => ({ text: doc.text.slice(p.content.start, p.content.end), start: p.content.start }));
}

function countText(n: number): string {
  return Number.isFinite(n) ? n.toLocaleString('en-US') : 'more than can be counted';
}

function describe(node: DynamicNode, wildcards?: WildcardLibrary): string {
  if (node.kind === 'wildcard') return describeWildcard(node.path, wildcards);
  if (node.kind !== 'variant') return '';
  const n = node.options.length;
  const min = Math.min(node.min, n);
  const max = Math.min(node.max, n);
  const picks = min === max ? `${max}` : `${min} to ${max}`;
  const lines = [
    `**Variant**: ${n} option${n === 1 ? '' : 's'}, picks ${picks}${max > 1 ? `, joined by ${markdownCode(node.separator)}` : ''}.`,
    `Combinatorial mode lists up to ${countText(countCombinations(node, wildcards))} prompt${countCombinations(node, wildcards) === 1 ? '' : 's'} from it.`,
  ];
  const weights = node.options.map((o) => o.weight);
  const total = weights.reduce((a, b) => a + b, 0);
  if (new Set(weights).size > 1 && total > 0) {
    lines.push(node.options.map((o, i) => `${markdownText(optionLabel(o.value))}: ${Math.round((1000 * weights[i]) / total) / 10}%`).join(' · '));
  }
  return lines.join('\n\n');
}

function optionLabel(node: DynamicNode): string {
  return node.kind === 'literal' ? node.text.trim() || '(empty)' : node.kind === 'wildcard' ? `__${node.path}__` : '…';
}

function describeWildcard(path: string, wildcards?: WildcardLibrary): string {
  const title = `**Wildcard** ${markdownCode(`__${path}__`)}`;
  if (!wildcards) return `${title}\n\nNo wildcard folders are set (sdPrompt.wildcards.directories, or the webui's sd-dynamic-prompts folder).`;
  const values = wildcards.values(path);
  if (values.length === 0) return `${title}\n\nNo wildcard file gives it: dynamicprompts writes it as it stands.`;
  const files = [...new Set(wildcards.resolve(path).map((c) => c.file).filter((f) => f !== ''))];
  const shown = values.stringValues.slice(0, HOVER_VALUES).map((v) => markdownCode(v)).join(', ');
  const more = values.length > HOVER_VALUES ? `, … (${values.length - HOVER_VALUES} more)` : '';
  const lines = [`${title}: ${values.length} value${values.length === 1 ? '' : 's'}`, shown + more];
  if (files.length) lines.push(files.map((f) => `[${markdownText(f.slice(f.lastIndexOf('/') + 1))}](${encodeURI('file://' + f)})`).join(' · '));
  return lines.join('\n\n');
}
