/**
 * The LoRAs a render server has (sent by the extension as `sdPrompt/serverLoras` once it has asked the
 * server), and how a `<lora:NAME:...>` tag finds one there, as each server resolves it:
 * - A1111 / Forge (`/sdapi/v1/loras`): by `name` (the file stem) or `alias` (`ss_output_name`), exact and
 *   case-sensitive, as the webui's `available_network_aliases` lookup is; never with folders.
 * - ComfyUI (`LoraLoader`'s `lora_name` choices) and SwarmUI (`ListModels`): entries are file paths
 *   relative to the LoRA folder (`sub/name.safetensors`, `\` on Windows servers). sd-prompt's render
 *   backends pick the file whose stem (ComfyUI: or whose path as the server lists it) equals the tag's
 *   name ignoring case, so the same rule decides here: `name` finds `sub/name.safetensors` on both,
 *   `sub/name.safetensors` on ComfyUI; `sub/name` (no extension) or the other slash would fail the
 *   render, so they are reported.
 */
export interface ServerLoraEntry {
  name: string;
  alias?: string;
  path?: string;
}

export class ServerLoraList {
  private readonly exact = new Set<string>();
  private readonly folded = new Set<string>();
  /** Names to suggest, in the server's order, each once. */
  readonly suggestions: string[];

  constructor(
    /** `a1111` | `comfyui` | `swarmui` (anything else is matched as ComfyUI/Swarm's file lists are). */
    readonly backend: string,
    /** The server's URL, as messages name it. */
    readonly server: string,
    readonly loras: readonly ServerLoraEntry[],
  ) {
    const suggestions = new Set<string>();
    for (const l of loras) {
      if (this.byName) {
        this.exact.add(l.name);
        suggestions.add(l.name);
        if (l.alias) {
          this.exact.add(l.alias);
          if (l.alias !== l.name) suggestions.add(l.alias);
        }
        continue;
      }
      for (const file of [l.name, l.path]) {
        if (!file) continue;
        // SwarmUI's backend looks LoRAs up by stem only.
        if (backend !== 'swarmui') this.folded.add(file.toLowerCase());
        this.folded.add(stem(file).toLowerCase());
        suggestions.add(stem(file));
      }
      if (l.alias) this.folded.add(l.alias.toLowerCase());
    }
    this.suggestions = [...suggestions];
  }

  /** A1111 names LoRAs by stem or alias; ComfyUI and SwarmUI list files. */
  get byName(): boolean {
    return this.backend === 'a1111';
  }

  /** Whether a tag naming `name` gets a LoRA on this server. */
  has(name: string): boolean {
    if (this.byName) return this.exact.has(name);
    return this.folded.has(name.toLowerCase());
  }
}

/** The extensions LoRA files have; a dot elsewhere is part of the name (`style.v2.safetensors` → `style.v2`). */
const MODEL_EXTENSION = /\.(safetensors|ckpt|pt|pth|bin|sft)$/i;

/** `sub/dir/name.safetensors` → `name`. */
export function stem(file: string): string {
  return file.replace(/^.*[\\/]/, '').replace(MODEL_EXTENSION, '');
}
