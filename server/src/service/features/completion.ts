import { CompletionItem, CompletionItemKind, CompletionList, InsertTextFormat, MarkupKind, Range } from 'vscode-languageserver-types';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { PromptLibrary } from '../library';
import { CatalogEntry, NetworkKind } from '../library/catalog';
import { PromptSettings } from '../settings';
import { PromptDocument } from '../syntax/document';
import { entryMarkdown } from './loraCardMarkdown';
import { TagIndex } from '../tags/tagIndex';
import { tagCompletions } from './tagCompletion';

/** What completion items carry to `completionItem/resolve`. */
interface ItemData {
  kind: NetworkKind;
  path: string;
}

const TYPE_SO_FAR = /<([\p{L}\p{N}_]*)$/u;
const NAME_SO_FAR = /<(lora|lyco|hypernet):([^:>]*)$/u;
const WEIGHT_SO_FAR = /<(lora|lyco):([^:>]+):([^:>]*)$/u;
const WORD_SO_FAR = /[\p{L}\p{N}_\-.]*$/u;
/**
 * At most this many library items per answer, best matches of what was typed first; the
 * list is marked incomplete so the editor asks again as the user types. Sending 20,000
 * items for a big library costs more than the whole lookup.
 */
export const MAX_LIBRARY_ITEMS = 300;

/**
 * Completion: after `<` whole tags from the library, after `<lora:` names (alias and file
 * name, the subfolder as detail), after the name's `:` the preferred or default weight,
 * and in plain text the embeddings and the trigger words of the prompt's LoRAs.
 */
export async function completions(
  document: TextDocument,
  doc: PromptDocument,
  offset: number,
  settings: PromptSettings,
  library: PromptLibrary | undefined,
  tags?: TagIndex,
): Promise<CompletionList> {
  const position = document.positionAt(offset);
  const lineStart = document.offsetAt({ line: position.line, character: 0 });
  const before = doc.text.slice(lineStart, offset);
  const after = doc.text.slice(offset, offset + 1);
  const catalog = library?.catalog;
  const range = (length: number): Range => ({ start: document.positionAt(offset - length), end: position });
  const items: CompletionItem[] = [];

  const weight = WEIGHT_SO_FAR.exec(before);
  if (weight) {
    const entry = catalog?.resolveLora(weight[2]);
    const preferred = entry ? (await library!.loadCard(entry))?.preferredWeight : undefined;
    const values = [...new Set([preferred, settings.lora.defaultWeight, 1].filter((v): v is number => v !== undefined))];
    values.forEach((v, i) =>
      items.push({
        label: String(v),
        kind: CompletionItemKind.Value,
        detail: v === preferred ? 'preferred weight of this LoRA' : v === settings.lora.defaultWeight ? 'sdPrompt.lora.defaultWeight' : 'full strength',
        sortText: String(i),
        textEdit: { range: range(weight[3].length), newText: after === '>' ? String(v) : `${v}>` },
      }),
    );
    return { isIncomplete: false, items };
  }

  const name = NAME_SO_FAR.exec(before);
  if (name && catalog) {
    const kind: NetworkKind = name[1] === 'hypernet' ? 'hypernet' : 'lora';
    const closeFollows = after === ':' || after === '>';
    const { matches, complete } = bestMatches(catalog.list(kind), name[2]);
    for (const { entry, label } of matches) {
      const defaultWeight = library!.card(entry, false)?.preferredWeight ?? settings.lora.defaultWeight;
      items.push({
        label,
        kind: CompletionItemKind.Module,
        detail: entry.subfolder ? `${entry.subfolder}/` : label !== entry.name ? `alias of ${entry.name}` : undefined,
        data: { kind, path: entry.path } satisfies ItemData,
        insertTextFormat: closeFollows ? InsertTextFormat.PlainText : InsertTextFormat.Snippet,
        textEdit: { range: range(name[2].length), newText: closeFollows ? label : `${escapeSnippet(label)}:\${1:${defaultWeight}}>$0` },
      });
    }
    return { isIncomplete: !complete, items };
  }

  const type = TYPE_SO_FAR.exec(before);
  if (type && catalog) {
    let allComplete = true;
    for (const kind of ['lora', 'hypernet'] as const) {
      const tagType = kind;
      const typed = type[1].startsWith(tagType) ? type[1].slice(tagType.length) : '';
      const { matches, complete } = bestMatches(catalog.list(kind), typed);
      allComplete &&= complete;
      for (const { entry, label } of matches) {
        const w = kind === 'lora' ? (library!.card(entry, false)?.preferredWeight ?? settings.lora.defaultWeight) : 1;
        items.push({
          label: `${tagType}:${label}`,
          kind: CompletionItemKind.Module,
          detail: entry.subfolder ? `${entry.subfolder}/` : undefined,
          data: { kind, path: entry.path } satisfies ItemData,
          insertTextFormat: InsertTextFormat.Snippet,
          textEdit: { range: range(type[1].length), newText: `${tagType}:${escapeSnippet(label)}:\${1:${w}}>$0` },
        });
      }
    }
    return { isIncomplete: !allComplete, items };
  }

  const word = WORD_SO_FAR.exec(before)![0];
  if (catalog) {
    for (const entry of catalog.list('embedding')) {
      items.push({
        label: entry.name,
        kind: CompletionItemKind.Reference,
        detail: 'embedding',
        data: { kind: 'embedding', path: entry.path } satisfies ItemData,
        textEdit: { range: range(word.length), newText: entry.name },
      });
    }
    const seen = new Set<string>();
    for (const tag of doc.positive.tags) {
      const entry = tag.positional[0] !== undefined ? catalog.resolveLora(tag.positional[0]) : undefined;
      const card = entry ? await library!.loadCard(entry) : undefined;
      for (const trigger of card?.triggerWords ?? []) {
        if (seen.has(trigger.word)) continue;
        seen.add(trigger.word);
        items.push({
          label: trigger.word,
          kind: CompletionItemKind.Keyword,
          detail: `trigger word of ${entry!.name}`,
          sortText: `0${trigger.word}`,
          textEdit: { range: range(word.length), newText: trigger.word },
        });
      }
    }
  }
  const tagged = tags && tagCompletions(document, doc, offset, tags);
  if (tagged) items.push(...tagged.items);
  return { isIncomplete: tagged?.isIncomplete ?? false, items };
}

/** Adds the card to an item picked from the list. */
export async function resolveCompletion(item: CompletionItem, library: PromptLibrary | undefined): Promise<CompletionItem> {
  const data = item.data as ItemData | undefined;
  if (!data || !library) return item;
  const entry = library.catalog.list(data.kind).find((e) => e.path === data.path);
  if (!entry) return item;
  const card = entry.kind === 'lora' ? await library.loadCard(entry) : undefined;
  item.documentation = { kind: MarkupKind.Markdown, value: entryMarkdown(entry, { card, problem: library.problem(entry), previewWidth: 200 }) };
  return item;
}

/**
 * The entries' labels that match what was typed, best first: same start, then containing it,
 * then containing its letters in order; case-insensitive; at most MAX_LIBRARY_ITEMS.
 */
function bestMatches(entries: CatalogEntry[], typed: string): { matches: { entry: CatalogEntry; label: string }[]; complete: boolean } {
  const query = typed.toLowerCase();
  const ranked: { entry: CatalogEntry; label: string; rank: number }[] = [];
  for (const entry of entries) {
    for (const label of labelsOf(entry)) {
      const rank = matchRank(label.toLowerCase(), query);
      if (rank >= 0) ranked.push({ entry, label, rank });
    }
  }
  if (ranked.length <= MAX_LIBRARY_ITEMS) return { matches: ranked, complete: true };
  ranked.sort((a, b) => a.rank - b.rank);
  return { matches: ranked.slice(0, MAX_LIBRARY_ITEMS), complete: false };
}

function matchRank(label: string, query: string): number {
  if (query === '' || label.startsWith(query)) return 0;
  if (label.includes(query)) return 1;
  let at = 0;
  for (const ch of query) {
    at = label.indexOf(ch, at) + 1;
    if (at === 0) return -1;
  }
  return 2;
}

/** A LoRA is reachable by its file name and by its alias. */
function labelsOf(entry: CatalogEntry): string[] {
  const alias = entry.details.alias;
  return alias && alias !== entry.name ? [entry.name, alias] : [entry.name];
}

function escapeSnippet(text: string): string {
  return text.replace(/[$}\\]/g, (c) => '\\' + c);
}
