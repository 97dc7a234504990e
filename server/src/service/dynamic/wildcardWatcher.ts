import { LibraryFileSystem } from '../library/fileSystem';
import { PromptSettings } from '../settings';
import { wildcardFolders } from './wildcardFolders';
import { WildcardLibrary, loadWildcardLibrary } from './wildcardLibrary';

/** Changes closer together than this are read in one rescan (saving a file fires several events). */
export const RESCAN_DELAY_MS = 150;

/**
 * Keeps the wildcard library in step with the settings and the disk: loads the folders the
 * settings name, watches every folder it read, and loads again (once per burst of changes)
 * when a file is added, edited or removed; listeners hear of each new library.
 */
export class WildcardWatcher {
  private current = new WildcardLibrary(new Map());
  private key = '';
  private roots: string[] = [];
  private unwatch: (() => void)[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly listeners = new Set<(library: WildcardLibrary) => void>();
  private loading: Promise<void> = Promise.resolve();
  private disposed = false;

  constructor(private readonly fs: LibraryFileSystem) {}

  get library(): WildcardLibrary {
    return this.current;
  }

  onDidChange(listener: (library: WildcardLibrary) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Loads the settings' folders (again only when they changed). */
  configure(settings: PromptSettings, exists: (path: string) => boolean): Promise<void> {
    const roots = wildcardFolders(settings, exists);
    const key = JSON.stringify(roots);
    if (key === this.key) return this.loading;
    this.key = key;
    this.roots = roots;
    return this.reload();
  }

  private reload(): Promise<void> {
    const roots = this.roots;
    this.loading = this.loading.then(async () => {
      if (this.disposed) return;
      const library = roots.length ? await loadWildcardLibrary(this.fs, roots) : new WildcardLibrary(new Map());
      if (this.disposed || roots !== this.roots) return;
      this.watch(library.folders);
      this.current = library;
      for (const listener of [...this.listeners]) listener(library);
    });
    return this.loading;
  }

  private watch(folders: readonly string[]): void {
    for (const stop of this.unwatch) stop();
    this.unwatch = [];
    if (!this.fs.watch) return;
    for (const folder of folders) this.unwatch.push(this.fs.watch(folder, () => this.changed()));
  }

  private changed(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.reload();
    }, RESCAN_DELAY_MS);
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const stop of this.unwatch) stop();
    this.unwatch = [];
    this.listeners.clear();
  }
}
