import { LoraKeyStyle, detectKeyStyle } from '../../service/library/loraCard';

/**
 * Groups a LoRA's keys by module and names each module by its diffusers path, the names the ONNX
 * export's initializers are derived from. Works on key names alone (a key manifest has no data), so
 * the tensors a module needs are referred to by key; `resolveModule` swaps in the data.
 *
 * Every key ends up in a module or in `unmatched` with a reason: A1111 skips keys it cannot map
 * without a word, and a LoRA that silently does half of what it should is worse than one refused.
 *
 * Sources of the name tables (see the report of issue 6):
 * - kohya `lora_unet_`/`lora_te_` names are the module path with `.` replaced by `_` (sd-scripts
 *   networks/lora.py); undone by re-joining the diffusers names that contain `_` (the same list of
 *   compounds diffusers' `_convert_unet_lora_key`/`_convert_text_encoder_lora_key` re-join).
 * - SDXL compvis-style UNet names (`input_blocks_4_1_...`): sd-scripts library/sdxl_model_util.py
 *   `make_unet_conversion_map` and diffusers' `_maybe_map_sgm_blocks_to_diffusers` (layers_per_block 2).
 * - LyCORIS/A1111 suffixes: extensions-builtin/Lora/network_{lora,hada,lokr,full}.py and network.py.
 */

export type LoraComponent = 'unet' | 'text_encoder' | 'text_encoder_2';

/** The algorithm of one module; DoRA is not a kind but a `doraScale` on any of them. */
export type LoraModuleKind = 'lora' | 'loha' | 'lokr' | 'full';

/**
 * What each tensor of a module is. LoHa and LoKr share the `w1a`… names (the module's kind tells them
 * apart): LoHa `hada_w1_a` → `w1a`, LoKr `lokr_w1_a` → `w1a`, `lokr_w1` → `w1`.
 */
export type TensorRole =
  | 'up'
  | 'down'
  | 'mid'
  | 'alpha'
  | 'scale'
  | 'w1'
  | 'w1a'
  | 'w1b'
  | 'w2'
  | 'w2a'
  | 'w2b'
  | 't1'
  | 't2'
  | 'diff'
  | 'diffBias'
  | 'doraScale';

export interface LoraModule<T = string> {
  component: LoraComponent;
  /** The diffusers module path inside the component, e.g. `down_blocks.0.attentions.0.proj_in`. */
  module: string;
  kind: LoraModuleKind;
  tensors: Partial<Record<TensorRole, T>>;
  /** Every key of the file that went into this module. */
  sourceKeys: string[];
}

export interface UnmatchedKey {
  key: string;
  reason: string;
}

export interface LoraKeyMap {
  style: LoraKeyStyle;
  modules: LoraModule[];
  unmatched: UnmatchedKey[];
}

export interface LoraKeyMapError {
  error: string;
  /** The format that was refused, for the editor's diagnostic. */
  format: 'cloneofsimo';
  unmatched: UnmatchedKey[];
}

// ---- suffixes -----------------------------------------------------------------------------------

type Family = 'lora' | 'loha' | 'lokr' | 'full' | 'any';

/** Key suffix → role, from A1111's network_*.py (kohya/LyCORIS) and diffusers/PEFT. Matched on whole `.`-separated tails. */
const SUFFIXES: ReadonlyArray<[string, TensorRole, Family]> = [
  ['.lora_up.weight', 'up', 'lora'],
  ['.lora_down.weight', 'down', 'lora'],
  ['.lora_mid.weight', 'mid', 'lora'],
  // PEFT: B is the up projection, A the down (A1111's ModuleTypeLora renames them the same way).
  ['.lora_B.weight', 'up', 'lora'],
  ['.lora_A.weight', 'down', 'lora'],
  ['.lora.up.weight', 'up', 'lora'],
  ['.lora.down.weight', 'down', 'lora'],
  // diffusers' text-encoder MLP convention (`_convert_text_encoder_lora_key`).
  ['.lora_linear_layer.up.weight', 'up', 'lora'],
  ['.lora_linear_layer.down.weight', 'down', 'lora'],
  ['.hada_w1_a', 'w1a', 'loha'],
  ['.hada_w1_b', 'w1b', 'loha'],
  ['.hada_w2_a', 'w2a', 'loha'],
  ['.hada_w2_b', 'w2b', 'loha'],
  ['.hada_t1', 't1', 'loha'],
  ['.hada_t2', 't2', 'loha'],
  ['.lokr_w1', 'w1', 'lokr'],
  ['.lokr_w1_a', 'w1a', 'lokr'],
  ['.lokr_w1_b', 'w1b', 'lokr'],
  ['.lokr_w2', 'w2', 'lokr'],
  ['.lokr_w2_a', 'w2a', 'lokr'],
  ['.lokr_w2_b', 'w2b', 'lokr'],
  ['.lokr_t2', 't2', 'lokr'],
  ['.diff', 'diff', 'full'],
  ['.diff_b', 'diffBias', 'full'],
  ['.alpha', 'alpha', 'any'],
  ['.scale', 'scale', 'any'],
  ['.dora_scale', 'doraScale', 'any'],
  // PEFT/diffusers DoRA magnitude (per output row).
  ['.lora_magnitude_vector', 'doraScale', 'any'],
  ['.lora_magnitude_vector.weight', 'doraScale', 'any'],
];

/** Keys we recognise but cannot merge: each gets its own reason instead of a generic one. */
const UNSUPPORTED_SUFFIXES: ReadonlyArray<[RegExp, string]> = [
  [/\.(oft_blocks|oft_diag|oft_R)$/, 'OFT/BOFT modules are not supported'],
  [/\.on_input$/, '(IA)³ modules are not supported'],
  [/\.(w_norm|b_norm)$/, 'LyCORIS norm-layer modules are not supported'],
  [/\.(a1|a2|b1|b2)\.weight$/, 'GLoRA modules are not supported'],
  [/\.lora_(up|down|A|B)\.bias$|\.lora\.(up|down)\.bias$|\.bias$/, 'bias deltas of LoRA modules are not supported'],
  [/_custom_diffusion\.|\.to_(k|v)_ip\./, 'custom-diffusion / IP-adapter weights are not a LoRA'],
];

/** A diffusers attention-processor LoRA key: `<path>.processor.to_k_lora.down.weight` (also `to_out_lora`). */
const PROCESSOR_KEY = /^(.*?)(\.processor)?\.(to_q|to_k|to_v|to_out)_lora\.(up|down)\.weight$/;
const CLONEOFSIMO_KEY = /^(unet|text_encoder):\d+:(up|down)$/;
const EMBEDDING_REASON = 'a textual-inversion embedding bundled with the LoRA, not a weight delta';
const EMBEDDING_KEY = /^(<.*>|emb_params|string_to_param\..*|string_to_token|clip_[lg]|bundle_emb\..*)$/;

// ---- module names -------------------------------------------------------------------------------

/**
 * Diffusers (and compvis) module-name segments that contain `_`, so an underscore-joined kohya name
 * can be split back into them. Longest first wins: `time_emb_proj` before `time_emb`.
 */
const COMPOUNDS: ReadonlySet<string> = new Set([
  // diffusers UNet
  'down_blocks',
  'mid_block',
  'up_blocks',
  'transformer_blocks',
  'to_q',
  'to_k',
  'to_v',
  'to_out',
  'proj_in',
  'proj_out',
  'time_emb_proj',
  'conv_shortcut',
  'conv_in',
  'conv_out',
  'conv_norm_out',
  'time_embedding',
  'add_embedding',
  'linear_1',
  'linear_2',
  // CLIP text encoders (transformers' names, which kohya uses for both CLIP-L and OpenCLIP-bigG)
  'text_model',
  'self_attn',
  'q_proj',
  'k_proj',
  'v_proj',
  'out_proj',
  'layer_norm1',
  'layer_norm2',
  'final_layer_norm',
  'token_embedding',
  'position_embedding',
  'text_projection',
  // compvis / SGM UNet (SDXL kohya files)
  'input_blocks',
  'middle_block',
  'output_blocks',
  'in_layers',
  'out_layers',
  'emb_layers',
  'skip_connection',
  'time_embed',
  'label_emb',
]);

/** Splits `down_blocks_0_attentions_0_proj_in` into `[down_blocks, 0, attentions, 0, proj_in]`. */
export function splitKohyaName(name: string): string[] {
  const parts = name.split('_');
  const segments: string[] = [];
  for (let i = 0; i < parts.length; ) {
    let taken = 1;
    for (const length of [3, 2]) {
      if (i + length <= parts.length && COMPOUNDS.has(parts.slice(i, i + length).join('_'))) {
        taken = length;
        break;
      }
    }
    segments.push(parts.slice(i, i + taken).join('_'));
    i += taken;
  }
  return segments;
}

/** compvis ResBlock layer names → diffusers ResnetBlock2D (sdxl_model_util `unet_conversion_map_resnet`). */
const RESNET_LAYERS: ReadonlyMap<string, string> = new Map([
  ['in_layers.0', 'norm1'],
  ['in_layers.2', 'conv1'],
  ['out_layers.0', 'norm2'],
  ['out_layers.3', 'conv2'],
  ['emb_layers.1', 'time_emb_proj'],
  ['skip_connection', 'conv_shortcut'],
]);

/** Blocks per level in the SD/SDXL UNet: `layers_per_block` (2) plus the down/upsampler slot. */
const SLOTS_PER_LEVEL = 3;

function resnetRest(rest: string[]): string | undefined {
  return RESNET_LAYERS.get(rest.join('.'));
}

/**
 * compvis/SGM UNet segments → the diffusers path, by the index arithmetic of
 * `make_unet_conversion_map` (input_blocks.{3i+j+1}.{0|1} = down_blocks.i.{resnets|attentions}.j,
 * input_blocks.{3(i+1)}.0.op = down_blocks.i.downsamplers.0.conv, output_blocks.{3i+j}.{0|1} =
 * up_blocks.i.{resnets|attentions}.j, the upsampler `conv` after the last block of a level, and
 * middle_block.{0,1,2} = resnets.0, attentions.0, resnets.1). Structural, so it holds for SD1's four
 * levels as for SDXL's three without knowing the model.
 */
function compvisToDiffusers(segments: string[]): string | undefined {
  const [root, a, b, ...rest] = segments;
  const n = Number(a);
  const sub = Number(b);
  switch (root) {
    case 'input_blocks': {
      if (!Number.isInteger(n) || !Number.isInteger(sub)) return undefined;
      if (n === 0) return sub === 0 && rest.length === 0 ? 'conv_in' : undefined;
      const level = Math.floor((n - 1) / SLOTS_PER_LEVEL);
      const slot = (n - 1) % SLOTS_PER_LEVEL;
      if (slot === 2) return sub === 0 && rest.join('.') === 'op' ? `down_blocks.${level}.downsamplers.0.conv` : undefined;
      if (sub === 0) {
        const layer = resnetRest(rest);
        return layer === undefined ? undefined : `down_blocks.${level}.resnets.${slot}.${layer}`;
      }
      return sub === 1 && rest.length > 0 ? `down_blocks.${level}.attentions.${slot}.${rest.join('.')}` : undefined;
    }
    case 'middle_block': {
      if (n === 1) return b !== undefined ? `mid_block.attentions.0.${[b, ...rest].join('.')}` : undefined;
      if (n !== 0 && n !== 2) return undefined;
      const layer = resnetRest(b === undefined ? [] : [b, ...rest]);
      return layer === undefined ? undefined : `mid_block.resnets.${n / 2}.${layer}`;
    }
    case 'output_blocks': {
      if (!Number.isInteger(n) || !Number.isInteger(sub)) return undefined;
      const level = Math.floor(n / SLOTS_PER_LEVEL);
      const slot = n % SLOTS_PER_LEVEL;
      if (sub === 0) {
        const layer = resnetRest(rest);
        return layer === undefined ? undefined : `up_blocks.${level}.resnets.${slot}.${layer}`;
      }
      // The upsampler follows the level's last block: at .1 when the level has no attention (SD1's
      // up_blocks.0), at .2 otherwise; it is the only child named `conv`.
      if (rest.join('.') === 'conv') return slot === 2 && (sub === 1 || sub === 2) ? `up_blocks.${level}.upsamplers.0.conv` : undefined;
      return sub === 1 && rest.length > 0 ? `up_blocks.${level}.attentions.${slot}.${rest.join('.')}` : undefined;
    }
    case 'time_embed':
      return (a === '0' || a === '2') && b === undefined ? `time_embedding.linear_${a === '0' ? 1 : 2}` : undefined;
    case 'label_emb':
      return a === '0' && (b === '0' || b === '2') && rest.length === 0 ? `add_embedding.linear_${b === '0' ? 1 : 2}` : undefined;
    case 'out':
      return (a === '0' || a === '2') && b === undefined ? (a === '0' ? 'conv_norm_out' : 'conv_out') : undefined;
    default:
      return undefined;
  }
}

const COMPVIS_ROOTS: ReadonlySet<string> = new Set(['input_blocks', 'middle_block', 'output_blocks', 'time_embed', 'label_emb', 'out']);

/** A kohya UNet name (after `lora_unet_`) as a diffusers path, either naming style. */
export function kohyaUnetPath(name: string): string | undefined {
  const segments = splitKohyaName(name);
  if (COMPVIS_ROOTS.has(segments[0])) return compvisToDiffusers(segments);
  return segments.join('.');
}

// ---- which names are real modules ---------------------------------------------------------------

const UNET_ATTENTION = String.raw`(proj_in|proj_out|norm|transformer_blocks\.\d+\.(norm[123]|attn[12]\.(to_q|to_k|to_v|to_out\.0)|ff\.net\.0\.proj|ff\.net\.2))`;
const UNET_RESNET = String.raw`(conv1|conv2|norm1|norm2|time_emb_proj|conv_shortcut)`;
const UNET_MODULE = new RegExp(
  String.raw`^(conv_in|conv_out|conv_norm_out|(time_embedding|add_embedding)\.linear_[12]` +
    String.raw`|(down_blocks\.\d+|up_blocks\.\d+|mid_block)\.(attentions\.\d+\.${UNET_ATTENTION}|resnets\.\d+\.${UNET_RESNET}|downsamplers\.0\.conv|upsamplers\.0\.conv))$`,
);
const TEXT_MODULE = new RegExp(
  String.raw`^(text_model\.(encoder\.layers\.\d+\.(self_attn\.(q_proj|k_proj|v_proj|out_proj)|mlp\.fc[12]|layer_norm[12])` +
    String.raw`|final_layer_norm|embeddings\.(token_embedding|position_embedding))|text_projection)$`,
);

/**
 * Whether `path` names a module of the SD1/SD2/SDXL diffusers UNet or of a CLIP text encoder (the
 * structure, not one model's sizes: the graph lookup that follows checks the indices exist).
 */
export function isDiffusersModulePath(component: LoraComponent, path: string): boolean {
  return component === 'unet' ? UNET_MODULE.test(path) : TEXT_MODULE.test(path);
}

// ---- key → (component, module, role) ------------------------------------------------------------

type Located = { component: LoraComponent; module: string } | { reason: string };

/** diffusers' old text-encoder attention names (`to_q_lora`) → the CLIP module. */
const TEXT_PROCESSOR_TARGET: Readonly<Record<string, string>> = { to_q: 'q_proj', to_k: 'k_proj', to_v: 'v_proj', to_out: 'out_proj' };

const UNET_ROOTS = /^(down_blocks|mid_block|up_blocks|conv_in|conv_out|conv_norm_out|time_embedding|add_embedding)\./;

/** The component and diffusers path of a module prefix (the key minus its role suffix). */
function locate(prefix: string): Located {
  const kohya = /^lora_(unet|te|te1|te2|te3)_(.+)$/.exec(prefix);
  if (kohya !== null) {
    const [, part, name] = kohya;
    if (part === 'unet') {
      const module = kohyaUnetPath(name);
      return module === undefined ? { reason: `compvis UNet name "${name}" has no diffusers equivalent` } : { component: 'unet', module };
    }
    if (part === 'te3') return { reason: 'lora_te3_ (SD3 T5 text encoder) is not part of an SD1/SD2/SDXL model' };
    if (name.startsWith('model_transformer_resblocks_') || name.startsWith('1_model_transformer_resblocks_')) {
      return { reason: 'OpenCLIP-native text-encoder name (fused in_proj): not supported' };
    }
    return { component: part === 'te2' ? 'text_encoder_2' : 'text_encoder', module: splitKohyaName(name).join('.') };
  }
  if (prefix.startsWith('lora_')) return { reason: `unknown kohya prefix "${prefix.split('_').slice(0, 2).join('_')}_" (not an SD1/SD2/SDXL UNet or text encoder)` };
  const dotted = /^(unet|text_encoder|text_encoder_2)\.(.+)$/.exec(prefix);
  if (dotted !== null) return { component: dotted[1] as LoraComponent, module: dotted[2] };
  if (/^(transformer|single_transformer_blocks|double_blocks|single_blocks|diffusion_model)\./.test(prefix)) {
    return { reason: 'a FLUX/SD3/DiT transformer LoRA, not for an SD1/SD2/SDXL UNet' };
  }
  // A PEFT adapter saved from the bare model, and diffusers files without the pipeline prefix.
  const bare = prefix.replace(/^base_model\.model\./, '');
  if (UNET_ROOTS.test(bare)) return { component: 'unet', module: bare };
  if (bare.startsWith('text_model.')) return { component: 'text_encoder', module: bare };
  if (bare !== prefix) return { reason: 'a PEFT adapter for a model that is not an SD UNet or CLIP text encoder (FLUX/SD3-style names)' };
  return { reason: 'no known prefix (lora_unet_, lora_te_, unet., text_encoder., a diffusers UNet path)' };
}

type ParsedKey = { prefix: string; role: TensorRole; family: Family } | { reason: string };

function parseKey(key: string): ParsedKey {
  const processor = PROCESSOR_KEY.exec(key);
  if (processor !== null) {
    const [, path, , target, direction] = processor;
    const role: TensorRole = direction === 'up' ? 'up' : 'down';
    // UNet attention: to_out is a ModuleList whose Linear is `to_out.0`; CLIP names them *_proj.
    const isText = /^(text_encoder(_2)?\.)?text_model\./.test(path);
    const module = isText ? `${path}.${TEXT_PROCESSOR_TARGET[target]}` : `${path}.${target === 'to_out' ? 'to_out.0' : target}`;
    return { prefix: module, role, family: 'lora' };
  }
  let best: [string, TensorRole, Family] | undefined;
  for (const entry of SUFFIXES) {
    if (key.endsWith(entry[0]) && (best === undefined || entry[0].length > best[0].length)) best = entry;
  }
  if (best !== undefined && key.length > best[0].length) return { prefix: key.slice(0, -best[0].length), role: best[1], family: best[2] };
  for (const [pattern, reason] of UNSUPPORTED_SUFFIXES) if (pattern.test(key)) return { reason };
  return { reason: 'not a LoRA, LyCORIS or diff weight key' };
}

/**
 * A tensor key split into its module part and its role suffix (`lora_unet_…_to_k` and `lora_up.weight`),
 * for messages that name both; a key of no known form is all module part.
 */
export function splitTensorKey(key: string): { module: string; suffix: string } {
  const processor = PROCESSOR_KEY.exec(key);
  if (processor !== null) {
    const suffix = `${processor[4]}.weight`;
    return { module: key.slice(0, -suffix.length - 1), suffix };
  }
  let best: string | undefined;
  for (const [suffix] of SUFFIXES) if (key.endsWith(suffix) && key.length > suffix.length && (best === undefined || suffix.length > best.length)) best = suffix;
  return best === undefined ? { module: key, suffix: '' } : { module: key.slice(0, -best.length), suffix: best.slice(1) };
}

/** Which roles each kind needs; `any`-family roles ride along with whichever kind is present. */
function kindOf(roles: ReadonlySet<TensorRole>, families: ReadonlySet<Family>): LoraModuleKind | { reason: string } {
  const concrete = [...families].filter((f) => f !== 'any');
  if (concrete.length === 0) return { reason: 'only alpha/scale/dora_scale: the module has no weights' };
  if (concrete.length > 1) return { reason: `keys of several algorithms on one module (${concrete.join(', ')})` };
  const kind = concrete[0] as LoraModuleKind;
  const has = (role: TensorRole) => roles.has(role);
  const missing = (needs: string) => ({ reason: `incomplete ${kind} module: needs ${needs}` });
  switch (kind) {
    case 'lora':
      return has('up') && has('down') ? kind : missing('both up and down weights');
    case 'loha':
      return has('w1a') && has('w1b') && has('w2a') && has('w2b') ? kind : missing('hada_w1_a, hada_w1_b, hada_w2_a and hada_w2_b');
    case 'lokr':
      return (has('w1') || (has('w1a') && has('w1b'))) && (has('w2') || (has('w2a') && has('w2b')))
        ? kind
        : missing('lokr_w1 (or lokr_w1_a and lokr_w1_b) and lokr_w2 (or lokr_w2_a and lokr_w2_b)');
    case 'full':
      return has('diff') ? kind : missing('diff');
  }
}

/**
 * The module map of a LoRA from its key names. Refuses cloneofsimo's early format (`unet:N:up`):
 * its keys number the adapted Linear layers in the order the training script met them, which no
 * name table can map back without running that script on the same model.
 */
export function mapLoraKeys(keys: Iterable<string>): LoraKeyMap | LoraKeyMapError {
  const names = [...keys];
  const style = detectKeyStyle(names);
  const cloneofsimo = "cloneofsimo's early LoRA format (unet:N:up / text_encoder:N:down keys)";
  if (style === 'cloneofsimo') {
    return {
      error: `${cloneofsimo} is not supported: its keys number the layers instead of naming them, so they cannot be placed in the model; convert it with cloneofsimo/lora's conversion script to the kohya or diffusers format`,
      format: 'cloneofsimo',
      unmatched: names.map((key) => ({ key, reason: EMBEDDING_KEY.test(key) ? EMBEDDING_REASON : cloneofsimo })),
    };
  }
  const unmatched: UnmatchedKey[] = [];
  const groups = new Map<string, { prefix: string; keys: string[]; roles: Map<TensorRole, string>; families: Set<Family>; clash?: string }>();
  for (const key of names) {
    if (CLONEOFSIMO_KEY.test(key)) {
      unmatched.push({ key, reason: cloneofsimo });
      continue;
    }
    if (EMBEDDING_KEY.test(key)) {
      unmatched.push({ key, reason: EMBEDDING_REASON });
      continue;
    }
    const parsed = parseKey(key);
    if ('reason' in parsed) {
      unmatched.push({ key, reason: parsed.reason });
      continue;
    }
    const located = locate(parsed.prefix);
    if ('reason' in located) {
      unmatched.push({ key, reason: located.reason });
      continue;
    }
    if (!isDiffusersModulePath(located.component, located.module)) {
      unmatched.push({ key, reason: `"${located.module}" is not a module of an SD1/SD2/SDXL ${located.component === 'unet' ? 'UNet' : 'CLIP text encoder'}` });
      continue;
    }
    const id = `${located.component}:${located.module}`;
    let group = groups.get(id);
    if (group === undefined) {
      group = { prefix: id, keys: [], roles: new Map(), families: new Set() };
      groups.set(id, group);
    }
    group.keys.push(key);
    group.families.add(parsed.family);
    const previous = group.roles.get(parsed.role);
    // Two keys for one role (e.g. PEFT and kohya names of the same layer): keep neither silently.
    if (previous !== undefined) group.clash = `"${previous}" and "${key}" both give the ${parsed.role} of ${id}`;
    else group.roles.set(parsed.role, key);
  }
  const modules: LoraModule[] = [];
  for (const [id, group] of groups) {
    const kind = group.clash !== undefined ? { reason: group.clash } : kindOf(new Set(group.roles.keys()), group.families);
    if (typeof kind !== 'string') {
      for (const key of group.keys) unmatched.push({ key, reason: kind.reason });
      continue;
    }
    const separator = id.indexOf(':');
    modules.push({
      component: id.slice(0, separator) as LoraComponent,
      module: id.slice(separator + 1),
      kind,
      tensors: Object.fromEntries(group.roles) as Partial<Record<TensorRole, string>>,
      sourceKeys: group.keys,
    });
  }
  return { style, modules, unmatched };
}

export function isLoraKeyMapError(value: LoraKeyMap | LoraKeyMapError): value is LoraKeyMapError {
  return 'error' in value;
}
