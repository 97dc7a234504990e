import { baseName, dirName, joinPath, LibraryFileSystem, splitExt } from './fileSystem';
import type { LoraSummary } from './loraSummary';
import { compareKeys, naturalKey } from './naturalSort';

const sortKeys = new WeakMap<CatalogEntry, { folder: (string | number)[]; file: (string | number)[] }>();

/**
 * The user's extra networks as A1111 lists them (`networks.list_available_networks`):
 * recursive, hidden folders skipped, name = file name without extension, alias =
 * `ss_output_name`, lookups exact and case-sensitive, the last file in A1111's scan order
 * wins. Folder changes update single entries: headers are never re-read for unchanged files.
 */
export type NetworkKind = 'lora' | 'embedding' | 'hypernet' | 'checkpoint' | 'vae';

export interface LibraryRoots {
  lora: string[];
  embedding: string[];
  hypernet: string[];
  /** A1111's `models/Stable-diffusion` (ComfyUI: `models/checkpoints`). */
  checkpoint?: string[];
  /** A1111's `models/VAE`. */
  vae?: string[];
}

const KINDS = ['lora', 'embedding', 'hypernet', 'checkpoint', 'vae'] as const;

/** What the catalog needs to know about a LoRA file's contents (see loraCard.ts). */
export interface EntryDetails {
  /** `ss_output_name`: A1111's alias for the file. */
  alias?: string;
  /** Why the file could not be read, when it could not. */
  error?: string;
  /** For a textual-inversion embedding: how many token vectors it stands for. */
  vectors?: number;
  /** For a LoRA: what the Insert LoRA picker shows, kept by the scan (absent where it would be large). */
  summary?: LoraSummary;
  /** For a checkpoint or VAE: what its header says (see checkpoints.ts). */
  model?: ModelFileDetails;
}

/** A checkpoint's or VAE's header, read by the scan (the tensors never are). */
export interface ModelFileDetails {
  /** The family its keys and shapes say (`sd1`, `sd2`, `sdxl`), or what it is that the engine cannot render (`SD3`, `FLUX`...). */
  family: string;
  /** Whether the renderer can run it (a family it knows, every required key there). */
  renderable: boolean;
  /** Why not, when it cannot. */
  problem?: string;
  /** The tensors' float dtype (`F16`, `BF16`, `F32`, or `mixed`). */
  dtype: string;
  /** A1111's legacy 8-hex model hash (sha256 of 64 KiB at 1 MiB): cheap, so the scan computes it. */
  legacyHash: string;
}

export interface CatalogEntry {
  kind: NetworkKind;
  name: string;
  path: string;
  root: string;
  /** Folder below the root ('' at the top), '/'-separated. */
  subfolder: string;
  /** Lower-case extension with its dot. */
  extension: string;
  size: number;
  mtimeMs: number;
  /** `.pt`/`.ckpt`: Python pickles that can run code when opened. We never open them. */
  pickle: boolean;
  details: EntryDetails;
}

export interface CatalogProblem {
  path: string;
  message: string;
}

const EXTENSIONS: Record<NetworkKind, ReadonlySet<string>> = {
  lora: new Set(['.safetensors', '.pt', '.ckpt']),
  embedding: new Set(['.safetensors', '.pt', '.bin']),
  hypernet: new Set(['.pt', '.safetensors', '.ckpt']),
  checkpoint: new Set(['.safetensors', '.ckpt']),
  vae: new Set(['.safetensors', '.pt', '.ckpt']),
};
const PICKLES = new Set(['.pt', '.ckpt', '.bin']);
/** A1111 starts its forbidden-alias table with these. */
const ALWAYS_FORBIDDEN = ['none', 'addams'];
/** Header reads in flight during a scan. */
const PARALLEL_READS = 16;

/** Reads a LoRA's details; `siblings` are the names in its folder when the scan listed it already. */
export type Describe = (entry: Omit<CatalogEntry, 'details'>, siblings?: ReadonlySet<string>) => Promise<EntryDetails>;

export class LoraCatalog {
  private roots: Required<LibraryRoots> = { lora: [], embedding: [], hypernet: [], checkpoint: [], vae: [] };
  private entriesByPath = new Map<string, CatalogEntry>();
  private ordered: CatalogEntry[] = [];
  private aliases = new Map<string, CatalogEntry>();
  private names = new Map<string, CatalogEntry>();
  private forbidden = new Set<string>(ALWAYS_FORBIDDEN);
  private hypernets = new Map<string, CatalogEntry>();
  private listeners: (() => void)[] = [];
  /** One watcher per scanned folder, by path. */
  private watchers = new Map<string, () => void>();
  private scannedFolders = new Set<string>();
  private pendingEvents = new Set<string>();
  private eventTimer: ReturnType<typeof setTimeout> | undefined;
  private generation = 0;
  problems: CatalogProblem[] = [];
  /** True once a scan of the configured folders has finished. */
  ready = false;
  /** The scan setRoots is running, until it ends. */
  private scanning: Promise<void> | undefined;

  constructor(
    private readonly fs: LibraryFileSystem,
    private readonly describe: Describe,
    private readonly eventDelayMs = 50,
  ) {}

  /** Every entry of a kind, in A1111's scan order. */
  list(kind: NetworkKind = 'lora'): CatalogEntry[] {
    return this.ordered.filter((e) => e.kind === kind);
  }

  hasFolders(kind: NetworkKind = 'lora'): boolean {
    return this.roots[kind].length > 0;
  }

  /** What `<lora:NAME>` loads in A1111: a name or an alias, exactly; undefined when A1111 finds nothing. */
  resolveLora(name: string): CatalogEntry | undefined {
    return this.aliases.get(name);
  }

  /** Whether several files claim this alias (A1111 then shows file names instead). */
  isAmbiguousAlias(name: string): boolean {
    return this.forbidden.has(name.toLowerCase()) && !ALWAYS_FORBIDDEN.includes(name.toLowerCase()) && !this.names.has(name);
  }

  /** Files whose alias is `alias`, in scan order. */
  filesWithAlias(alias: string): CatalogEntry[] {
    return this.list('lora').filter((e) => (e.details.alias ?? e.name) === alias);
  }

  resolveHypernet(name: string): CatalogEntry | undefined {
    return this.hypernets.get(name);
  }

  onDidChange(listener: () => void): () => void {
    this.listeners.push(listener);
    return () => (this.listeners = this.listeners.filter((l) => l !== listener));
  }

  /**
   * Whether the first scan has finished, waiting for a running one up to `maxMs`: a hover asked while the
   * folders are being read (the first second after the editor opens) then shows the library's card
   * instead of a bare one. Never waits when no scan is running.
   */
  async settled(maxMs: number): Promise<boolean> {
    if (this.ready || !this.scanning) return this.ready;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.scanning, new Promise<void>((resolve) => (timer = setTimeout(resolve, maxMs)))]);
    clearTimeout(timer);
    return this.ready;
  }

  /** Sets the folders and scans them all (the only full scan); watches them when the file system can. */
  async setRoots(roots: LibraryRoots): Promise<void> {
    const scan = this.scanRoots(roots);
    this.scanning = scan;
    try {
      await scan;
    } finally {
      if (this.scanning === scan) this.scanning = undefined;
    }
  }

  private async scanRoots(roots: LibraryRoots): Promise<void> {
    const generation = ++this.generation;
    this.stopWatching();
    this.scannedFolders = new Set();
    this.roots = { checkpoint: [], vae: [], ...roots };
    const problems: CatalogProblem[] = [];
    const found: CatalogEntry[] = [];
    for (const kind of KINDS) {
      for (const root of this.roots[kind]) found.push(...(await this.scanFolder(kind, root, root, problems)));
    }
    if (generation !== this.generation) return; // a newer setRoots won
    this.entriesByPath = new Map(found.map((e) => [`${e.kind}:${e.path}`, e]));
    this.problems = problems;
    this.rebuild();
    this.ready = true;
    this.startWatching();
    this.fire();
  }

  /** Several paths changed together (a rename, a copy): update them, then notify once. */
  async refreshPaths(paths: string[]): Promise<void> {
    for (const path of paths) await this.updatePath(path);
    this.rebuild();
    this.fire();
  }

  private async updatePath(path: string): Promise<void> {
    const problems: CatalogProblem[] = [];
    for (const kind of KINDS) {
      for (const root of this.roots[kind]) {
        if (path !== root && !path.startsWith(root.endsWith('/') ? root : root + '/')) continue;
        // Drop what was there, then add what is there now.
        for (const key of [...this.entriesByPath.keys()]) {
          const entry = this.entriesByPath.get(key)!;
          if (entry.kind === kind && entry.root === root && (entry.path === path || entry.path.startsWith(path + '/'))) {
            this.entriesByPath.delete(key);
          }
        }
        await this.redescribeOwners(kind, root, path);
        let stat;
        try {
          stat = await this.fs.stat(path);
        } catch {
          this.forgetFolder(path); // removed
          continue;
        }
        if (isHidden(root, stat.kind === 'directory' ? path : dirName(path))) continue;
        if (stat.kind === 'directory') {
          for (const e of await this.scanFolder(kind, root, path, problems)) this.entriesByPath.set(`${e.kind}:${e.path}`, e);
        } else if (stat.kind === 'file') {
          const entry = await this.entryFor(kind, root, path, stat.size, stat.mtimeMs);
          if (entry) this.entriesByPath.set(`${kind}:${path}`, entry);
        }
      }
    }
    this.problems = this.problems.filter((p) => !p.path.startsWith(path)).concat(problems);
    this.startWatching();
  }

  /**
   * A sidecar (`NAME.json`, `NAME.civitai.info`, `NAME.preview.png`...) was added, changed or
   * removed: the entries it belongs to are described again, so what the scan kept of it (the
   * picker's trigger words, weight, preview) and the cards read from it follow the edit.
   */
  private async redescribeOwners(kind: NetworkKind, root: string, path: string): Promise<void> {
    if (EXTENSIONS[kind].has(splitExt(path)[1].toLowerCase())) return;
    const folder = dirName(path);
    const file = baseName(path);
    for (const [key, entry] of this.entriesByPath) {
      if (entry.kind !== kind || entry.root !== root || dirName(entry.path) !== folder || !file.startsWith(entry.name + '.')) continue;
      const fresh = await this.entryFor(kind, root, entry.path, entry.size, entry.mtimeMs);
      if (fresh) this.entriesByPath.set(key, fresh);
    }
  }

  /** Something the entries depend on changed (a card was read): tell the listeners. */
  notifyChanged(): void {
    this.fire();
  }

  dispose(): void {
    this.stopWatching();
    clearTimeout(this.eventTimer);
    this.listeners = [];
  }

  private async scanFolder(kind: NetworkKind, root: string, start: string, problems: CatalogProblem[]): Promise<CatalogEntry[]> {
    const files: { path: string; size: number; mtimeMs: number; siblings: ReadonlySet<string> }[] = [];
    const seen = new Set<string>();
    const walk = async (folder: string): Promise<void> => {
      let real: string;
      try {
        real = await this.fs.realPath(folder);
      } catch (e) {
        problems.push({ path: folder, message: `cannot resolve ${folder}: ${errorText(e)}` });
        return;
      }
      if (seen.has(real)) {
        problems.push({ path: folder, message: `${folder} links back to ${real}: a symlink loop, skipped` });
        return;
      }
      seen.add(real);
      this.scannedFolders.add(folder);
      let children;
      try {
        children = await this.fs.readDirectory(folder);
      } catch (e) {
        problems.push({ path: folder, message: `cannot read folder ${folder}: ${errorText(e)}` });
        return;
      }
      const siblings = new Set(children.map((c) => c.name));
      for (const child of children) {
        const path = joinPath(folder, child.name);
        let kindOf = child.kind;
        let size = 0;
        let mtimeMs = 0;
        if (kindOf === 'symlink' || kindOf === 'file') {
          try {
            const st = await this.fs.stat(path);
            kindOf = st.kind;
            size = st.size;
            mtimeMs = st.mtimeMs;
          } catch (e) {
            problems.push({ path, message: `cannot read ${path}: ${errorText(e)}` });
            continue;
          }
        }
        if (kindOf === 'directory') {
          // A1111 skips folders whose path contains "/." (hidden folders and all below them).
          if (!child.name.startsWith('.')) await walk(path);
        } else if (kindOf === 'file' && EXTENSIONS[kind].has(splitExt(child.name)[1].toLowerCase())) {
          files.push({ path, size, mtimeMs, siblings });
        }
      }
    };
    if (!isHidden(root, start)) await walk(start);
    const entries: CatalogEntry[] = [];
    for (let i = 0; i < files.length; i += PARALLEL_READS) {
      const batch = await Promise.all(files.slice(i, i + PARALLEL_READS).map((f) => this.entryFor(kind, root, f.path, f.size, f.mtimeMs, f.siblings)));
      for (const e of batch) if (e) entries.push(e);
    }
    return entries;
  }

  private async entryFor(
    kind: NetworkKind,
    root: string,
    path: string,
    size: number,
    mtimeMs: number,
    siblings?: ReadonlySet<string>,
  ): Promise<CatalogEntry | undefined> {
    const [name, ext] = splitExt(baseName(path));
    const extension = ext.toLowerCase();
    if (!EXTENSIONS[kind].has(extension)) return undefined;
    // A1111 leaves `NAME.vae.safetensors` beside a checkpoint out of the checkpoint list (it is that checkpoint's VAE).
    if (kind === 'checkpoint' && name.toLowerCase().endsWith('.vae')) return undefined;
    const folder = dirName(path);
    const subfolder = folder === root || folder + '/' === root ? '' : folder.slice(root.replace(/\/$/, '').length + 1);
    const base = { kind, name, path, root, subfolder, extension, size, mtimeMs, pickle: PICKLES.has(extension) };
    let details: EntryDetails = {};
    if (!base.pickle && kind !== 'hypernet') {
      try {
        details = await this.describe(base, siblings);
      } catch (e) {
        details = { error: errorText(e) };
      }
    }
    return { ...base, details };
  }

  /** The lookup tables, rebuilt in A1111's order (folders by natural path order, then files). */
  private rebuild(): void {
    const all = [...this.entriesByPath.values()];
    const rootOrder = (e: CatalogEntry) => this.roots[e.kind].indexOf(e.root);
    // Sort keys are computed once per entry (a 10,000-file sort compares ~140,000 times).
    const keyOf = (e: CatalogEntry) => {
      let key = sortKeys.get(e);
      if (!key) sortKeys.set(e, (key = { folder: naturalKey(dirName(e.path)), file: naturalKey(baseName(e.path)) }));
      return key;
    };
    all.sort(
      (a, b) =>
        kindOrder(a.kind) - kindOrder(b.kind) ||
        rootOrder(a) - rootOrder(b) ||
        compareKeys(keyOf(a).folder, keyOf(b).folder) ||
        compareKeys(keyOf(a).file, keyOf(b).file),
    );
    this.ordered = all;
    this.names = new Map();
    this.aliases = new Map();
    this.forbidden = new Set(ALWAYS_FORBIDDEN);
    this.hypernets = new Map();
    for (const entry of all) {
      // Embeddings are found by the token ids of their names (EmbeddingLookup), not here.
      if (entry.kind === 'hypernet') this.hypernets.set(entry.name, entry);
      else if (entry.kind === 'lora') {
        const alias = entry.details.alias ?? entry.name;
        this.names.set(entry.name, entry);
        if (this.aliases.has(alias)) this.forbidden.add(alias.toLowerCase());
        this.aliases.set(entry.name, entry);
        this.aliases.set(alias, entry);
      }
    }
  }

  private fire(): void {
    for (const l of this.listeners) l();
  }

  /** Watches every scanned folder not watched yet; drops watchers of folders that are gone. */
  private startWatching(): void {
    if (!this.fs.watch) return;
    for (const folder of this.scannedFolders) {
      if (this.watchers.has(folder)) continue;
      try {
        this.watchers.set(folder, this.fs.watch(folder, (path) => this.queueEvent(path)));
      } catch (e) {
        this.problems.push({ path: folder, message: `cannot watch ${folder} for changes: ${errorText(e)}` });
      }
    }
  }

  private stopWatching(): void {
    for (const stop of this.watchers.values()) stop();
    this.watchers.clear();
  }

  /** A folder was removed: forget it and its watcher (and those below it). */
  private forgetFolder(path: string): void {
    for (const folder of [...this.scannedFolders]) {
      if (folder !== path && !folder.startsWith(path + '/')) continue;
      this.scannedFolders.delete(folder);
      this.watchers.get(folder)?.();
      this.watchers.delete(folder);
    }
  }

  /** Editors and downloads write in bursts: coalesce events, then refresh each path once. */
  private queueEvent(path: string): void {
    this.pendingEvents.add(path);
    clearTimeout(this.eventTimer);
    this.eventTimer = setTimeout(() => {
      const paths = [...this.pendingEvents];
      this.pendingEvents.clear();
      void this.refreshPaths(paths);
    }, this.eventDelayMs);
  }
}

function kindOrder(kind: NetworkKind): number {
  return KINDS.indexOf(kind);
}

/** Whether `folder` is, or is inside, a hidden folder below `root` (A1111: its path contains "/."). */
function isHidden(root: string, folder: string): boolean {
  if (!folder.startsWith(root)) return false;
  const rel = folder.slice(root.length);
  return rel !== '' && (rel.startsWith('.') || rel.includes('/.'));
}

function errorText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err?.code ? `${err.code}${err.message && !err.message.startsWith(err.code) ? ` (${err.message})` : ''}` : String(err?.message ?? e);
}
