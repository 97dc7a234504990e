import { parseDocument } from 'yaml';
import { pyFloat } from '../semantics/pyNumbers';
import { pyStrip } from './parser';

/**
 * Reading one wildcard file as dynamicprompts 0.31.0 does (`wildcards/collection/*`):
 * text files give one value a line; YAML and JSON files give one collection per list, named
 * by the path of keys to it.
 */
export type WildcardItem = string | { content: string; weight: number };

export interface WildcardFileCollection {
  /** Name inside the file (`a/b` for nested keys); '' for a text file or a top-level list. */
  key: string;
  items: WildcardItem[];
}

export interface WildcardFileResult {
  collections: WildcardFileCollection[];
  /** What dynamicprompts logs and skips (a key whose value is neither a list nor a map, a file it cannot parse). */
  warnings: string[];
}

/**
 * A text file: each line stripped, blank lines and lines whose stripped text starts with `#`
 * skipped, duplicates dropped (dynamicprompts keeps a set). Lines end at `\n`, `\r\n` or
 * `\r`, as Python's text mode reads them. A `#` later in a line is part of the value.
 */
export function parseWildcardText(text: string): string[] {
  const seen = new Set<string>();
  for (const line of text.split(/\r\n|\r|\n/)) {
    const value = pyStrip(line);
    if (value === '' || value.startsWith('#')) continue;
    seen.add(value);
  }
  return [...seen];
}

/** A `.yaml` (YAML 1.1, as PyYAML's safe_load) or `.json` file. */
export function parseStructuredWildcards(text: string, kind: 'yaml' | 'json', stem: string): WildcardFileResult {
  const warnings: string[] = [];
  let data: unknown;
  try {
    if (kind === 'json') data = JSON.parse(text);
    else {
      const doc = parseDocument(text, { version: '1.1', uniqueKeys: false });
      if (doc.errors.length) throw new Error(doc.errors[0].message);
      data = doc.toJS({ mapAsMap: true });
    }
  } catch (e) {
    return { collections: [], warnings: [`cannot read it as ${kind.toUpperCase()}: ${(e as Error).message.split('\n')[0]}`] };
  }
  if (kind === 'json' && isPlainObject(data)) data = new Map(Object.entries(data as Record<string, unknown>));
  const collections: WildcardFileCollection[] = [];
  if (data instanceof Map) walkMap(data, [], collections, warnings, kind);
  else if (Array.isArray(data)) {
    // A flat list: the string entries, as they are (no weights, empty strings kept).
    const entries = data.filter((e): e is string => typeof e === 'string');
    if (entries.length) collections.push({ key: stem, items: entries });
  }
  return { collections, warnings };
}

function isPlainObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function walkMap(map: Map<unknown, unknown>, prefix: string[], out: WildcardFileCollection[], warnings: string[], kind: 'yaml' | 'json'): void {
  for (const [name, rawValue] of map) {
    if (typeof name !== 'string') continue;
    const path = [...prefix, name];
    let value = rawValue;
    if (kind === 'json' && isPlainObject(value)) value = new Map(Object.entries(value as Record<string, unknown>));
    if (Array.isArray(value)) out.push({ key: path.join('/'), items: listItems(value, warnings, path.join('/'), kind) });
    else if (value instanceof Map) walkMap(value, path, out, warnings, kind);
    else warnings.push(`key '${path.join('/')}' holds neither a list nor a map; dynamicprompts skips it`);
  }
}

/** `_parse_structured_file_list`: strings (`2::text` gives a weight), `{text|content, weight}` maps. */
function listItems(list: unknown[], warnings: string[], key: string, kind: 'yaml' | 'json'): WildcardItem[] {
  const items: WildcardItem[] = [];
  for (let item of list) {
    if (isFalsy(item)) continue;
    if (typeof item === 'string') {
      if (/^\p{Nd}/u.test(item) && item.includes('::')) {
        const cut = item.lastIndexOf('::');
        const weight = pyFloat(item.slice(0, cut));
        if (weight !== undefined) {
          items.push({ content: item.slice(cut + 2), weight });
          continue;
        }
      }
      items.push(item);
      continue;
    }
    if (kind === 'json' && isPlainObject(item)) item = new Map(Object.entries(item as Record<string, unknown>));
    if (item instanceof Map) {
      const rawWeight = item.has('weight') ? item.get('weight') : 1;
      const weight = typeof rawWeight === 'number' ? rawWeight : typeof rawWeight === 'string' ? pyFloat(rawWeight) : undefined;
      if (weight === undefined) {
        warnings.push(`key '${key}': an item's weight ${JSON.stringify(rawWeight)} is not a number; dynamicprompts drops this list`);
        return [];
      }
      const text = item.get('text');
      const contentValue = !isFalsy(text) ? text : !isFalsy(item.get('content')) ? item.get('content') : '';
      if (!isFalsy(contentValue)) {
        const content = String(contentValue);
        items.push(weight === 1 ? content : { content, weight });
        continue;
      }
    }
    warnings.push(`key '${key}': unsupported list item ${JSON.stringify(item instanceof Map ? Object.fromEntries(item) : item)} skipped`);
  }
  return items;
}

/** Python truthiness for parsed YAML/JSON values. */
function isFalsy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  if (v instanceof Map) return v.size === 0;
  if (isPlainObject(v)) return Object.keys(v as object).length === 0;
  return false;
}
