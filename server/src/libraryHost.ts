import { libraryFolders, PromptSettings } from './service';
import { PromptLibrary } from './service/library';
import type { LoraCard } from './service/library/loraCard';
import { scanLora } from './service/library/quickHeader';
import { EmbeddingLookup } from './service/tokens/chunks';
import { CatalogEntry, EntryDetails, LoraCatalog } from './service/library/catalog';
import { dirName, LibraryFileSystem } from './service/library/fileSystem';
import { loadLoraCard } from './service/library/loraCard';
import { BaseModel, baseModelOfFolder } from './service/library/modelBase';
import { SafetensorsCache, shortHash } from './service/library/safetensors';
import { describeModelFile, fileSha256, webuiHashCache, WebuiHashCache } from './modelFiles';

/**
 * Keeps the user's library in step with the settings: which folders to scan, the model in
 * use, and A1111 short hashes computed in the background (never on a request's path).
 */
export class LibraryHost {
  readonly catalog: LoraCatalog;
  private modelBase: BaseModel = 'unknown';
  private readonly headers = new SafetensorsCache();
  private readonly hashes = new Map<string, string | Promise<void>>();
  /** Cards by path, for the file version (size, mtime) they were read from. */
  private readonly cards = new Map<string, { size: number; mtimeMs: number; card?: LoraCard; error?: string; loading?: Promise<void> }>();
  /**
   * The names in each folder a card was read from, with the folder's mtime when listed: one listing
   * answers the sidecar lookups of every card in the folder (each card had listed the folder again:
   * 5,000 cards in one folder read 25 million names). Dropped when the catalog sees a change, and
   * listed again when the folder's mtime moved (a sidecar added where nothing watches).
   */
  private readonly folderNames = new Map<string, Promise<{ mtimeMs: number; names: ReadonlySet<string> } | undefined>>();
  /** Set while this host announces its own cards, which changes no folder. */
  private announcing = false;
  private changeTimer: ReturnType<typeof setTimeout> | undefined;
  private generation = 0;
  private lookup: { key: object; generation: number; value: EmbeddingLookup } | undefined;
  private lastKey = '';
  /** Checkpoint sha256 by path and file version: computed (a whole read of GBs) at most once per version. */
  private readonly sha256s = new Map<string, { stamp: string; sha256?: string; pending?: Promise<void> }>();
  private webuiHashes: WebuiHashCache | undefined;

  constructor(
    private readonly fs: LibraryFileSystem,
    private readonly exists: (path: string) => boolean,
    private readonly log: (message: string) => void,
  ) {
    this.catalog = new LoraCatalog(fs, (entry, siblings) => this.describe(entry, siblings));
    this.catalog.onDidChange(() => {
      this.generation++;
      if (!this.announcing) this.folderNames.clear();
    });
  }

  get library(): PromptLibrary {
    return {
      catalog: this.catalog,
      modelBase: this.modelBase,
      card: (entry, load = true) => this.cardNow(entry, load),
      loadCard: (entry) => this.loadCard(entry),
      problem: (entry) => entry.details.error ?? this.cardRecord(entry)?.error,
      sha256: (entry, compute = true) => this.sha256Now(entry, compute),
    };
  }

  private cardRecord(entry: CatalogEntry) {
    const record = this.cards.get(entry.path);
    return record && record.size === entry.size && record.mtimeMs === entry.mtimeMs ? record : undefined;
  }

  private cardNow(entry: CatalogEntry, load: boolean): LoraCard | undefined {
    const record = this.cardRecord(entry);
    if (record || !load) return record?.card;
    void this.loadCard(entry).then(() => this.announceCards());
    return undefined;
  }

  /** Reads (once per file version) the full card of a LoRA. */
  async loadCard(entry: CatalogEntry): Promise<LoraCard | undefined> {
    if (entry.kind !== 'lora' || entry.pickle || entry.details.error) return undefined;
    let record = this.cardRecord(entry);
    if (!record) {
      const fresh: { size: number; mtimeMs: number; card?: LoraCard; error?: string; loading?: Promise<void> } = { size: entry.size, mtimeMs: entry.mtimeMs };
      fresh.loading = this.namesBeside(entry.path)
        .then((siblings) => loadLoraCard(this.fs, entry.path, this.headers, siblings))
        .then(
          (card) => {
            if ('error' in card) fresh.error = card.error;
            else fresh.card = card;
          },
          (e) => void (fresh.error = String(e)),
        );
      this.cards.set(entry.path, fresh);
      record = fresh;
    }
    await record.loading;
    return record.card;
  }

  /**
   * The names in the file's folder, listed once for all the cards read from it while the folder
   * stays as it was; undefined when it cannot be listed (the card then looks for itself).
   */
  private async namesBeside(path: string): Promise<ReadonlySet<string> | undefined> {
    const folder = dirName(path);
    const known = this.folderNames.get(folder);
    if (known) {
      const listed = await known;
      const now = await this.fs.stat(folder).then((st) => st.mtimeMs, () => undefined);
      if (listed && listed.mtimeMs === now) return listed.names;
      if (this.folderNames.get(folder) !== known) return this.namesBeside(path); // someone listed it again meanwhile
    }
    // The mtime is read before the listing, so a change during it makes the next look list again.
    const listing = (async () => {
      const { mtimeMs } = await this.fs.stat(folder);
      const names: ReadonlySet<string> = new Set((await this.fs.readDirectory(folder)).map((e) => e.name));
      return { mtimeMs, names };
    })().catch(() => undefined);
    this.folderNames.set(folder, listing);
    return (await listing)?.names;
  }

  /** Cards read in the background: one change notice for a burst of them. */
  private announceCards(): void {
    clearTimeout(this.changeTimer);
    this.changeTimer = setTimeout(() => {
      this.announcing = true;
      try {
        this.catalog.notifyChanged();
      } finally {
        this.announcing = false;
      }
    }, 20);
  }

  /** Rescans only when the folders or the model changed. */
  async configure(settings: PromptSettings): Promise<void> {
    const roots = libraryFolders(settings, this.exists);
    const key = JSON.stringify({ roots, model: settings.model });
    if (key === this.lastKey) return;
    this.lastKey = key;
    this.modelBase = settings.model ? await this.baseModelOf(settings.model) : 'unknown';
    this.webuiHashes = settings.webuiPath ? await webuiHashCache(this.fs, settings.webuiPath) : undefined;
    const started = Date.now();
    await this.catalog.setRoots(roots);
    const count = this.catalog.list('lora').length;
    this.log(`library: ${count} LoRA files in ${roots.lora.length} folder(s) scanned in ${Date.now() - started} ms`);
    for (const p of this.catalog.problems) this.log(`library: ${p.message}`);
  }

  /** The base model of `sdPrompt.model`: a checkpoint file's keys say it, a diffusers folder its UNet config. */
  private async baseModelOf(model: string): Promise<BaseModel> {
    if (!/\.safetensors$/i.test(model)) return baseModelOfFolder(this.fs, model);
    const details = await describeModelFile(this.fs, model, 'checkpoint', this.headers).catch(() => undefined);
    const family = details?.model?.family;
    return family === 'sd1' ? 'SD1' : family === 'sd2' ? 'SD2' : family === 'sdxl' ? 'SDXL' : 'unknown';
  }

  /** The short hash when computed; otherwise starts computing it and says nothing yet. */
  shortHash(path: string): string | undefined {
    const known = this.hashes.get(path);
    if (typeof known === 'string') return known;
    if (!known) void this.computeShortHash(path);
    return undefined;
  }

  /** The short hash, computing it if needed (reads the whole file once). */
  async computeShortHash(path: string): Promise<string | undefined> {
    const known = this.hashes.get(path);
    if (typeof known === 'string') return known;
    if (!known) {
      this.hashes.set(
        path,
        (async () => {
          const header = await this.headers.read(this.fs, path);
          if ('error' in header) return;
          this.hashes.set(path, await shortHash(this.fs, path, header));
        })().catch((e) => {
          this.hashes.delete(path);
          this.log(`library: cannot hash ${path}: ${e}`);
        }),
      );
    }
    await this.hashes.get(path);
    const done = this.hashes.get(path);
    return typeof done === 'string' ? done : undefined;
  }

  /**
   * The scan's look at a file: the header fits, its alias, and what the Insert LoRA picker shows
   * (`siblings`: the folder's names when the scan listed it). The full card is read on demand.
   */
  private async describe(entry: Omit<CatalogEntry, 'details'>, siblings?: ReadonlySet<string>): Promise<EntryDetails> {
    this.hashes.delete(entry.path);
    this.cards.delete(entry.path);
    if (entry.kind === 'checkpoint' || entry.kind === 'vae') return describeModelFile(this.fs, entry.path, entry.kind, this.headers);
    if (entry.kind === 'embedding') return this.describeEmbedding(entry.path);
    return scanLora(this.fs, entry.path, entry.size, siblings);
  }

  /**
   * An embedding's vector count (A1111 gives it that many token slots): `emb_params` [n, dim]
   * in A1111's format, `clip_l`/`clip_g` in SDXL ones, else the first 2-D tensor.
   */
  private async describeEmbedding(path: string): Promise<EntryDetails> {
    const header = await this.headers.read(this.fs, path);
    if ('error' in header) return { error: header.error };
    const named = ['emb_params', 'clip_l', 'clip_g'];
    const tensor =
      named.map((n) => header.tensors.find((t) => t.name === n)).find((t) => t && t.shape.length === 2) ??
      header.tensors.find((t) => t.shape.length === 2);
    return tensor ? { vectors: tensor.shape[0] } : { error: 'no [vectors, dim] tensor in this embedding' };
  }

  /**
   * A checkpoint's sha256 when known (A1111's hash cache, or computed here once per file version); otherwise starts
   * computing it in the background and tells the catalog's listeners when it is in.
   */
  private sha256Now(entry: CatalogEntry, compute = true): string | undefined {
    const stamp = `${entry.size}|${entry.mtimeMs}`;
    const known = this.sha256s.get(entry.path);
    if (known && known.stamp === stamp) return known.sha256;
    const cached = this.webuiHashes?.sha256(entry);
    if (cached) {
      this.sha256s.set(entry.path, { stamp, sha256: cached });
      return cached;
    }
    if (!compute) return undefined;
    const record: { stamp: string; sha256?: string; pending?: Promise<void> } = { stamp };
    record.pending = fileSha256(this.fs, entry.path, entry.size).then(
      (sha256) => {
        record.sha256 = sha256;
        this.announceCards();
      },
      (e) => this.log(`library: cannot hash ${entry.path}: ${e}`),
    );
    this.sha256s.set(entry.path, record);
    return undefined;
  }

  /** A checkpoint's sha256, computing it if needed (the CLI waits for it). */
  async sha256(entry: CatalogEntry): Promise<string | undefined> {
    const now = this.sha256Now(entry);
    if (now) return now;
    await this.sha256s.get(entry.path)?.pending;
    return this.sha256s.get(entry.path)?.sha256;
  }

  /** Embeddings by the token ids of their names, for A1111's chunking (rebuilt when either changes). */
  embeddingLookup(encode: (text: string) => number[], key: object): EmbeddingLookup {
    if (this.lookup && this.lookup.key === key && this.lookup.generation === this.generation) return this.lookup.value;
    const byFirst = new Map<number, { ids: number[]; vectors: number; name: string }[]>();
    for (const e of this.catalog.list('embedding')) {
      if (!e.details.vectors) continue;
      const ids = encode(e.name);
      if (ids.length === 0) continue;
      const list = byFirst.get(ids[0]) ?? [];
      list.push({ ids, vectors: e.details.vectors, name: e.name });
      list.sort((a, b) => b.ids.length - a.ids.length);
      byFirst.set(ids[0], list);
    }
    const value: EmbeddingLookup = { get: (id) => byFirst.get(id) };
    this.lookup = { key, generation: this.generation, value };
    return value;
  }

  dispose(): void {
    clearTimeout(this.changeTimer);
    this.catalog.dispose();
  }
}

