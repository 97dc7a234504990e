import { Hover, MarkupKind } from 'vscode-languageserver-types';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { isActivationError, loraActivation } from '../semantics/extraNetworks';
import { switchStep } from '../semantics/schedule';
import { Span } from '../semantics/spans';
import { PromptDocument } from '../syntax/document';
import { PromptLibrary } from '../library';
import { markdownCode, markdownText } from './displayText';
import { entryMarkdown } from './loraCardMarkdown';
import { locate } from './locate';

/**
 * How long a LoRA hover waits for the library's first scan: long enough for the folders most people keep
 * (a few hundred files read in well under a second), short enough that a slow network share still
 * answers, saying the folders are still being read.
 */
export const LIBRARY_SCAN_WAIT_MS = 1500;
import { checkpointHover } from './checkpointHover';

/**
 * Hover: what A1111 makes of the thing under the cursor — a tag's resolved multipliers, the
 * effective weight of emphasized text, the steps each part of a prompt edit is used in.
 */
export async function hoverAt(
  document: TextDocument,
  doc: PromptDocument,
  offset: number,
  steps: number,
  library?: PromptLibrary,
  shortHash?: (path: string) => string | undefined,
): Promise<Hover | null> {
  const checkpoint = checkpointHover(doc, offset, library);
  if (checkpoint) {
    return {
      contents: { kind: MarkupKind.Markdown, value: checkpoint.markdown },
      range: { start: document.positionAt(checkpoint.span.start), end: document.positionAt(checkpoint.span.end) },
    };
  }
  const here = locate(doc, offset);
  if (!here) return null;
  const lines: string[] = [];
  let span: Span | undefined;

  if (here.tag) {
    const tag = here.tag;
    span = tag.span;
    if (here.part.part.kind === 'negative') {
      lines.push(`**${markdownText(tag.type)}** tag in the negative prompt: A1111 does not apply it; it is plain text here.`);
    } else if (tag.type === 'lora' || tag.type === 'lyco') {
      const a = loraActivation(tag);
      if (isActivationError(a)) lines.push(`**LoRA** ${markdownCode(tag.positional[0] ?? '')}\n\nA1111 raises ${markdownCode(a.error)} and applies no LoRA in this generation.`);
      else {
        const scanned = library ? await library.catalog.settled(LIBRARY_SCAN_WAIT_MS) : false;
        const entry = scanned ? library!.catalog.resolveLora(a.name) : undefined;
        const card = entry ? await library!.loadCard(entry) : undefined;
        lines.push(
          entry
            ? entryMarkdown(entry, { card, problem: library!.problem(entry), shortHash: shortHash?.(entry.path) })
            : `**LoRA** ${markdownCode(a.name)}`,
        );
        lines.push(`| text encoder | UNet | dyn |\n|---|---|---|\n| ${a.te} | ${a.unet} | ${a.dyn ?? '—'} |`);
        if (!entry && library?.catalog.hasFolders('lora')) lines.push(scanned ? 'Not in your LoRA folders.' : 'Your LoRA folders are still being read: hover again in a moment for its card.');
      }
    } else if (tag.type === 'hypernet') {
      const entry = library?.catalog.ready ? library.catalog.resolveHypernet(tag.items[0]?.text ?? '') : undefined;
      lines.push(entry ? entryMarkdown(entry) : `**Hypernetwork** ${markdownCode(tag.items[0]?.text ?? '')}`);
      lines.push(`Multiplier ${markdownText(tag.items[1]?.text.trim() ?? '1.0')}`);
    } else {
      lines.push(`**${markdownText(tag.type)}** tag: not a type A1111 knows; it is removed from the prompt and ignored.`);
    }
  }

  if (!here.tag && here.and) {
    span = here.and;
    lines.push('**AND**: composable diffusion. Each part is encoded as its own prompt and the results are combined by the weights after `:`.');
  }

  for (const hole of here.holes) {
    span ??= hole.span;
    const text = (r: { start: number; end: number } | undefined) =>
      r && here.subprompt ? `'${markdownText(here.subprompt.sub.text.slice(r.start, r.end))}'` : "''";
    if (hole.kind === 'scheduled') {
      const when = switchStep(hole.number, { baseSteps: steps });
      const first = when < 1 ? 'never' : `steps 1–${Math.min(when, steps)}`;
      const second = when >= steps ? 'never' : `steps ${Math.max(when + 1, 1)}–${steps}`;
      lines.push(`**Prompt editing** (${steps} steps): ${text(hole.from)} in ${first}, ${text(hole.to)} in ${second}.`);
    } else {
      const n = hole.options.length;
      const opts = hole.options.map((o, i) => `${text(o)} on steps ${i + 1}, ${i + 1 + n}, …`);
      lines.push(`**Alternation**: a different option every step — ${opts.join('; ')}.`);
    }
  }

  if (here.segment && !here.tag) {
    const seg = here.segment;
    if (seg.isBreak) {
      span ??= seg.span;
      lines.push(
        seg.weight === -1
          ? '**BREAK**: ends the current 75-token chunk; what follows starts a new one.'
          : `**BREAK** inside brackets: not a chunk break; the word is encoded with weight ${fmt(seg.weight)}.`,
      );
    } else if (here.groups.length || seg.weight !== 1) {
      span ??= here.groups[0]?.span ?? seg.span;
      const chain = here.groups
        .map((g) => (g.weightText !== undefined ? `×${markdownText(g.weightText.trim())}` : g.kind === 'round' ? '×1.1' : '÷1.1'))
        .join(' ');
      lines.push(`**Weight ${fmt(seg.weight)}**${chain ? ` (${chain})` : ''}: A1111 multiplies this text's token embeddings by ${fmt(seg.weight)}.`);
    }
  }
  if (!lines.length || !span) return null;
  return {
    contents: { kind: MarkupKind.Markdown, value: lines.join('\n\n') },
    range: { start: document.positionAt(span.start), end: document.positionAt(span.end) },
  };
}

function fmt(x: number): string {
  return String(Math.round(x * 10000) / 10000);
}
