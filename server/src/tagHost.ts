import { PromptSettings } from './service';
import { dirName, LibraryFileSystem } from './service/library/fileSystem';
import { TagIndex } from './service/tags/tagIndex';
import { findTagFiles, formatTagFileProblem, loadTagFiles } from './service/tags/tagFiles';

/** A burst of file events (an editor saving, a copy of several lists) reloads once. */
const RELOAD_DELAY_MS = 300;

/**
 * The tagcomplete tag lists for the current settings (`sdPrompt.tags.files` and the webui's
 * tagcomplete `tags/`), read again when the settings name other lists or a list's folder changes.
 * Problems with the lists (a missing file, a malformed line) go to the log as `file:line: ...`.
 */
export class TagHost {
  index: TagIndex | undefined;
  private lastKey = '';
  private settings: PromptSettings | undefined;
  private unwatch: (() => void)[] = [];
  private watched = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Counts loads, so a slower earlier load never replaces a later one. */
  private generation = 0;

  constructor(
    private readonly fs: LibraryFileSystem,
    private readonly log: (message: string) => void,
    /** Called after a reload that the settings did not ask for (a list changed on disk). */
    private readonly onDidChange: () => void,
  ) {}

  /** Loads the lists when the settings name other ones; true when the tags changed. */
  async configure(settings: PromptSettings): Promise<boolean> {
    const key = JSON.stringify([settings.webuiPath, settings.tags.files]);
    if (key === this.lastKey) return false;
    this.lastKey = key;
    this.settings = settings;
    return this.load(settings);
  }

  private async load(settings: PromptSettings): Promise<boolean> {
    const generation = ++this.generation;
    const found = await findTagFiles(this.fs, settings);
    const started = Date.now();
    const loaded = await loadTagFiles(this.fs, found.paths);
    if (generation !== this.generation) return false;
    const hadTags = (this.index?.size ?? 0) > 0;
    this.index = loaded.index;
    if (found.paths.length > 0 || hadTags) {
      this.log(`tags: ${loaded.index.size} tags from ${found.paths.length} list(s) read in ${Date.now() - started} ms`);
    }
    for (const problem of [...found.problems, ...loaded.problems]) this.log(`tags: ${formatTagFileProblem(problem)}`);
    this.watchFolders([...found.paths.map(dirName), ...settings.tags.files.map(dirName), ...settings.tags.files]);
    return true;
  }

  /** Watches the lists' folders (a folder named in the setting too, and the parent of a missing list). */
  private watchFolders(folders: string[]): void {
    for (const stop of this.unwatch) stop();
    this.unwatch = [];
    if (!this.fs.watch) return;
    this.watched = new Set(folders);
    for (const folder of this.watched) {
      try {
        this.unwatch.push(this.fs.watch(folder, (path) => this.changed(path)));
      } catch {
        // A folder that does not exist (yet) cannot be watched; its parent is watched for it.
      }
    }
  }

  private changed(path: string): void {
    // A list, a file the setting names, or a folder event without a file name.
    if (!/\.csv$/i.test(path) && !this.settings?.tags.files.includes(path) && !this.watched.has(path)) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      const settings = this.settings;
      if (!settings) return;
      void this.load(settings).then(
        (changed) => changed && this.onDidChange(),
        (e) => this.log(`tags: reloading failed: ${e}`),
      );
    }, RELOAD_DELAY_MS);
  }

  dispose(): void {
    clearTimeout(this.timer);
    for (const stop of this.unwatch) stop();
    this.unwatch = [];
  }
}
