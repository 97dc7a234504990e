import { LibraryFileSystem, baseName, dirName, joinPath, splitExt } from './fileSystem';
import { SafetensorsCache, SafetensorsError, SafetensorsHeader, SafetensorsTensor, isSafetensorsError, readScalar, storedShortHash } from './safetensors';

/**
 * What a LoRA file is, from its header and the sidecar files next to it: network kind, key style,
 * rank/alpha, base model (and which evidence said so), trigger words, preview. `describeLora` is pure;
 * `loadLoraCard` gathers its inputs from the file system.
 */

export type LoraKind = 'LoRA' | 'LoCon' | 'LoHa' | 'LoKr' | 'IA3' | 'OFT' | 'full' | 'DoRA' | 'unknown';
export type LoraKeyStyle = 'kohya' | 'peft' | 'diffusers-attn-processor' | 'cloneofsimo' | 'unknown';
import type { BaseModel } from './modelBase';
export type { BaseModel };
export type BaseModelSource =
  | 'sidecar sd version'
  | 'ss_base_model_version'
  | 'modelspec.architecture'
  | 'ss_v2'
  | 'keys'
  | 'civitai baseModel'
  | 'none';
/** Where a trigger word came from; 'tag frequency' words are only guesses (the most common training tags). */
export type TriggerWordSource = 'activation text' | 'civitai trainedWords' | 'modelspec.trigger_phrase' | 'tag frequency';

export interface TriggerWord {
  word: string;
  source: TriggerWordSource;
}

export interface LoraCard {
  kind: LoraKind;
  keyStyle: LoraKeyStyle;
  rank?: number;
  alpha?: number;
  baseModel: BaseModel;
  baseModelSource: BaseModelSource;
  /** `ss_sd_model_name`: the checkpoint it was trained on. */
  trainingModel?: string;
  /** `ss_output_name`: the alias A1111 also accepts in `<lora:alias:w>`. */
  outputName?: string;
  triggerWords: TriggerWord[];
  preferredWeight?: number;
  previewPath?: string;
  description?: string;
  negativeText?: string;
  notes?: string;
  /** civitai's `model.name`. */
  civitaiName?: string;
  /** First 12 hex of `sshs_model_hash` when the metadata has one (see `shortHash` to compute it). */
  sshsHash?: string;
  tensorCount: number;
  warnings: string[];
}

/** What `loadLoraCard` finds around the file; every field is optional so tests can pass only a part. */
export interface LoraSidecars {
  /** `<name>.json` as A1111's user-metadata editor writes it. */
  userMetadata?: Record<string, unknown>;
  /** `<name>.civitai.info` as civitai-helper writes it. */
  civitaiInfo?: Record<string, unknown>;
  previewPath?: string;
  /** The first `.alpha` tensor's value, read only when the metadata has no `ss_network_alpha`. */
  alphaTensor?: number;
  /** Problems met reading the sidecars, passed through as warnings. */
  problems?: string[];
}

/** The part of a header `describeLora` needs, so callers can describe key manifests too. */
export type LoraHeader = Pick<SafetensorsHeader, 'metadata' | 'tensors'>;

// ---- small readers ------------------------------------------------------------------------------

function stringField(record: Record<string, unknown> | undefined, key: string): string | undefined {
  const value = record?.[key];
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

function objectField(record: Record<string, unknown> | undefined, key: string): Record<string, unknown> | undefined {
  const value = record?.[key];
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** Metadata numbers are strings ("16.0", sometimes "None"); only finite numbers count. */
function parseNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const parsed = Number(value);
  return Number.isFinite(parsed) ? parsed : undefined;
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

// ---- key style and kind -------------------------------------------------------------------------

const CLONEOFSIMO_KEY = /^(unet|text_encoder):\d+:(up|down)$/;
const ATTN_PROCESSOR_KEY = /\.processor\.[a-z_]+_lora\.(down|up)\.weight$/;
const KOHYA_KEY = /^lora_(unet|te\d?)_/;
const PEFT_KEY = /\.lora_[AB]\.weight$|\.lora\.(down|up)\.weight$/;

const KEY_STYLES: ReadonlyArray<[Exclude<LoraKeyStyle, 'unknown'>, RegExp]> = [
  ['cloneofsimo', CLONEOFSIMO_KEY],
  ['diffusers-attn-processor', ATTN_PROCESSOR_KEY],
  ['kohya', KOHYA_KEY],
  ['peft', PEFT_KEY],
];

/** The style most keys follow: files sometimes carry a few foreign keys (bundled embeddings). */
export function detectKeyStyle(names: readonly string[]): LoraKeyStyle {
  let best: LoraKeyStyle = 'unknown';
  let bestCount = 0;
  for (const [style, pattern] of KEY_STYLES) {
    const count = names.filter((name) => pattern.test(name)).length;
    if (count > bestCount) {
      best = style;
      bestCount = count;
    }
  }
  return best;
}

const DOWN_WEIGHT = /(\.lora_down\.weight|\.lora_A\.weight|\.lora\.down\.weight|_lora\.down\.weight|:down)$/;

/** A kohya/LyCORIS LoRA that also adapts convolutions (kernel > 1, Tucker mid, or resnet/sampler blocks). */
function isLoCon(tensors: readonly SafetensorsTensor[]): boolean {
  return tensors.some(
    (t) =>
      t.name.endsWith('.lora_mid.weight') ||
      (t.name.endsWith('.lora_down.weight') &&
        ((t.shape.length === 4 && t.shape[2] * t.shape[3] > 1) || /(resnets|downsamplers|upsamplers)/.test(t.name))),
  );
}

/** Network kind from key suffixes; the rarer algorithms win over plain LoRA keys they may carry too. */
export function detectKind(tensors: readonly SafetensorsTensor[]): LoraKind {
  const has = (test: (name: string) => boolean) => tensors.some((t) => test(t.name));
  if (has((n) => n.endsWith('.dora_scale'))) return 'DoRA';
  if (has((n) => n.endsWith('.hada_w1_a'))) return 'LoHa';
  if (has((n) => n.endsWith('.lokr_w1') || n.endsWith('.lokr_w1_a'))) return 'LoKr';
  if (has((n) => n.endsWith('.oft_blocks') || n.endsWith('.oft_diag'))) return 'OFT';
  if (has((n) => n.endsWith('.on_input'))) return 'IA3';
  if (has((n) => n.endsWith('.diff') || n.endsWith('.diff_b'))) return 'full';
  if (has((n) => n.endsWith('.lora_down.weight'))) return isLoCon(tensors) ? 'LoCon' : 'LoRA';
  if (has((n) => DOWN_WEIGHT.test(n))) return 'LoRA';
  return 'unknown';
}

function smallerDim(tensor: SafetensorsTensor | undefined): number | undefined {
  if (tensor === undefined || tensor.shape.length < 2) return undefined;
  return Math.min(tensor.shape[0], tensor.shape[1]);
}

/**
 * Rank as A1111 would see it: the first down/A weight's inner dimension. LoKr factors are not a rank,
 * so there the trainer's `ss_network_dim` is the honest number.
 */
function detectRank(kind: LoraKind, tensors: readonly SafetensorsTensor[], metadata: Record<string, string>): number | undefined {
  if (kind === 'LoKr') {
    return parseNumber(metadata['ss_network_dim']) ?? smallerDim(tensors.find((t) => /\.lokr_w[12]_a$/.test(t.name)));
  }
  if (kind === 'LoHa') return smallerDim(tensors.find((t) => t.name.endsWith('.hada_w1_a')));
  return smallerDim(tensors.find((t) => DOWN_WEIGHT.test(t.name)));
}

/** The first `.alpha` tensor, which `loadLoraCard` reads when the metadata has no alpha. */
export function firstAlphaTensor(header: LoraHeader): SafetensorsTensor | undefined {
  return header.tensors.find((t) => t.name.endsWith('.alpha'));
}

// ---- base model ---------------------------------------------------------------------------------

type BaseGuess = { base: BaseModel; source: BaseModelSource; detail: string };

function fromSidecarVersion(value: string | undefined): BaseModel | undefined {
  return value === 'SD1' || value === 'SD2' || value === 'SDXL' ? value : undefined;
}

function fromKohyaVersion(value: string | undefined): BaseModel | undefined {
  if (value === undefined || value === '') return undefined;
  if (value.startsWith('sdxl_')) return 'SDXL';
  if (value.startsWith('sd_v1')) return 'SD1';
  if (value.startsWith('sd_v2')) return 'SD2';
  return 'other';
}

function fromArchitecture(value: string | undefined): BaseModel | undefined {
  if (value === undefined || value === '') return undefined;
  const model = value.split('/')[0];
  if (model.startsWith('stable-diffusion-xl-v1')) return 'SDXL';
  if (model.startsWith('stable-diffusion-v1')) return 'SD1';
  if (model.startsWith('stable-diffusion-v2')) return 'SD2';
  return 'other';
}

function fromCivitai(value: string | undefined): BaseModel | undefined {
  if (value === undefined) return undefined;
  if (/^SD ?1(\.|\b)/i.test(value)) return 'SD1';
  if (/^SD ?2(\.|\b)/i.test(value)) return 'SD2';
  // Pony, Illustrious and NoobAI are SDXL fine-tunes; their LoRAs load on SDXL.
  if (/^(SDXL|Pony|Illustrious|NoobAI)/i.test(value)) return 'SDXL';
  return 'other';
}

const CROSS_ATTENTION_WIDTH: ReadonlyMap<number, BaseModel> = new Map([
  [768, 'SD1'],
  [1024, 'SD2'],
  [2048, 'SDXL'],
]);

/** Input width of a module's adapter: the down/A weight's second dim, or for LoKr the product of the factors' widths. */
function inputWidth(moduleTensors: readonly SafetensorsTensor[]): number | undefined {
  const down = moduleTensors.find((t) => DOWN_WEIGHT.test(t.name) || t.name.endsWith('.hada_w1_b'));
  if (down !== undefined && down.shape.length >= 2) return down.shape[1];
  const factor = (n: 1 | 2) =>
    moduleTensors.find((t) => t.name.endsWith(`.lokr_w${n}`)) ?? moduleTensors.find((t) => t.name.endsWith(`.lokr_w${n}_b`));
  const w1 = factor(1);
  const w2 = factor(2);
  if (w1 !== undefined && w2 !== undefined && w1.shape.length >= 2 && w2.shape.length >= 2) return w1.shape[1] * w2.shape[1];
  return undefined;
}

/** A module name without the adapter suffix, e.g. `lora_unet_..._attn2_to_k` or `...attn2.processor.to_k_lora`. */
function moduleOf(name: string): string {
  if (CLONEOFSIMO_KEY.test(name)) return name.replace(/:(up|down)$/, '');
  return name.replace(/\.(lora_(down|up|mid)\.weight|lora_[AB]\.weight|lora\.(down|up)\.weight|down\.weight|up\.weight|alpha|hada_\w+|lokr_\w+|dora_scale)$/, '');
}

/** Base model from the tensors alone: SDXL's two text encoders, FLUX blocks, or the width of the UNet's cross-attention keys. */
export function baseModelFromKeys(tensors: readonly SafetensorsTensor[]): { base: BaseModel; detail: string } | undefined {
  const names = tensors.map((t) => t.name);
  if (names.some((n) => n.startsWith('lora_te1_') || n.startsWith('lora_te2_'))) {
    return { base: 'SDXL', detail: 'lora_te1_/lora_te2_ text-encoder keys' };
  }
  if (names.some((n) => /^transformer\.|(^|[._])(single_transformer_blocks|double_blocks|single_blocks)[._]/.test(n))) {
    return { base: 'other', detail: 'FLUX transformer keys' };
  }
  const groups = new Map<string, SafetensorsTensor[]>();
  for (const tensor of tensors) {
    const module = moduleOf(tensor.name);
    const members = groups.get(module);
    if (members === undefined) groups.set(module, [tensor]);
    else members.push(tensor);
  }
  const widthOf = (pattern: RegExp) => {
    for (const [module, members] of groups) {
      const width = pattern.test(module) ? inputWidth(members) : undefined;
      if (width !== undefined && CROSS_ATTENTION_WIDTH.has(width)) return width;
    }
    return undefined;
  };
  const crossAttention = widthOf(/attn2[._](processor\.)?to_k/);
  if (crossAttention !== undefined) {
    return { base: CROSS_ATTENTION_WIDTH.get(crossAttention) as BaseModel, detail: `cross-attention to_k input width ${crossAttention}` };
  }
  // Text-encoder attention width: CLIP ViT-L is 768 wide (SD1), OpenCLIP ViT-H 1024 (SD2).
  const textEncoder = widthOf(/^(lora_te_.*self_attn_(q|k|v)_proj|text_encoder:\d+)$/);
  if (textEncoder === 768 || textEncoder === 1024) {
    return { base: textEncoder === 768 ? 'SD1' : 'SD2', detail: `text-encoder attention input width ${textEncoder}` };
  }
  return undefined;
}

/**
 * Base model by the strongest evidence present: what the user set in the sidecar, what the trainer
 * wrote, then the key shapes, then civitai's label. A disagreement between a label and the keys is
 * reported, since loading a LoRA on the wrong base fails silently in A1111.
 */
function detectBaseModel(header: LoraHeader, sidecars: LoraSidecars, warnings?: string[]): BaseGuess {
  const metadata = header.metadata;
  // The keys are looked at only where no label decides, or to check a label (a card's warnings):
  // grouping a large LoRA's tensors is most of the cost of a scan's summary.
  let keysLooked: { found: ReturnType<typeof baseModelFromKeys> } | undefined;
  const keys = () => (keysLooked ??= { found: baseModelFromKeys(header.tensors) }).found;
  const v2 = metadata['ss_v2'];
  const labelled: Array<[BaseModelSource, BaseModel | undefined, string | undefined]> = [
    ['sidecar sd version', fromSidecarVersion(stringField(sidecars.userMetadata, 'sd version')), stringField(sidecars.userMetadata, 'sd version')],
    ['ss_base_model_version', fromKohyaVersion(metadata['ss_base_model_version']), metadata['ss_base_model_version']],
    ['modelspec.architecture', fromArchitecture(metadata['modelspec.architecture']), metadata['modelspec.architecture']],
    ['ss_v2', v2 === 'True' ? 'SD2' : v2 === 'False' ? 'SD1' : undefined, v2],
  ];
  const civitai = stringField(sidecars.civitaiInfo, 'baseModel');
  const chosen =
    labelled.find(([, base]) => base !== undefined) ??
    (keys() !== undefined ? (['keys', keys()!.base, keys()!.detail] as const) : undefined) ??
    (fromCivitai(civitai) !== undefined ? (['civitai baseModel', fromCivitai(civitai), civitai] as const) : undefined);
  if (chosen === undefined) return { base: 'unknown', source: 'none', detail: '' };
  const [source, base, detail] = chosen as [BaseModelSource, BaseModel, string];
  const found = warnings !== undefined && source !== 'keys' ? keys() : undefined;
  if (found !== undefined && found.base !== base) {
    warnings!.push(`${source} says ${base} (${JSON.stringify(detail)}) but the keys look like ${found.base} (${found.detail})`);
  }
  return { base, source, detail };
}

// ---- trigger words ------------------------------------------------------------------------------

function splitWords(text: string): string[] {
  return text
    .split(',')
    .map((word) => word.trim())
    .filter((word) => word !== '');
}

/**
 * The most frequent training tags, summed over dataset folders; ties keep first-seen order so the
 * result is stable. Top tags approximate trigger words when the author left none.
 */
export function topTags(tagFrequency: string | undefined, count: number, warnings: string[]): string[] {
  if (tagFrequency === undefined || tagFrequency.trim() === '') return [];
  const parsed = parseJsonObject(tagFrequency);
  if (parsed === undefined) {
    warnings.push('ss_tag_frequency is not a JSON object; no tags taken from it');
    return [];
  }
  const totals = new Map<string, number>();
  for (const folder of Object.values(parsed)) {
    if (typeof folder !== 'object' || folder === null) continue;
    for (const [tag, n] of Object.entries(folder)) {
      const amount = parseNumber(n);
      if (amount !== undefined && tag.trim() !== '') totals.set(tag.trim(), (totals.get(tag.trim()) ?? 0) + amount);
    }
  }
  // Array.prototype.sort is stable, so equal counts stay in insertion (first-seen) order.
  return [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([tag]) => tag);
}

function collectTriggerWords(header: LoraHeader, sidecars: LoraSidecars, warnings: string[]): TriggerWord[] {
  const found: TriggerWord[] = [];
  const add = (words: string[], source: TriggerWordSource) => {
    for (const word of words) found.push({ word, source });
  };
  add(splitWords(stringField(sidecars.userMetadata, 'activation text') ?? ''), 'activation text');
  const trained = sidecars.civitaiInfo?.['trainedWords'];
  if (Array.isArray(trained)) add(trained.filter((w): w is string => typeof w === 'string').flatMap(splitWords), 'civitai trainedWords');
  add(splitWords(header.metadata['modelspec.trigger_phrase'] ?? ''), 'modelspec.trigger_phrase');
  add(topTags(header.metadata['ss_tag_frequency'], 5, warnings), 'tag frequency');
  // Same word from a weaker source adds nothing; compare the way a reader would (case, spacing).
  const seen = new Set<string>();
  return found.filter(({ word }) => {
    const key = word.toLowerCase().replace(/\s+/g, ' ');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

// ---- warnings -----------------------------------------------------------------------------------

const STYLE_WARNINGS: Partial<Record<LoraKeyStyle, string>> = {
  cloneofsimo:
    "cloneofsimo's early LoRA format (unet:N:up / text_encoder:N:down keys): AUTOMATIC1111 cannot map these keys and skips them silently",
  peft: 'PEFT/diffusers keys (lora_A/lora_B or .lora.down/.lora.up): AUTOMATIC1111 skips keys it cannot map without any message, so this LoRA may do nothing there',
  'diffusers-attn-processor':
    'diffusers attention-processor keys (processor.to_k_lora.down.weight): AUTOMATIC1111 cannot map these keys and skips them silently',
};

function notALoraWarning(tensors: readonly SafetensorsTensor[]): string {
  const names = tensors.map((t) => t.name);
  if (names.some((n) => n === 'emb_params' || n === 'string_to_param' || n === 'clip_l' || n === 'clip_g')) {
    return 'no LoRA weights: this looks like a textual-inversion embedding';
  }
  return 'no LoRA weights: no key ends like a LoRA, LyCORIS or diff weight';
}

// ---- the card -----------------------------------------------------------------------------------

function preferredWeightOf(userMetadata: Record<string, unknown> | undefined): number | undefined {
  const weight = parseNumber(userMetadata?.['preferred weight']);
  // A1111 writes 0 for "not set"; a real weight of 0 would disable the LoRA, so nobody means it.
  return weight === undefined || weight === 0 ? undefined : weight;
}

export function describeLora(header: LoraHeader, sidecars: LoraSidecars = {}): LoraCard {
  const metadata = header.metadata;
  const warnings: string[] = [...(sidecars.problems ?? [])];
  const kind = detectKind(header.tensors);
  const keyStyle = detectKeyStyle(header.tensors.map((t) => t.name));
  const styleWarning = STYLE_WARNINGS[keyStyle];
  if (styleWarning !== undefined) warnings.push(styleWarning);
  if (kind === 'unknown') warnings.push(notALoraWarning(header.tensors));
  const { base, source } = detectBaseModel(header, sidecars, warnings);
  const civitaiModel = objectField(sidecars.civitaiInfo, 'model');
  const card: LoraCard = {
    kind,
    keyStyle,
    rank: detectRank(kind, header.tensors, metadata),
    alpha: parseNumber(metadata['ss_network_alpha']) ?? sidecars.alphaTensor,
    baseModel: base,
    baseModelSource: source,
    trainingModel: metadata['ss_sd_model_name'] || undefined,
    outputName: metadata['ss_output_name'] || undefined,
    triggerWords: collectTriggerWords(header, sidecars, warnings),
    preferredWeight: preferredWeightOf(sidecars.userMetadata),
    previewPath: sidecars.previewPath,
    description: stringField(sidecars.userMetadata, 'description') ?? stringField(sidecars.civitaiInfo, 'description'),
    negativeText: stringField(sidecars.userMetadata, 'negative text'),
    notes: stringField(sidecars.userMetadata, 'notes'),
    civitaiName: stringField(civitaiModel, 'name'),
    sshsHash: storedShortHash(metadata),
    tensorCount: header.tensors.length,
    warnings,
  };
  return dropUndefined(card);
}

/** What the Insert LoRA picker shows of a LoRA: the card's fields of that name, without the rest of its work. */
export type LoraPickerFields = Pick<LoraCard, 'kind' | 'baseModel' | 'triggerWords' | 'preferredWeight' | 'previewPath'>;

export function describeLoraForPicker(header: LoraHeader, sidecars: LoraSidecars = {}): LoraPickerFields {
  const ignored: string[] = [];
  return {
    kind: detectKind(header.tensors),
    baseModel: detectBaseModel(header, sidecars).base,
    triggerWords: collectTriggerWords(header, sidecars, ignored),
    preferredWeight: preferredWeightOf(sidecars.userMetadata),
    previewPath: sidecars.previewPath,
  };
}

/** Leaves out absent optional fields so cards compare with deepStrictEqual and serialize compactly. */
function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

// ---- loading from disk --------------------------------------------------------------------------

/**
 * Preview file suffixes in lookup order: civitai-helper's `.preview.png` first (what most libraries
 * have), then A1111's plain image names.
 */
export const PREVIEW_SUFFIXES: readonly string[] = [
  '.preview.png',
  '.png',
  '.jpg',
  '.jpeg',
  '.webp',
  '.preview.jpg',
  '.preview.jpeg',
  '.preview.webp',
  '.gif',
  '.preview.gif',
];

async function readJsonSidecar(fs: LibraryFileSystem, path: string, problems: string[]): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await fs.readText(path);
  } catch (reason) {
    problems.push(`cannot read ${baseName(path)}: ${reason instanceof Error ? reason.message : String(reason)}`);
    return undefined;
  }
  const parsed = parseJsonObject(text);
  if (parsed === undefined) problems.push(`${baseName(path)} is not a JSON object; ignored`);
  return parsed;
}

/** Names in the LoRA's folder; one listing answers every sidecar lookup. */
async function siblingNames(fs: LibraryFileSystem, folder: string): Promise<Set<string>> {
  try {
    return new Set((await fs.readDirectory(folder)).map((entry) => entry.name));
  } catch {
    return new Set();
  }
}

/**
 * `siblings`: the folder's file names when the caller listed it already (a scan does).
 * `alphaTensor` false skips reading the alpha tensor's value, which only the card's alpha shows.
 */
export async function gatherSidecars(
  fs: LibraryFileSystem,
  path: string,
  header: SafetensorsHeader,
  siblings?: ReadonlySet<string>,
  alphaTensor = true,
): Promise<LoraSidecars> {
  const folder = dirName(path);
  const [stem] = splitExt(baseName(path));
  siblings ??= await siblingNames(fs, folder);
  const problems: string[] = [];
  const sidecars: LoraSidecars = {};
  if (siblings.has(`${stem}.json`)) sidecars.userMetadata = await readJsonSidecar(fs, joinPath(folder, `${stem}.json`), problems);
  if (siblings.has(`${stem}.civitai.info`)) sidecars.civitaiInfo = await readJsonSidecar(fs, joinPath(folder, `${stem}.civitai.info`), problems);
  const preview = PREVIEW_SUFFIXES.find((suffix) => siblings.has(stem + suffix));
  if (preview !== undefined) sidecars.previewPath = joinPath(folder, stem + preview);
  if (alphaTensor && parseNumber(header.metadata['ss_network_alpha']) === undefined) {
    const alpha = firstAlphaTensor(header);
    if (alpha !== undefined) sidecars.alphaTensor = await readScalar(fs, path, header, alpha.name);
  }
  if (problems.length > 0) sidecars.problems = problems;
  return dropUndefined(sidecars);
}

export async function loadLoraCard(
  fs: LibraryFileSystem,
  path: string,
  cache: SafetensorsCache,
  siblings?: ReadonlySet<string>,
): Promise<LoraCard | SafetensorsError> {
  const header = await cache.read(fs, path);
  if (isSafetensorsError(header)) return header;
  return describeLora(header, await gatherSidecars(fs, path, header, siblings));
}
