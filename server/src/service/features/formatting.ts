import { TextEdit } from 'vscode-languageserver-types';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { KNOWN_NETWORK_TYPES } from '../semantics/extraNetworks';
import { pyFloat } from '../semantics/pyNumbers';
import { PromptDocument } from '../syntax/document';

/**
 * Formatting normalizes extra-network tags and changes nothing else: `<lora: x : 0.8>` →
 * `<lora:x:0.8>`. Spaces in a name change which file A1111 loads, so removing them is the
 * fix; spaces around numbers change nothing for A1111, so removing them is safe.
 */
export function formatDocument(document: TextDocument, doc: PromptDocument, range?: { start: number; end: number }): TextEdit[] {
  const edits: TextEdit[] = [];
  for (const part of [doc.positive, doc.negative]) {
    if (!part) continue;
    for (const tag of part.tags) {
      if (range && (tag.span.end < range.start || tag.span.start > range.end)) continue;
      if (!(KNOWN_NETWORK_TYPES as readonly string[]).includes(tag.type)) continue;
      const original = doc.text.slice(tag.span.start, tag.span.end);
      // Comments inside the tag would be lost by rewriting it whole.
      if (original.includes('#')) continue;
      const items = tag.items.map((item, index) => {
        if (item.key !== undefined) return `${item.key.trim()}=${normalizeNumber(item.value!)}`;
        return index === 0 ? item.text.trim() : normalizeNumber(item.text);
      });
      const normalized = `<${tag.type}:${items.join(':')}>`;
      if (normalized !== original) {
        edits.push({
          range: { start: document.positionAt(tag.span.start), end: document.positionAt(tag.span.end) },
          newText: normalized,
        });
      }
    }
  }
  return edits;
}

/** A number's surrounding spaces go; anything else stays exactly as written. */
function normalizeNumber(text: string): string {
  const trimmed = text.trim();
  return pyFloat(trimmed) !== undefined ? trimmed : text;
}
