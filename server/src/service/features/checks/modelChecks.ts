import { PromptLibrary } from '../../library';
import { CatalogEntry } from '../../library/catalog';
import { checkpointNames, documentCheckpoint, findCheckpoint } from '../../library/checkpoints';
import { BaseModel } from '../../library/modelBase';
import { PromptDocument } from '../../syntax/document';
import { ParameterEntry } from '../../syntax/sections';
import { Problem } from './problem';
import { closestName } from './suggest';
import { findVae, sidecarNamed, vaeEntries, vaeName } from '../../library/vae';

/** `Model hash:` as A1111 writes it: the 10-hex short sha256 (1.x) or the legacy 8-hex hash. */
const HASH = /^[0-9a-f]{8}([0-9a-f]{2})?$/;

/**
 * `Model:` and `Model hash:` against the user's checkpoints (sdPrompt.webuiPath's models/Stable-diffusion):
 * a name the folder lacks (A1111 then keeps whatever model it has loaded, so the image is not the one the
 * data describes), and a name whose file has another hash than the data says (another version of it).
 * Whole-file hashes are computed only for the checkpoint the name selects; until one is in, nothing is said.
 */
export function checkModel(doc: PromptDocument, library: PromptLibrary | undefined, out: Problem[]): void {
  checkVae(doc, library, out);
  const catalog = library?.catalog;
  if (!catalog?.ready || !catalog.hasFolders('checkpoint')) return;
  const params = doc.sections.parameters?.entries ?? [];
  const model = params.find((e) => e.key === 'Model');
  const hash = params.find((e) => e.key === 'Model hash');
  if (!model && !hash) return;
  const entries = catalog.list('checkpoint');
  // Hashes already known cost nothing; the named checkpoint's is worth computing.
  const known = (e: CatalogEntry) => library!.sha256?.(e);
  const named = model ? findCheckpoint(entries, model.value, knownOnly(library!)) : undefined;
  const hashValue = hash?.value.toLowerCase();
  const byHash = hashValue ? findCheckpoint(entries, hashValue, knownOnly(library!)) : undefined;

  if (model && !named && !byHash) {
    unknownModel(model, hash, entries, out);
    return;
  }
  if (!model && hash && !byHash && hashValue && HASH.test(hashValue)) {
    // Legacy hashes are all known; short hashes only once every file is hashed.
    const allKnown = hashValue.length === 8 || entries.every((e) => knownOnly(library!)(e) !== undefined);
    if (allKnown) {
      out.push({
        code: 'model-unknown',
        severity: 'warning',
        span: hash.valueSpan,
        message: `No checkpoint in your models folder has the hash ${hash.value}: A1111 keeps the model it has loaded, so the image will not be this one.`,
      });
    }
    return;
  }
  if (!named || !hash || !hashValue || !HASH.test(hashValue)) return;
  if (byHash && byHash !== named) {
    out.push({
      code: 'model-hash-mismatch',
      severity: 'warning',
      span: hash.valueSpan,
      message: `Model hash ${hash.value} is '${checkpointNames(byHash).name}' here, not '${model!.value}': A1111 picks the checkpoint by its hash and loads '${checkpointNames(byHash).nameForExtra}'.`,
    });
    return;
  }
  if (byHash === named) return;
  // The named file's own hash, of the kind the data has: the legacy one is known; the short one may need hashing.
  const own = hashValue.length === 8 ? named.details.model?.legacyHash : known(named)?.slice(0, 10);
  if (!own || own === hashValue) return;
  out.push({
    code: 'model-hash-mismatch',
    severity: 'warning',
    span: hash.valueSpan,
    message: `'${model!.value}' here has the hash ${own}, not ${hash.value}: it is another version of that checkpoint, so the image will differ (and A1111, which picks by hash, keeps the model it has loaded).`,
    fixes: [{ title: `Change the hash to ${own} (your file's)`, edits: [{ span: hash.valueSpan, newText: own }] }],
  });
}

/**
 * `VAE:` against the webui's VAEs (models/VAE, and `*.vae.*` files among the checkpoints: A1111's vae_dict). A name
 * it lacks makes A1111 print "Couldn't find VAE named ...; using None instead" and decode with the checkpoint's own
 * VAE, so the colours are not the image's. A `VAE hash:` that finds a file (its hash already known) says enough.
 */
export function checkVae(doc: PromptDocument, library: PromptLibrary | undefined, out: Problem[]): void {
  const catalog = library?.catalog;
  if (!catalog?.ready || !catalog.hasFolders('vae')) return;
  const params = doc.sections.parameters?.entries ?? [];
  const vae = params.find((e) => e.key === 'VAE');
  const value = vae?.value.trim();
  if (!vae || !value || ['None', 'Automatic', 'auto'].includes(value)) return;
  const checkpoints = catalog.hasFolders('checkpoint') ? catalog.list('checkpoint') : [];
  const entries = vaeEntries(catalog.list('vae'), checkpoints);
  // A checkpoint's NAME.vae.safetensors is not listed (the catalog leaves it out); its name is taken on trust.
  if (findVae(entries, value) || sidecarNamed(checkpoints, value)) return;
  const hash = params.find((e) => e.key === 'VAE hash')?.value.trim().toLowerCase();
  if (hash && entries.some((e) => knownOnly(library!)(e)?.startsWith(hash))) return;
  const suggestion = closestName(value, entries.map(vaeName));
  out.push({
    code: 'vae-unknown',
    severity: 'warning',
    span: vae.valueSpan,
    message:
      `No VAE '${value}' in your models/VAE folder: A1111 then decodes with the checkpoint's own VAE, so the image will not be this one.` +
      (suggestion ? ` Did you mean '${suggestion}'?` : ''),
    fixes: suggestion ? [{ title: `Change to '${suggestion}'`, edits: [{ span: vae.valueSpan, newText: suggestion }], preferred: true }] : undefined,
  });
}

/** The sha256s known right now, without starting to hash any file (a lookup by id must not hash every checkpoint). */
function knownOnly(library: PromptLibrary): (e: CatalogEntry) => string | undefined {
  return (e) => library.sha256?.(e, false);
}

function unknownModel(model: ParameterEntry, hash: ParameterEntry | undefined, entries: readonly CatalogEntry[], out: Problem[]): void {
  const names = entries.map((e) => checkpointNames(e).nameForExtra);
  const suggestion = closestName(model.value, names);
  out.push({
    code: 'model-unknown',
    severity: 'warning',
    span: model.valueSpan,
    message:
      `No checkpoint '${model.value}'${hash ? ` (hash ${hash.value})` : ''} in your models folder: A1111 keeps the model it has loaded, so the image will not be this one.` +
      (suggestion ? ` Did you mean '${suggestion}'?` : ''),
    fixes: suggestion ? [{ title: `Change to '${suggestion}'`, edits: [{ span: model.valueSpan, newText: suggestion }], preferred: true }] : undefined,
  });
}


const FAMILY_BASE: Record<string, BaseModel> = { sd1: 'SD1', sd2: 'SD2', sdxl: 'SDXL' };

/**
 * The checkpoint the document's `Model hash:` / `Model:` select in the user's folder, with its base model as
 * the file's own keys say it (hashes only as far as they are known: this never starts hashing).
 */
export function selectedCheckpoint(doc: PromptDocument, library: PromptLibrary): { entry: CatalogEntry; base: BaseModel; source: string } | undefined {
  const catalog = library.catalog;
  if (!catalog.ready || !catalog.hasFolders('checkpoint')) return undefined;
  const choice = documentCheckpoint(catalog.list('checkpoint'), doc, knownOnly(library));
  const base = choice.entry?.details.model ? FAMILY_BASE[choice.entry.details.model.family] : undefined;
  if (!choice.entry || !base) return undefined;
  return { entry: choice.entry, base, source: `checkpoint '${checkpointNames(choice.entry).nameForExtra}', chosen by ${choice.by}` };
}
