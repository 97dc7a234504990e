import type { CheckpointListItem, CheckpointListResult } from '../../../../common/src/protocol';
import { PromptLibrary } from '../library';
import { checkpointNames, documentCheckpoint } from '../library/checkpoints';
import { chooseVae, documentVae, vaeEntries } from '../library/vae';
import { PromptDocument } from '../syntax/document';

/**
 * The checkpoints for Select Model… (A1111's order and names, what each is, its short hash where already known:
 * from the webui's cache.json or an earlier hash), and the one a prompt's `Model hash:` / `Model:` select. It never
 * starts hashing: Render Preview asks on every render, and hashing a folder of checkpoints reads hundreds of GB.
 */
export function checkpointList(library: PromptLibrary | undefined, folders: string[], doc?: PromptDocument, vaeSetting = ''): CheckpointListResult {
  const catalog = library?.catalog;
  if (!catalog?.ready) return { folders, checkpoints: [] };
  const entries = catalog.list('checkpoint');
  const checkpoints = entries.map((entry): CheckpointListItem => {
    const names = checkpointNames(entry);
    const model = entry.details.model;
    const sha256 = entry.pickle ? undefined : library!.sha256?.(entry, false);
    const problem = entry.pickle ? 'a Python pickle (.ckpt): sd-prompt never opens one; use the .safetensors version' : (model?.problem ?? entry.details.error);
    return {
      name: names.name,
      nameForExtra: names.nameForExtra,
      path: entry.path,
      family: model?.family ?? 'other',
      dtype: model?.dtype ?? '',
      size: entry.size,
      ...(sha256 ? { shortHash: sha256.slice(0, 10) } : {}),
      renderable: model?.renderable ?? false,
      ...(problem ? { problem } : {}),
    };
  });
  const result: CheckpointListResult = { folders, checkpoints };
  const choice = doc ? documentCheckpoint(entries, doc, (e) => library!.sha256?.(e, false)) : {};
  if (choice.entry && choice.by) result.chosen = { path: choice.entry.path, by: choice.by };
  // The VAE as A1111 resolves it for that checkpoint: the text's VAE hash:/VAE:, then sdPrompt.vae, then Automatic.
  const vaes = vaeEntries(catalog.list('vae'), entries);
  const known = (e: Parameters<typeof documentVae>[0][number]) => library!.sha256?.(e, false);
  const context = { setting: vaeSetting, checkpoints: entries, ...(choice.entry ? { checkpoint: choice.entry.path } : {}) };
  // Without a webui VAE folder a VAE: name cannot be looked up: the setting and Automatic decide (not "using None").
  const vae = doc && catalog.hasFolders('vae') ? documentVae(vaes, doc, known, context) : chooseVae(vaes, context, known);
  if (vae.file !== undefined) result.chosenVae = { path: vae.file, by: vae.by };
  return result;
}
