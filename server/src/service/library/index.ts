import { CatalogEntry, LoraCatalog } from './catalog';
import type { LoraCard } from './loraCard';
import { BaseModel } from './modelBase';

/** What the language features know of the user's library at a moment. */
export interface PromptLibrary {
  catalog: LoraCatalog;
  /** The base model of `sdPrompt.model`, when that folder says it. */
  modelBase: BaseModel;
}

/** The card of a catalog entry, when its file could be read as a LoRA. */
export function cardOf(entry: CatalogEntry | undefined): LoraCard | undefined {
  return entry?.details.card as LoraCard | undefined;
}
