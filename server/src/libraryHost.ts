import { libraryFolders, PromptSettings } from './service';
import { PromptLibrary } from './service/library';
import { CatalogEntry, EntryDetails, LoraCatalog } from './service/library/catalog';
import { LibraryFileSystem } from './service/library/fileSystem';
import { loadLoraCard } from './service/library/loraCard';
import { BaseModel, baseModelOfFolder } from './service/library/modelBase';
import { SafetensorsCache, shortHash } from './service/library/safetensors';

/**
 * Keeps the user's library in step with the settings: which folders to scan, the model in
 * use, and A1111 short hashes computed in the background (never on a request's path).
 */
export class LibraryHost {
  readonly catalog: LoraCatalog;
  private modelBase: BaseModel = 'unknown';
  private readonly headers = new SafetensorsCache();
  private readonly hashes = new Map<string, string | Promise<void>>();
  private lastKey = '';

  constructor(
    private readonly fs: LibraryFileSystem,
    private readonly exists: (path: string) => boolean,
    private readonly log: (message: string) => void,
  ) {
    this.catalog = new LoraCatalog(fs, (entry, siblings) => this.describe(entry, siblings));
  }

  get library(): PromptLibrary {
    return { catalog: this.catalog, modelBase: this.modelBase };
  }

  /** Rescans only when the folders or the model changed. */
  async configure(settings: PromptSettings): Promise<void> {
    const roots = libraryFolders(settings, this.exists);
    const key = JSON.stringify({ roots, model: settings.model });
    if (key === this.lastKey) return;
    this.lastKey = key;
    this.modelBase = settings.model ? await baseModelOfFolder(this.fs, settings.model) : 'unknown';
    const started = Date.now();
    await this.catalog.setRoots(roots);
    const count = this.catalog.list('lora').length;
    this.log(`library: ${count} LoRA files in ${roots.lora.length} folder(s) scanned in ${Date.now() - started} ms`);
    for (const p of this.catalog.problems) this.log(`library: ${p.message}`);
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

  private async describe(entry: Omit<CatalogEntry, 'details'>, siblings?: ReadonlySet<string>): Promise<EntryDetails> {
    this.hashes.delete(entry.path);
    const card = await loadLoraCard(this.fs, entry.path, this.headers, siblings);
    if ('error' in card) return { error: card.error };
    return { alias: card.outputName, card };
  }

  dispose(): void {
    this.catalog.dispose();
  }
}

