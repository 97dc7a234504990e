import type { LoraListItem, RenderLora, RenderLorasResult, SkippedLora } from '../../../../common/src/protocol';
import { PromptLibrary } from '../library';
import { CatalogEntry, LoraCatalog } from '../library/catalog';
import type { LoraCard } from '../library/loraCard';
import { isActivationError, loraActivation } from '../semantics/extraNetworks';
import { PromptSettings } from '../settings';
import { parsePromptDocument, PromptDocument } from '../syntax/document';

/**
 * What the extension's own commands ask of the language service beyond LSP: the LoRA library
 * for the Insert LoRA picker, the prompt's LoRA tags resolved to files for a render, and the
 * file as A1111's generation data. The shapes are the messages' own (common/src/protocol.ts).
 */

/** Cards read at once for the picker: enough to overlap the reads, few enough that headers do not pile up. */
const PARALLEL_CARDS = 16;

/**
 * Every LoRA of the library with what the picker shows: from the card where one was read, else
 * from the summary the scan kept (no file read: 10,000 LoRAs had taken 8-17 s of card reads).
 * Only files without either (a header the scan could not describe, a long trigger list) have
 * their cards read, a few at a time: all at once, 5,000 header reads and sidecar parses were in
 * flight together and the server grew past a gigabyte.
 */
export async function loraPickList(library: PromptLibrary | undefined, settings: PromptSettings): Promise<LoraListItem[]> {
  if (!library) return [];
  const entries = library.catalog.list('lora');
  const cards: (LoraCard | undefined)[] = entries.map((entry) => library.card(entry, false));
  const unread = entries.flatMap((entry, i) => (cards[i] || entry.details.summary ? [] : [i]));
  let next = 0;
  const reader = async () => {
    while (next < unread.length) {
      const i = unread[next++];
      cards[i] = await library.loadCard(entries[i]).catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_CARDS, unread.length) }, reader));
  return entries.map((entry: CatalogEntry, i) => {
    const card = cards[i];
    const shown = card ? { ...card, triggerWords: card.triggerWords.map((t) => t.word) } : entry.details.summary;
    const problem = entry.pickle ? `${entry.extension} pickle: never opened` : library.problem(entry);
    return {
      name: entry.name,
      alias: entry.details.alias && entry.details.alias !== entry.name ? entry.details.alias : undefined,
      subfolder: entry.subfolder,
      path: entry.path,
      baseModel: shown?.baseModel ?? 'unknown',
      kind: shown?.kind ?? 'unknown',
      triggerWords: shown?.triggerWords ?? [],
      weight: shown?.preferredWeight ?? settings.lora.defaultWeight,
      weightSource: shown?.preferredWeight !== undefined ? 'preferred' : 'default',
      previewPath: shown?.previewPath,
      problem,
    };
  });
}

export type { RenderLora };

/**
 * The positive prompt's `<lora:>`/`<lyco:>` tags as A1111 resolves them: names looked up in the
 * library (file name or alias, last file wins), multipliers from the tag. A tag whose weight A1111
 * cannot parse makes it drop every LoRA of the generation, and so does the render.
 */
export function renderLoras(doc: PromptDocument, catalog: LoraCatalog | undefined): Required<RenderLorasResult> {
  const tags = doc.positive.tags.filter((t) => t.type === 'lora' || t.type === 'lyco');
  if (tags.length === 0) return { loras: [], warnings: [], skipped: [] };
  const activations = tags.map((t) => loraActivation(t));
  const failed = activations.find(isActivationError);
  if (failed) {
    return {
      loras: [],
      warnings: [`${failed.error}: A1111 applies no LoRA in this generation, and neither does this render`],
      skipped: tags.map((t) => ({ name: t.positional[0] ?? '', reason: 'invalid-weight', detail: failed.error })),
    };
  }
  const loras: RenderLora[] = [];
  const warnings: string[] = [];
  const skipped: SkippedLora[] = [];
  for (const a of activations) {
    if (isActivationError(a)) continue;
    const entry = catalog?.resolveLora(a.name);
    if (!entry) {
      warnings.push(`LoRA '${a.name}' is not in the library: rendering without it`);
      skipped.push({ name: a.name, reason: 'not-found' });
    } else if (entry.pickle) {
      warnings.push(`LoRA '${a.name}' is a pickle (${entry.extension}), never opened: rendering without it`);
      skipped.push({ name: a.name, reason: 'pickle', detail: entry.extension });
    } else loras.push({ name: a.name, path: entry.path, te: a.te, unet: a.unet, ...(a.dyn !== null ? { dyn: a.dyn } : {}) });
  }
  return { loras, warnings, skipped };
}

/**
 * The file as A1111 writes its infotext (`processing.create_infotext`): the prompt after
 * `strip_comments` (A1111 writes the stripped prompts), `Negative prompt: ...` when there is one,
 * and the parameter line as the file has it; the whole trimmed as A1111 trims it.
 */
export function generationData(doc: PromptDocument): string {
  const prompt = doc.positive.stripped.text.text;
  const negative = doc.negative?.stripped.text.text ?? '';
  const parameters = doc.sections.parameters ? doc.text.slice(doc.sections.parameters.span.start, doc.sections.parameters.span.end).trim() : '';
  return `${prompt}${negative ? `\nNegative prompt: ${negative}` : ''}\n${parameters}`.trim();
}

/**
 * What Render Preview renders for a selection: the selected text as the positive prompt with the
 * file's `Negative prompt:` part and parameter line, so a fragment renders with the file's seed,
 * size and steps. A selection that has a negative prompt or a parameter line of its own is
 * rendered as it is.
 */
export function selectionPromptText(doc: PromptDocument, selected: string): string {
  const own = parsePromptDocument(selected).sections;
  if (own.negative || own.parameters) return selected;
  const { negative, parameters } = doc.sections;
  const slice = (span: { start: number; end: number }) => doc.text.slice(span.start, span.end);
  const lines = [selected.trim()];
  if (negative) lines.push(`Negative prompt: ${slice(negative.content).trim()}`);
  if (parameters) lines.push(slice(parameters.span).trim());
  return lines.join('\n');
}
