import { ComfyGraph, ComfyLink, ComfyNode, isComfyLink } from './comfyWorkflow';
import { comfySampler, comfyScheduler } from './samplerNames';
import { GenerationParts } from './types';

/**
 * A ComfyUI graph as a `.prompt`, as far as A1111's language can say it: the texts of the
 * CLIPTextEncode nodes feeding the sampler's positive/negative (through reroutes, primitives and
 * bypassed nodes; ConditioningCombine is A1111's `AND`, ConditioningConcat its `BREAK`),
 * LoraLoader chains as `<lora:name:te:unet>` (strength_clip → te, strength_model → unet; one
 * weight when they are equal), checkpoint, seed, steps, cfg, sampler and scheduler in A1111's
 * names, size from EmptyLatentImage and Clip skip from CLIPSetLastLayer. Everything else the
 * graph does becomes a note (a `#` line), never dropped in silence.
 */
const SAMPLERS = ['KSampler', 'KSamplerAdvanced'];
/** Nodes that only save, show or decode the result, or annotate the graph: nothing to say about them. */
const SILENT = new Set(['SaveImage', 'PreviewImage', 'VAEDecode', 'Note', 'MarkdownNote', 'Reroute', 'PrimitiveNode', 'VAEDecodeTiled']);

interface Target {
  id: string;
  node: ComfyNode;
  slot: number;
}

interface LoraUse {
  name: string;
  order: number;
  te?: number;
  unet?: number;
}

export function comfyToPrompt(graph: ComfyGraph): GenerationParts {
  return new ComfyReader(graph).read();
}

class ComfyReader {
  private readonly visited = new Set<string>();
  private readonly notes: string[] = [];
  private readonly loras = new Map<string, LoraUse>();
  private loraOrder = 0;
  private clipSkip: number | undefined;
  private escapedBrackets = false;

  constructor(private readonly graph: ComfyGraph) {}

  read(): GenerationParts {
    const ids = Object.keys(this.graph).sort((a, b) => Number(a) - Number(b) || a.localeCompare(b));
    const samplers = ids.filter((id) => SAMPLERS.includes(this.graph[id].class_type) && !this.graph[id].muted);
    const fromEmpty = samplers.find((id) => this.latentSource(this.graph[id])?.node.class_type.startsWith('Empty'));
    const mainId = fromEmpty ?? samplers[0] ?? ids.find((id) => 'positive' in this.graph[id].inputs && 'negative' in this.graph[id].inputs);
    const parameters: Array<[string, string | number | undefined]> = [];
    let prompt = '';
    let negativePrompt = '';
    if (mainId === undefined) {
      this.notes.push('ComfyUI: no KSampler in the graph; the prompts below are every CLIPTextEncode text');
      prompt = ids.filter((id) => this.graph[id].class_type === 'CLIPTextEncode').map((id) => this.encoderText(id)).filter((t) => t).join('\nAND ');
    } else {
      const sampler = this.graph[mainId];
      this.visited.add(mainId);
      const positive = this.conditioning(sampler.inputs.positive, 'positive', 0);
      const negative = this.conditioning(sampler.inputs.negative, 'negative', 0);
      const model = this.modelChain(sampler.inputs.model);
      prompt = positive;
      negativePrompt = negative;
      const loraTags = [...this.loras.values()].sort((a, b) => a.order - b.order).map(loraTag);
      if (loraTags.length) prompt = [prompt, loraTags.join(' ')].filter((p) => p).join(' ');
      const advanced = sampler.class_type === 'KSamplerAdvanced';
      const seed = this.scalar(advanced ? sampler.inputs.noise_seed : sampler.inputs.seed);
      const steps = this.scalar(sampler.inputs.steps);
      const samplerName = String(this.scalar(sampler.inputs.sampler_name) ?? '');
      const schedulerName = String(this.scalar(sampler.inputs.scheduler) ?? '');
      const a1111Sampler = comfySampler(samplerName);
      const a1111Schedule = comfyScheduler(schedulerName);
      if (samplerName && !a1111Sampler) this.notes.push(`ComfyUI sampler ${samplerName} has no A1111 equivalent`);
      if (schedulerName && !a1111Schedule) this.notes.push(`ComfyUI scheduler ${schedulerName} has no A1111 equivalent`);
      if (/_gpu$/.test(samplerName)) this.notes.push(`ComfyUI sampler ${samplerName} draws its Brownian noise on the GPU; A1111's ${a1111Sampler} is the same sampler`);
      const denoise = this.scalar(sampler.inputs.denoise);
      if (typeof denoise === 'number' && denoise !== 1) this.notes.push(`ComfyUI KSampler denoise: ${denoise}`);
      if (advanced) this.advancedNotes(sampler, steps);
      const size = this.size(sampler);
      parameters.push(
        ['Steps', num(steps)],
        ['Sampler', a1111Sampler],
        ['Schedule type', a1111Schedule],
        ['CFG scale', num(this.scalar(sampler.inputs.cfg))],
        ['Seed', typeof seed === 'string' && /^-?\d+$/.test(seed) ? seed : num(seed)],
        ['Size', size],
        ['Model', model.checkpoint],
        ['VAE', this.vae()],
        ['Clip skip', this.clipSkip !== undefined && this.clipSkip !== 1 ? this.clipSkip : undefined],
      );
      for (const other of samplers) if (other !== mainId) this.notes.push(`ComfyUI: another ${this.graph[other].class_type} (node ${other}: ${this.samplerSummary(this.graph[other])}) is not part of this prompt`);
    }
    if (this.escapedBrackets) this.notes.push('ComfyUI reads [ ] as plain text; they are escaped as \\[ \\] so A1111 does too');
    this.unvisitedNotes(ids);
    return { prompt, negativePrompt, parameters, notes: [...new Set(this.notes)] };
  }

  /** Follows reroutes and bypassed nodes from a link to the node that makes the value; loops end. */
  private follow(value: unknown): Target | undefined {
    let link: ComfyLink | undefined = isComfyLink(value) ? value : undefined;
    for (let hops = 0; link && hops <= Object.keys(this.graph).length; hops++) {
      const node = this.graph[link[0]];
      if (!node || node.muted) return undefined;
      if (node.passThrough) {
        this.visited.add(link[0]);
        const input = node.passThrough[link[1]];
        link = input === undefined ? undefined : (node.inputs[input] as ComfyLink | undefined);
        continue;
      }
      if (node.class_type === 'Reroute') {
        this.visited.add(link[0]);
        link = Object.values(node.inputs).find(isComfyLink);
        continue;
      }
      return { id: link[0], node, slot: link[1] };
    }
    return undefined;
  }

  /** A widget value, or the value of the primitive (or any one-value node) a converted widget is linked to. */
  private scalar(value: unknown, depth = 0): unknown {
    if (!isComfyLink(value)) return value;
    const target = this.follow(value);
    if (!target || depth > 16) return undefined;
    this.visited.add(target.id);
    const entries = Object.entries(target.node.inputs).filter(([k]) => k !== 'control_after_generate');
    const named = ['value', 'text', 'string', 'String', 'Text', 'seed', 'int', 'float', 'number'].find((k) => k in target.node.inputs);
    if (named) return this.scalar(target.node.inputs[named], depth + 1);
    if (entries.length === 1) return this.scalar(entries[0][1], depth + 1);
    this.notes.push(`ComfyUI: a value comes from a ${target.node.class_type} node (${target.id}), which this importer cannot evaluate`);
    return undefined;
  }

  private encoderText(id: string): string {
    this.visited.add(id);
    return this.escape(String(this.scalar(this.graph[id].inputs.text) ?? ''));
  }

  private escape(text: string): string {
    const escaped = text.replace(/(\\*)([[\]])/g, (m, slashes: string, bracket: string) => (slashes.length % 2 ? m : `${slashes}\\${bracket}`));
    if (escaped !== text) this.escapedBrackets = true;
    return escaped;
  }

  private conditioning(value: unknown, which: string, depth: number): string {
    const target = this.follow(value);
    if (!target || depth > 64) return '';
    const { id, node } = target;
    this.visited.add(id);
    const t = node.class_type;
    if (t === 'CLIPTextEncode') {
      this.clipChain(node.inputs.clip);
      return this.encoderText(id);
    }
    if (t === 'CLIPTextEncodeSDXL') {
      this.clipChain(node.inputs.clip);
      const g = String(this.scalar(node.inputs.text_g) ?? '');
      const l = String(this.scalar(node.inputs.text_l) ?? '');
      if (l && l !== g) this.notes.push(`ComfyUI CLIPTextEncodeSDXL on the ${which} prompt has a separate CLIP-L text: ${l}`);
      return this.escape(g);
    }
    if (t === 'ConditioningCombine') {
      return [this.conditioning(node.inputs.conditioning_1, which, depth + 1), this.conditioning(node.inputs.conditioning_2, which, depth + 1)].filter((s) => s).join('\nAND ');
    }
    if (t === 'ConditioningConcat') {
      return [this.conditioning(node.inputs.conditioning_to, which, depth + 1), this.conditioning(node.inputs.conditioning_from, which, depth + 1)].filter((s) => s).join(' BREAK ');
    }
    if (t === 'ConditioningZeroOut') {
      this.notes.push(`ComfyUI: the ${which} conditioning is zeroed out (ConditioningZeroOut)`);
      return '';
    }
    const through = 'conditioning' in node.inputs ? node.inputs.conditioning : target.slot === 1 && 'negative' in node.inputs ? node.inputs.negative : node.inputs.positive;
    this.notes.push(`ComfyUI ${t} (node ${id}) changes the ${which} conditioning; A1111's prompt cannot say that`);
    return through === undefined ? '' : this.conditioning(through, which, depth + 1);
  }

  private clipChain(value: unknown): void {
    for (let target = this.follow(value), hops = 0; target && hops < 256; hops++) {
      const { id, node } = target;
      this.visited.add(id);
      const t = node.class_type;
      if (t === 'LoraLoader') {
        this.lora(id, node).te = num(this.scalar(node.inputs.strength_clip));
        target = this.follow(node.inputs.clip);
      } else if (t === 'CLIPSetLastLayer') {
        const layer = num(this.scalar(node.inputs.stop_at_clip_layer));
        if (typeof layer === 'number') this.clipSkip ??= -layer;
        target = this.follow(node.inputs.clip);
      } else if (t.startsWith('CheckpointLoader')) {
        return;
      } else {
        this.notes.push(`ComfyUI ${t} (node ${id}) provides or changes the text encoder`);
        target = 'clip' in node.inputs ? this.follow(node.inputs.clip) : undefined;
      }
    }
  }

  private modelChain(value: unknown): { checkpoint?: string } {
    for (let target = this.follow(value), hops = 0; target && hops < 256; hops++) {
      const { id, node } = target;
      this.visited.add(id);
      const t = node.class_type;
      if (t === 'LoraLoader' || t === 'LoraLoaderModelOnly') {
        this.lora(id, node).unet = num(this.scalar(node.inputs.strength_model));
        target = this.follow(node.inputs.model);
      } else if (t.startsWith('CheckpointLoader') || t === 'UNETLoader') {
        const file = String(this.scalar(node.inputs.ckpt_name ?? node.inputs.unet_name) ?? '');
        return { checkpoint: file ? baseName(file) : undefined };
      } else {
        this.notes.push(`ComfyUI ${t} (node ${id}) changes the model`);
        target = 'model' in node.inputs ? this.follow(node.inputs.model) : undefined;
      }
    }
    return {};
  }

  private lora(id: string, node: ComfyNode): LoraUse {
    let use = this.loras.get(id);
    if (!use) {
      use = { name: baseName(String(this.scalar(node.inputs.lora_name) ?? '')), order: 0 };
      this.loras.set(id, use);
    }
    // The chain is walked from the sampler back to the checkpoint: the last seen is applied first.
    use.order = --this.loraOrder;
    return use;
  }

  private latentSource(sampler: ComfyNode): Target | undefined {
    return this.follow(sampler.inputs.latent_image);
  }

  private size(sampler: ComfyNode): string | undefined {
    const latent = this.latentSource(sampler);
    if (!latent) return undefined;
    this.visited.add(latent.id);
    if (!latent.node.class_type.startsWith('Empty')) {
      this.notes.push(`ComfyUI: the latent image comes from ${latent.node.class_type} (node ${latent.id}), not an empty latent`);
      return undefined;
    }
    const batch = num(this.scalar(latent.node.inputs.batch_size));
    if (typeof batch === 'number' && batch > 1) this.notes.push(`ComfyUI batch size: ${batch}`);
    const w = num(this.scalar(latent.node.inputs.width));
    const h = num(this.scalar(latent.node.inputs.height));
    return typeof w === 'number' && typeof h === 'number' ? `${w}x${h}` : undefined;
  }

  private vae(): string | undefined {
    const decoder = Object.entries(this.graph).find(([, n]) => n.class_type === 'VAEDecode' && !n.muted);
    const target = decoder && this.follow(decoder[1].inputs.vae);
    if (!target || target.node.class_type !== 'VAELoader') return undefined;
    this.visited.add(target.id);
    const name = String(this.scalar(target.node.inputs.vae_name) ?? '');
    return name || undefined;
  }

  private advancedNotes(sampler: ComfyNode, steps: unknown): void {
    const addNoise = this.scalar(sampler.inputs.add_noise);
    const start = num(this.scalar(sampler.inputs.start_at_step));
    const end = num(this.scalar(sampler.inputs.end_at_step));
    const leftover = this.scalar(sampler.inputs.return_with_leftover_noise);
    if (addNoise === 'disable') this.notes.push('ComfyUI KSamplerAdvanced add_noise: disable');
    if (typeof start === 'number' && start > 0) this.notes.push(`ComfyUI KSamplerAdvanced start_at_step: ${start}`);
    if (typeof end === 'number' && typeof steps === 'number' && end < steps) this.notes.push(`ComfyUI KSamplerAdvanced end_at_step: ${end}`);
    if (leftover === 'enable') this.notes.push('ComfyUI KSamplerAdvanced return_with_leftover_noise: enable');
  }

  private samplerSummary(node: ComfyNode): string {
    const keys = ['steps', 'cfg', 'sampler_name', 'scheduler', 'denoise'];
    return keys.filter((k) => k in node.inputs && !isComfyLink(node.inputs[k])).map((k) => `${k} ${String(node.inputs[k])}`).join(', ');
  }

  private unvisitedNotes(ids: string[]): void {
    const counts = new Map<string, number>();
    for (const id of ids) {
      const node = this.graph[id];
      if (this.visited.has(id) || SILENT.has(node.class_type) || node.muted || SAMPLERS.includes(node.class_type)) continue;
      counts.set(node.class_type, (counts.get(node.class_type) ?? 0) + 1);
    }
    if (counts.size) {
      const list = [...counts].map(([t, n]) => (n > 1 ? `${t} ×${n}` : t)).join(', ');
      this.notes.push(`ComfyUI nodes with no A1111 equivalent here: ${list}`);
    }
  }
}

function num(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

/** A1111 names checkpoints and LoRAs by file name without folders or extension. */
export function baseName(file: string): string {
  const name = file.split(/[\\/]/).pop() ?? file;
  return name.replace(/\.(safetensors|ckpt|pt|pth|bin|gguf|sft)$/i, '');
}

function loraTag(use: LoraUse): string {
  const te = use.te ?? 0;
  const unet = use.unet ?? 0;
  const f = (n: number) => String(Math.round(n * 1e6) / 1e6);
  return te === unet ? `<lora:${use.name}:${f(te)}>` : `<lora:${use.name}:${f(te)}:${f(unet)}>`;
}
