import { PromptSettings } from './service';
import { LibraryFileSystem } from './service/library/fileSystem';
import { loadTokenizer } from './service/tokens/tokenizerFiles';
import { PromptTokenizer } from './service/tokens/tokenizer';

/**
 * The CLIP tokenizer for the current settings: `sdPrompt.tokenizerPath`, the model folder's
 * `tokenizer/`, the Hugging Face cache, the CLIP files shipped in `resources/clip/`, or (when even those
 * are missing) an approximate count, always marked "≈".
 */
export class TokenizerHost {
  tokenizer: PromptTokenizer | undefined;
  source = '';
  private lastKey = '';

  constructor(
    private readonly fs: LibraryFileSystem,
    private readonly home: string,
    private readonly log: (message: string) => void,
    /** `resources/clip/`, shipped with the extension: exact counts with no setup. */
    private readonly bundledFolder?: string,
  ) {}

  /** Reloads when the folders it depends on changed; true when the tokenizer changed. */
  async configure(settings: PromptSettings): Promise<boolean> {
    const key = JSON.stringify([settings.tokenizerPath, settings.model]);
    if (key === this.lastKey && this.tokenizer) return false;
    this.lastKey = key;
    const loaded = await loadTokenizer(this.fs, {
      tokenizerPath: settings.tokenizerPath || undefined,
      modelFolder: settings.model || undefined,
      home: this.home,
      bundledFolder: this.bundledFolder,
    });
    this.tokenizer = loaded.tokenizer;
    this.source = loaded.source;
    this.log(`tokenizer: ${loaded.source}${loaded.problem ? ` (${loaded.problem})` : ''}`);
    return true;
  }
}
