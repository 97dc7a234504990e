import type { BaseModel } from './modelBase';
import { LibraryFileSystem } from './fileSystem';
import { describeLoraForPicker, gatherSidecars, LoraKind, LoraPickerFields } from './loraCard';
import { decodeHeader, isSafetensorsError, parseHeaderJson } from './safetensors';

/**
 * What the Insert LoRA picker shows of a LoRA, taken at scan time from the header the scan reads
 * anyway and the sidecars its folder listing names, so the picker's list needs no file read (it had
 * read every card again: 10,000 LoRAs took 8-17 s). `describeLoraForPicker` computes those fields
 * with the card's own functions, so the two agree; a summary exists only where it stays small
 * (see MAX_SUMMARY_WORDS).
 */
export interface LoraSummary {
  baseModel: BaseModel;
  kind: LoraKind;
  triggerWords: string[];
  preferredWeight?: number;
  previewPath?: string;
}

/**
 * Bounds what a scan keeps per file: a card with more trigger text keeps no summary (the picker
 * then reads its card), so a library of civitai downloads with long word lists stays small.
 */
const MAX_SUMMARY_WORDS = 64;
const MAX_SUMMARY_CHARACTERS = 2048;

/** The picker's fields of a card, or undefined where they would not be small. */
export function summaryOfCard(card: LoraPickerFields): LoraSummary | undefined {
  const triggerWords = card.triggerWords.map((t) => t.word);
  if (triggerWords.length > MAX_SUMMARY_WORDS) return undefined;
  if (triggerWords.reduce((sum, w) => sum + w.length, 0) + (card.previewPath?.length ?? 0) > MAX_SUMMARY_CHARACTERS) return undefined;
  const summary: LoraSummary = { baseModel: card.baseModel, kind: card.kind, triggerWords };
  if (card.preferredWeight !== undefined) summary.preferredWeight = card.preferredWeight;
  if (card.previewPath !== undefined) summary.previewPath = card.previewPath;
  return summary;
}

/**
 * The summary of a LoRA whose header bytes (`headerLength` of them, after the 8-byte prefix) the
 * scan has in hand. Undefined where the header is not sound (the card, read on demand, says why)
 * or a sidecar cannot be read; it never throws.
 */
export async function summarizeLora(
  fs: LibraryFileSystem,
  path: string,
  headerBytes: Uint8Array,
  fileSize: number,
  siblings?: ReadonlySet<string>,
): Promise<LoraSummary | undefined> {
  const json = decodeHeader(headerBytes);
  if (isSafetensorsError(json)) return undefined;
  const header = parseHeaderJson(json, headerBytes.length, fileSize);
  if (isSafetensorsError(header)) return undefined;
  try {
    return summaryOfCard(describeLoraForPicker(header, await gatherSidecars(fs, path, header, siblings, false)));
  } catch {
    return undefined;
  }
}
