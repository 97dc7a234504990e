import { CatalogEntry } from '../library/catalog';
import type { LoraCard } from '../library/loraCard';
import { markdownCode, markdownParagraphs, markdownText } from './displayText';

/**
 * A file path as a `file://` URI (percent-encoded), for links and preview images. The characters
 * encodeURIComponent leaves (`!'()*`) are encoded too: a `)` in a file name would end a Markdown link.
 */
export function fileUri(path: string): string {
  const normalized = path.replace(/\\/g, '/');
  const encode = (part: string) => encodeURIComponent(part).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  return 'file://' + (normalized.startsWith('/') ? '' : '/') + normalized.split('/').map(encode).join('/');
}

function size(bytes: number): string {
  if (bytes >= 1 << 30) return `${(bytes / (1 << 30)).toFixed(2)} GiB`;
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
  return `${Math.max(1, Math.round(bytes / 1024))} KiB`;
}

const code = markdownCode;

/**
 * What a hover card or a completion item says about a library entry: kind, base model,
 * rank, trigger words, preferred weight, file, hash and preview (a markdown image with a width).
 * Everything the file and its sidecars say is escaped (displayText.ts); the only image is the
 * preview file found beside the LoRA on disk.
 */
export function entryMarkdown(
  entry: CatalogEntry,
  options: { card?: LoraCard; problem?: string; shortHash?: string; previewWidth?: number } = {},
): string {
  const lines: string[] = [];
  const card = options.card;
  const title = entry.kind === 'lora' ? 'LoRA' : entry.kind === 'embedding' ? 'Embedding' : 'Hypernetwork';
  const alias = entry.details.alias && entry.details.alias !== entry.name ? ` (alias ${code(entry.details.alias)})` : '';
  lines.push(`**${title}** ${code(entry.name)}${alias}`);
  if (card) {
    const facts = [
      card.kind !== 'unknown' ? card.kind : undefined,
      card.keyStyle !== 'unknown' ? `${card.keyStyle} keys` : undefined,
      card.baseModel !== 'unknown' ? card.baseModel : undefined,
      card.rank !== undefined ? `rank ${card.rank}` : undefined,
      card.alpha !== undefined ? `alpha ${card.alpha}` : undefined,
    ].filter(Boolean);
    if (facts.length) lines.push(facts.join(' · '));
    if (card.triggerWords.length) lines.push(`Trigger words: ${card.triggerWords.slice(0, 12).map((t) => code(t.word)).join(', ')}`);
    const more = [
      card.preferredWeight !== undefined ? `preferred weight ${card.preferredWeight}` : undefined,
      card.trainingModel ? `trained on ${code(card.trainingModel)}` : undefined,
    ].filter(Boolean);
    if (more.length) lines.push(more.join(' · '));
    for (const w of card.warnings) lines.push(`⚠ ${markdownText(w)}`);
  }
  if (entry.pickle) lines.push('⚠ A pickle file (.pt/.ckpt): it can run code when loaded, so sd-prompt never opens it.');
  const problem = options.problem ?? entry.details.error;
  if (problem) lines.push(`⚠ Unreadable: ${markdownText(problem)}`);
  const hash = options.shortHash ?? card?.sshsHash?.slice(0, 12);
  lines.push(`${code(entry.path)} · ${size(entry.size)}${entry.subfolder ? ` · in ${code(entry.subfolder)}` : ''}${hash ? ` · hash ${code(hash)}` : ''}`);
  if (card?.previewPath) lines.push(`![preview of ${markdownText(entry.name)}](${fileUri(card.previewPath)}|width=${options.previewWidth ?? 256})`);
  if (card?.description) lines.push(markdownParagraphs(card.description, 600));
  return lines.join('\n\n');
}
