import type { PromptDocument } from '../syntax/document';
import { CatalogEntry } from './catalog';

/**
 * Checkpoints as A1111 names and picks them (modules/sd_models.py `CheckpointInfo`, `checkpoint_aliases`;
 * modules/infotext_utils.py): what `Model:` and `Model hash:` in generation data select, and the names a
 * user sees in its checkpoint list.
 */

/** A1111's names for a checkpoint file. */
export interface CheckpointNames {
  /** The path below the models folder with its extension, '/'-separated (`sub/model.safetensors`). */
  name: string;
  /** The file name without extension: what A1111 writes as `Model:` in generation data. */
  nameForExtra: string;
  /** `name` without extension, folders joined by `_`. */
  modelName: string;
}

export function checkpointNames(entry: CatalogEntry): CheckpointNames {
  const name = `${entry.subfolder ? entry.subfolder + '/' : ''}${entry.name}${entry.path.slice(entry.path.length - entry.extension.length)}`;
  return { name, nameForExtra: entry.name, modelName: name.slice(0, name.length - entry.extension.length).replace(/\//g, '_') };
}

/** A1111's title: `name [shorthash]` once the sha256 is known, else the name. */
export function checkpointTitle(entry: CatalogEntry, sha256: string | undefined): string {
  const { name } = checkpointNames(entry);
  return sha256 ? `${name} [${sha256.slice(0, 10)}]` : name;
}

/**
 * Every string A1111 finds the checkpoint by (`CheckpointInfo.ids`), in its order. The short-hash forms exist
 * only once the file's sha256 is known: A1111 too knows them only after hashing the file once.
 */
export function checkpointIds(entry: CatalogEntry, sha256: string | undefined): string[] {
  const { name, nameForExtra, modelName } = checkpointNames(entry);
  const legacy = entry.details.model?.legacyHash;
  const ids = [legacy, modelName, checkpointTitle(entry, sha256), name, nameForExtra, legacy ? `${name} [${legacy}]` : undefined];
  if (sha256) {
    const short = sha256.slice(0, 10);
    ids.push(short, sha256, `${name} [${short}]`, `${nameForExtra} [${short}]`);
  }
  return ids.filter((id): id is string => id !== undefined);
}

/**
 * The checkpoint `id` names, as `checkpoint_aliases.get(id)`: exact, and the last file in scan order wins
 * when two share an id (A1111 registers them in that order, each overwriting the one before).
 */
export function findCheckpoint(entries: readonly CatalogEntry[], id: string, sha256Of: (entry: CatalogEntry) => string | undefined): CatalogEntry | undefined {
  let found: CatalogEntry | undefined;
  for (const entry of entries) if (checkpointIds(entry, sha256Of(entry)).includes(id)) found = entry;
  return found;
}

export interface CheckpointChoice {
  /** The checkpoint the generation data selects, when one does. */
  entry?: CatalogEntry;
  /** Which parameter selected it. */
  by?: 'Model hash' | 'Model';
}

/**
 * What the parameter line selects. A1111's "paste generation data" maps only `Model hash` onto its checkpoint
 * setting, looked up among the ids; a hash it does not know leaves the loaded model as it is. When the hash
 * selects nothing (or there is none), `Model:` is looked up the same way: the name A1111 wrote is the file name,
 * which is what a person would pick by hand.
 */
export function chooseCheckpoint(
  entries: readonly CatalogEntry[],
  params: { model?: string; modelHash?: string },
  sha256Of: (entry: CatalogEntry) => string | undefined,
): CheckpointChoice {
  if (params.modelHash) {
    const entry = findCheckpoint(entries, params.modelHash, sha256Of);
    if (entry) return { entry, by: 'Model hash' };
  }
  if (params.model) {
    const entry = findCheckpoint(entries, params.model, sha256Of);
    if (entry) return { entry, by: 'Model' };
  }
  return {};
}

/** What a document's parameter line selects (`Model hash:` first, then `Model:`), as chooseCheckpoint picks it. */
export function documentCheckpoint(entries: readonly CatalogEntry[], doc: PromptDocument, sha256Of: (entry: CatalogEntry) => string | undefined): CheckpointChoice {
  const params = doc.sections.parameters?.entries ?? [];
  const model = params.find((e) => e.key === 'Model')?.value;
  const modelHash = params.find((e) => e.key === 'Model hash')?.value.toLowerCase();
  return model || modelHash ? chooseCheckpoint(entries, { model, modelHash }, sha256Of) : {};
}
