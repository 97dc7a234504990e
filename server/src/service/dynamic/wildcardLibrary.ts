import { LibraryFileSystem, joinPath } from '../library/fileSystem';
import { fnmatch } from './fnmatch';
import { WildcardItem, parseStructuredWildcards, parseWildcardText } from './wildcardFiles';

/**
 * The wildcard collections of one or more folders, named and matched as dynamicprompts'
 * WildcardManager does: `dir/name` for `dir/name.txt`, `dir/file-key/sub-key` for lists in
 * `dir/file.yaml` or `.json` (a top-level list takes the file's name), globs matched with
 * fnmatch, and a name that matches nothing retried as `**\/name`. Values are deduplicated and
 * sorted (dynamicprompts' defaults).
 */
export interface WildcardCollection {
  name: string;
  items: WildcardItem[];
  /** The file it came from, and the key path inside a YAML/JSON file. */
  file: string;
  key?: string;
}

export interface WildcardLoadProblem {
  file: string;
  message: string;
}

export class WildcardValues {
  readonly stringValues: string[];
  readonly hasVariedWeights: boolean;
  private cum?: number[];

  constructor(readonly items: readonly WildcardItem[]) {
    this.stringValues = items.map(itemText);
    const weights = new Set(items.map(itemWeight));
    this.hasVariedWeights = weights.size > 1;
  }

  get length(): number {
    return this.items.length;
  }

  get cumWeights(): number[] {
    if (!this.cum) {
      let total = 0;
      this.cum = this.items.map((item, i) => (total = i === 0 ? itemWeight(item) : total + itemWeight(item)));
    }
    return this.cum;
  }

  /** Each value repeated int(weight) times, in order (combinatorial mode, `{2$$__x__}`). */
  *weightedStrings(): Generator<string> {
    for (const item of this.items) {
      const n = Math.trunc(itemWeight(item));
      for (let i = 0; i < n; i++) yield itemText(item);
    }
  }
}

export function itemText(item: WildcardItem): string {
  return typeof item === 'string' ? item : item.content;
}

export function itemWeight(item: WildcardItem): number {
  return typeof item === 'string' ? 1 : item.weight;
}

export class WildcardLibrary {
  private readonly cache = new Map<string, WildcardValues>();

  constructor(
    /** In dynamicprompts' order: later folders and files replace earlier ones of the same name. */
    readonly collections: ReadonlyMap<string, WildcardCollection>,
    readonly problems: readonly WildcardLoadProblem[] = [],
    /** Every folder read (to watch for changes). */
    readonly folders: readonly string[] = [],
  ) {}

  /** A library from name → values (tests, or values held in memory). */
  static fromValues(values: Record<string, WildcardItem[]>): WildcardLibrary {
    const map = new Map<string, WildcardCollection>();
    for (const [name, items] of Object.entries(values)) map.set(name, { name, items, file: '' });
    return new WildcardLibrary(map);
  }

  names(): string[] {
    return [...this.collections.keys()];
  }

  /** The collections `wildcard` (a name or glob, `__` wrap allowed) names, without the `**\/` retry. */
  matchCollections(wildcard: string): WildcardCollection[] {
    const pattern = cleanWildcard(wildcard);
    if (pattern === undefined) return [];
    const out: WildcardCollection[] = [];
    for (const [name, collection] of this.collections) if (fnmatch(name, pattern)) out.push(collection);
    return out;
  }

  /** The collections whose values `__wildcard__` draws from (with dynamicprompts' `**\/` retry). */
  resolve(wildcard: string): WildcardCollection[] {
    const direct = this.matchCollections(wildcard).filter((c) => c.items.length > 0);
    if (direct.length || wildcard.startsWith('**')) return direct;
    return this.matchCollections(`**/${wildcard}`).filter((c) => c.items.length > 0);
  }

  /** `WildcardManager.get_values`: every matching value, deduplicated, sorted by code point. */
  values(wildcard: string): WildcardValues {
    let cached = this.cache.get(wildcard);
    if (!cached) {
      const items = this.resolve(wildcard).flatMap((c) => c.items);
      const seen = new Set<string>();
      const unique: WildcardItem[] = [];
      for (const item of items) {
        const key = typeof item === 'string' ? `s${item}` : `w${item.weight}\u0000${item.content}`;
        if (seen.has(key)) continue;
        seen.add(key);
        unique.push(item);
      }
      unique.sort((a, b) => compareCodePoints(itemText(a), itemText(b)));
      cached = new WildcardValues(unique);
      if (this.cache.size > 100) this.cache.clear();
      this.cache.set(wildcard, cached);
    }
    return cached;
  }
}

/** `clean_wildcard`: `\` as `/`, trailing `/` and the `__` wrap dropped; a leading `/` or `..` names nothing. */
export function cleanWildcard(wildcard: string): string | undefined {
  let w = wildcard.replace(/\\/g, '/').replace(/\/+$/, '');
  if (w.startsWith('__')) w = w.slice(2);
  if (w.endsWith('__')) w = w.slice(0, -2);
  if (w.startsWith('/') || w.includes('..')) return undefined;
  return w;
}

/** Python's string order (by code point; JavaScript's default compares UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

/**
 * Walks each folder as `os.walk(root, followlinks=True)` does (folders starting with `.`
 * skipped, links followed once), reading `.txt`, `.yaml` and `.json` files. Entries are taken
 * in name order so a name given twice resolves the same way on every machine.
 */
export async function loadWildcardLibrary(fs: LibraryFileSystem, roots: readonly string[]): Promise<WildcardLibrary> {
  const collections = new Map<string, WildcardCollection>();
  const problems: WildcardLoadProblem[] = [];
  const visited: string[] = [];
  for (const root of roots) {
    const seen = new Set<string>();
    const walk = async (folder: string, relative: string): Promise<void> => {
      let real = folder;
      try {
        real = await fs.realPath(folder);
      } catch {
        // keep the path as given
      }
      if (seen.has(real)) return;
      seen.add(real);
      visited.push(folder);
      let entries;
      try {
        entries = await fs.readDirectory(folder);
      } catch (e) {
        problems.push({ file: folder, message: `cannot list the folder: ${(e as Error).message}` });
        return;
      }
      entries = [...entries].sort((a, b) => compareCodePoints(a.name, b.name));
      const folders: { path: string; relative: string }[] = [];
      for (const entry of entries) {
        const path = joinPath(folder, entry.name);
        let kind = entry.kind;
        if (kind === 'symlink') {
          try {
            const st = await fs.stat(path);
            kind = st.kind === 'directory' ? 'directory' : st.kind === 'file' ? 'file' : 'other';
          } catch {
            continue;
          }
        }
        const childRelative = relative ? `${relative}/${entry.name}` : entry.name;
        if (kind === 'directory') {
          if (!entry.name.startsWith('.')) folders.push({ path, relative: childRelative });
          continue;
        }
        if (kind !== 'file') continue;
        await readFile(fs, path, entry.name, relative, collections, problems);
      }
      for (const sub of folders) await walk(sub.path, sub.relative);
    };
    await walk(root.replace(/[\\/]+$/, '') || '/', '');
  }
  return new WildcardLibrary(collections, problems, visited);
}

/** Python's `Path.suffix`: from the last dot, unless the name starts or ends with it. */
function suffixOf(name: string): [string, string] {
  const dot = name.lastIndexOf('.');
  if (dot <= 0 || dot === name.length - 1) return [name, ''];
  return [name.slice(0, dot), name.slice(dot)];
}

async function readFile(
  fs: LibraryFileSystem,
  path: string,
  fileName: string,
  relative: string,
  collections: Map<string, WildcardCollection>,
  problems: WildcardLoadProblem[],
): Promise<void> {
  const [stem, suffix] = suffixOf(fileName);
  if (suffix !== '.txt' && suffix !== '.yaml' && suffix !== '.json') return;
  let text: string;
  try {
    text = await fs.readText(path);
  } catch (e) {
    problems.push({ file: path, message: `cannot read the file: ${(e as Error).message}` });
    return;
  }
  const prefix = relative ? `${relative}/` : '';
  if (suffix === '.txt') {
    const name = prefix + stem;
    collections.set(name, { name, items: parseWildcardText(text), file: path });
    return;
  }
  const parsed = parseStructuredWildcards(text, suffix === '.json' ? 'json' : 'yaml', stem);
  for (const warning of parsed.warnings) problems.push({ file: path, message: warning });
  for (const c of parsed.collections) {
    const name = prefix + c.key;
    collections.set(name, { name, items: c.items, file: path, key: c.key });
  }
}
