import { CatalogEntry, LoraCatalog } from './catalog';
import type { LoraCard } from './loraCard';
import { BaseModel } from './modelBase';

/** What the language features know of the user's library at a moment. */
export interface PromptLibrary {
  catalog: LoraCatalog;
  /** The base model of `sdPrompt.model`, when that folder says it. */
  modelBase: BaseModel;
  /**
   * The entry's card when already read; otherwise starts reading it and returns undefined
   * (the catalog reports a change when it is in, so diagnostics refresh). Never waits.
   * With `load` false it only looks (completion lists thousands of entries).
   */
  card(entry: CatalogEntry, load?: boolean): LoraCard | undefined;
  /** The card, reading it if needed (hover and completion resolve wait for it). */
  loadCard(entry: CatalogEntry): Promise<LoraCard | undefined>;
  /** Why the entry cannot be read as a LoRA, once known. */
  problem(entry: CatalogEntry): string | undefined;
  /**
   * A checkpoint's sha256 (A1111's short hash is its first 10 hex) when known: from the webui's own hash cache or
   * computed once in the background (the catalog reports a change when it is in) unless `compute` is false.
   * Never waits.
   */
  sha256?(entry: CatalogEntry, compute?: boolean): string | undefined;
}
