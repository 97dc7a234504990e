import type { PromptDocument } from '../syntax/document';
import { CatalogEntry } from './catalog';

/**
 * The VAE a render decodes with, as A1111 picks it (modules/sd_vae.py `resolve_vae`, with its default
 * "sd_vae_overrides_per_model_preferences"), with pasted generation data overriding the VAE setting as A1111's
 * paste does (the `sd_vae` option's infotext is `VAE`):
 * 1. the file's `VAE hash:` (a VAE whose sha256 is known to start with it), then its `VAE:` (a name in A1111's
 *    `vae_dict`: the file name with its extension); `None` is the checkpoint's own VAE, `Automatic` goes on to 4;
 * 2. else `sdPrompt.vae` (A1111's SD VAE setting): a file, a `vae_dict` name, `None` or `Automatic` / empty;
 * 3. a named VAE that is not there: A1111 prints "Couldn't find VAE named ...; using None instead" (the
 *    checkpoint's own VAE); a diagnostic says so (vae-unknown);
 * 4. "Automatic": a VAE whose file name starts with the checkpoint's name without extension
 *    (`find_vae_near_checkpoint` over vae_dict, which holds models/VAE and the checkpoints' `*.vae.*` files),
 *    else the checkpoint's own.
 */
export interface VaeChoice {
  /** The VAE file; null: the checkpoint's own VAE; undefined: "Automatic" found nothing (the engine's sidecar rule then applies). */
  file?: string | null;
  /** What decided it. */
  by: 'VAE hash' | 'VAE' | 'sdPrompt.vae' | 'near the checkpoint' | 'Automatic';
  /** A name that selects no VAE (A1111 then uses the checkpoint's own): what named it and the name. */
  unknown?: { by: 'VAE' | 'sdPrompt.vae'; name: string };
}

/** A1111's `vae_dict` key of a VAE file: its file name with extension (`get_filename`). */
export function vaeName(entry: Pick<CatalogEntry, 'path'>): string {
  return entry.path.split(/[\\/]/).pop() ?? entry.path;
}

const AUTOMATIC = new Set(['Automatic', 'auto', '']);

/**
 * The VAE files A1111's vae_dict holds that the catalog lists: models/VAE's files (the catalog's `vae` kind). It
 * also holds the `NAME.vae.*` files beside checkpoints, which the catalog leaves out of its checkpoint list:
 * `sidecarNamed` finds those by name.
 */
export function vaeEntries(vaes: readonly CatalogEntry[], checkpoints: readonly CatalogEntry[]): CatalogEntry[] {
  return [...checkpoints.filter((e) => /\.vae$/i.test(e.name)), ...vaes];
}

/**
 * `NAME.vae.safetensors` (or .pt/.ckpt) for a checkpoint NAME of the catalog: the path beside that checkpoint.
 * Its existence is not known here (the catalog does not list it); a missing file fails the render with its path.
 */
export function sidecarNamed(checkpoints: readonly CatalogEntry[], name: string): string | undefined {
  const m = /^(.*)\.vae\.(safetensors|pt|ckpt)$/i.exec(name);
  const checkpoint = m ? checkpoints.find((e) => e.name === m[1]) : undefined;
  return checkpoint && checkpoint.path.slice(0, checkpoint.path.length - vaeName(checkpoint).length) + name;
}

/** The entry `name` selects in vae_dict: the last one by that file name, as later files overwrite earlier keys. */
export function findVae(entries: readonly CatalogEntry[], name: string): CatalogEntry | undefined {
  let found: CatalogEntry | undefined;
  for (const e of entries) if (vaeName(e) === name) found = e;
  return found;
}

export interface VaeInputs {
  /** The file's `VAE hash:` and `VAE:` values. */
  vaeHash?: string;
  vae?: string;
  /** `sdPrompt.vae` as set ('' when not). */
  setting: string;
  /** The checkpoint the render uses (its path), for the Automatic rule. */
  checkpoint?: string;
  /** A path the setting names, when it is one that exists (resolved by the caller, which has a file system). */
  settingFile?: string;
  /** The catalog's checkpoints, whose `NAME.vae.*` sidecars a name may select (`sidecarNamed`). */
  checkpoints?: readonly CatalogEntry[];
}

export function chooseVae(entries: readonly CatalogEntry[], inputs: VaeInputs, sha256Of: (entry: CatalogEntry) => string | undefined): VaeChoice {
  const hash = inputs.vaeHash?.trim().toLowerCase();
  if (hash && /^[0-9a-f]{8,64}$/.test(hash)) {
    const byHash = entries.find((e) => sha256Of(e)?.startsWith(hash));
    if (byHash) return { file: byHash.path, by: 'VAE hash' };
  }
  const named = (name: string, by: 'VAE' | 'sdPrompt.vae', file?: string): VaeChoice | undefined => {
    if (AUTOMATIC.has(name)) return undefined;
    if (name === 'None') return { file: null, by };
    if (file) return { file, by };
    // The client sends a setting that names an existing file as its absolute path.
    if (by === 'sdPrompt.vae' && /^(\/|[A-Za-z]:[\\/]|\\\\)/.test(name)) return { file: name, by };
    const entry = findVae(entries, name);
    const sidecar = entry ? entry.path : sidecarNamed(inputs.checkpoints ?? [], name);
    return sidecar ? { file: sidecar, by } : { file: null, by, unknown: { by, name } };
  };
  const fromFile = inputs.vae !== undefined ? named(inputs.vae.trim(), 'VAE') : undefined;
  if (fromFile) return fromFile;
  // A pasted `VAE: Automatic` is the Automatic rule whatever the setting says.
  if (inputs.vae === undefined || !AUTOMATIC.has(inputs.vae.trim())) {
    const fromSetting = named(inputs.setting.trim(), 'sdPrompt.vae', inputs.settingFile);
    if (fromSetting) return fromSetting;
  }
  if (inputs.checkpoint) {
    const base = (inputs.checkpoint.split(/[\\/]/).pop() ?? '').replace(/\.[^.]*$/, '');
    const near = base ? entries.find((e) => vaeName(e).startsWith(base)) : undefined;
    if (near) return { file: near.path, by: 'near the checkpoint' };
  }
  return { by: 'Automatic' };
}

/** The choice for a document's parameter line (`VAE hash:`, `VAE:`) with the setting and the checkpoint in use. */
export function documentVae(
  entries: readonly CatalogEntry[],
  doc: PromptDocument,
  sha256Of: (entry: CatalogEntry) => string | undefined,
  context: Omit<VaeInputs, 'vae' | 'vaeHash'>,
): VaeChoice {
  const params = doc.sections.parameters?.entries ?? [];
  const vae = params.find((e) => e.key === 'VAE')?.value;
  const vaeHash = params.find((e) => e.key === 'VAE hash')?.value;
  return chooseVae(entries, { ...context, ...(vae !== undefined ? { vae } : {}), ...(vaeHash !== undefined ? { vaeHash } : {}) }, sha256Of);
}
