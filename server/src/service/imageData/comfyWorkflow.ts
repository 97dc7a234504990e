/**
 * ComfyUI's two graph formats as one: the API graph (`prompt` chunk: `{id: {class_type,
 * inputs}}`, an input is a value or a link `[nodeId, outputSlot]`) and the UI graph
 * (`workflow` chunk: `{nodes: [{id, type, inputs, outputs, widgets_values, mode}], links}`).
 * A UI node's widget values are positional, so each node type the importer reads lists its
 * widget names (ComfyUI's INPUT_TYPES order, with the `control_after_generate` combo the
 * frontend adds after seed widgets); a widget converted to an input takes its link instead.
 * Bypassed UI nodes (mode 4) pass each output through from the first input of the same type;
 * muted ones (mode 2) do not run.
 */
export type ComfyLink = [string, number];

export interface ComfyNode {
  class_type: string;
  inputs: Record<string, unknown>;
  /** Bypassed UI node: output slot → the input it passes through. */
  passThrough?: Record<number, string>;
  muted?: boolean;
}

export type ComfyGraph = Record<string, ComfyNode>;

const WIDGETS: Record<string, string[]> = {
  KSampler: ['seed', 'control_after_generate', 'steps', 'cfg', 'sampler_name', 'scheduler', 'denoise'],
  KSamplerAdvanced: ['add_noise', 'noise_seed', 'control_after_generate', 'steps', 'cfg', 'sampler_name', 'scheduler', 'start_at_step', 'end_at_step', 'return_with_leftover_noise'],
  CLIPTextEncode: ['text'],
  CLIPTextEncodeSDXL: ['width', 'height', 'crop_w', 'crop_h', 'target_width', 'target_height', 'text_g', 'text_l'],
  CheckpointLoaderSimple: ['ckpt_name'],
  CheckpointLoader: ['config_name', 'ckpt_name'],
  UNETLoader: ['unet_name', 'weight_dtype'],
  VAELoader: ['vae_name'],
  LoraLoader: ['lora_name', 'strength_model', 'strength_clip'],
  LoraLoaderModelOnly: ['lora_name', 'strength_model'],
  EmptyLatentImage: ['width', 'height', 'batch_size'],
  EmptySD3LatentImage: ['width', 'height', 'batch_size'],
  CLIPSetLastLayer: ['stop_at_clip_layer'],
  PrimitiveNode: ['value', 'control_after_generate'],
  Note: ['text'],
  MarkdownNote: ['text'],
};

export function isComfyLink(v: unknown): v is ComfyLink {
  return Array.isArray(v) && v.length === 2 && (typeof v[0] === 'string' || typeof v[0] === 'number') && typeof v[1] === 'number';
}

/** The API graph as stored, with links' node ids as strings; non-node entries are skipped. */
export function apiGraph(json: unknown): ComfyGraph {
  const graph: ComfyGraph = {};
  if (!json || typeof json !== 'object' || Array.isArray(json)) return graph;
  for (const [id, node] of Object.entries(json as Record<string, unknown>)) {
    if (!node || typeof node !== 'object') continue;
    const n = node as { class_type?: unknown; inputs?: unknown };
    if (typeof n.class_type !== 'string') continue;
    const inputs: Record<string, unknown> = {};
    if (n.inputs && typeof n.inputs === 'object') {
      for (const [k, v] of Object.entries(n.inputs as Record<string, unknown>)) inputs[k] = isComfyLink(v) ? [String(v[0]), v[1]] : v;
    }
    graph[id] = { class_type: n.class_type, inputs };
  }
  return graph;
}

interface UiInput {
  name?: string;
  type?: string;
  link?: number | null;
  widget?: { name?: string };
}
interface UiNode {
  id?: number | string;
  type?: string;
  mode?: number;
  inputs?: UiInput[];
  outputs?: Array<{ type?: string }>;
  widgets_values?: unknown;
}

export function uiGraph(json: unknown): ComfyGraph {
  const graph: ComfyGraph = {};
  const root = json as { nodes?: unknown; links?: unknown };
  if (!root || !Array.isArray(root.nodes)) return graph;
  const links = new Map<number, ComfyLink>();
  for (const l of Array.isArray(root.links) ? root.links : []) {
    if (Array.isArray(l) && l.length >= 3) links.set(Number(l[0]), [String(l[1]), Number(l[2])]);
    else if (l && typeof l === 'object') {
      const o = l as { id?: unknown; origin_id?: unknown; origin_slot?: unknown };
      links.set(Number(o.id), [String(o.origin_id), Number(o.origin_slot)]);
    }
  }
  for (const raw of root.nodes as UiNode[]) {
    if (!raw || typeof raw !== 'object' || raw.id === undefined || typeof raw.type !== 'string') continue;
    const inputs: Record<string, unknown> = {};
    const names = WIDGETS[raw.type];
    const values = raw.widgets_values;
    if (Array.isArray(values)) {
      if (names) names.forEach((name, i) => i < values.length && (inputs[name] = values[i]));
      else values.forEach((v, i) => (inputs[`widget_${i}`] = v));
    } else if (values && typeof values === 'object') Object.assign(inputs, values);
    const inputList = Array.isArray(raw.inputs) ? raw.inputs : [];
    inputList.forEach((input, i) => {
      const name = input.widget?.name ?? input.name ?? `input_${i}`;
      const link = input.link === null || input.link === undefined ? undefined : links.get(input.link);
      if (link) inputs[name] = link;
    });
    const node: ComfyNode = { class_type: raw.type, inputs };
    if (raw.mode === 2) node.muted = true;
    if (raw.mode === 4) {
      node.passThrough = {};
      (Array.isArray(raw.outputs) ? raw.outputs : []).forEach((output, slot) => {
        const from = inputList.find((input) => input.type === output.type && input.link !== null && input.link !== undefined);
        if (from) node.passThrough![slot] = from.widget?.name ?? from.name ?? '';
      });
    }
    graph[String(raw.id)] = node;
  }
  return graph;
}
