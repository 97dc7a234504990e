/** The `sdPrompt` settings the language service reads (see package.json contributes.configuration). */
export interface PromptSettings {
  lora: {
    weightRange: { min: number; max: number };
    /** Warn when the LoRA weights of a prompt add up to more than this; 0 turns it off. */
    maxTotalWeight: number;
    /** The weight completion offers when a LoRA has no preferred weight. */
    defaultWeight: number;
    directories: string[];
  };
  /** An A1111/Forge or ComfyUI install: its models/Lora (LyCORIS, loras), embeddings and hypernetworks folders. */
  webuiPath: string;
  embeddingDirectories: string[];
  /** The diffusers model folder in use (its base model is checked against each LoRA's). */
  model: string;
  /** A folder with CLIP's vocab.json and merges.txt (else the model's tokenizer/ or the HF cache). */
  tokenizerPath: string;
  /** Steps used to explain prompt editing when the file has no `Steps:` parameter. */
  steps: number;
  diagnostics: { enable: boolean };
  /** Tag lists in tagcomplete's CSV format (files, or folders of `*.csv`), besides the webui's tagcomplete `tags/`. */
  tags: { files: string[] };
  /** Wildcard folders (`__name__` files of sd-dynamic-prompts), besides the webui's `extensions/sd-dynamic-prompts/wildcards`. */
  wildcards: { directories: string[] };
  /** Read `{a|b}`, `__name__` and variables as sd-dynamic-prompts does (also on when the webui has the extension). */
  dynamicPrompts: { enable: boolean };
}

export const DEFAULT_SETTINGS: PromptSettings = {
  lora: { weightRange: { min: 0, max: 1 }, maxTotalWeight: 0, defaultWeight: 0.8, directories: [] },
  webuiPath: '',
  embeddingDirectories: [],
  model: '',
  tokenizerPath: '',
  steps: 20,
  diagnostics: { enable: true },
  tags: { files: [] },
  wildcards: { directories: [] },
  dynamicPrompts: { enable: false },
};

/** Settings as a client sent them (any shape) merged over the defaults, never throwing. */
export function resolveSettings(raw: unknown): PromptSettings {
  const r = (raw ?? {}) as Record<string, any>;
  const range = r.lora?.weightRange ?? {};
  const num = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x !== '') : []);
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  return {
    lora: {
      weightRange: {
        min: num(range.min, DEFAULT_SETTINGS.lora.weightRange.min),
        max: num(range.max, DEFAULT_SETTINGS.lora.weightRange.max),
      },
      maxTotalWeight: Math.max(0, num(r.lora?.maxTotalWeight, 0)),
      defaultWeight: num(r.lora?.defaultWeight, DEFAULT_SETTINGS.lora.defaultWeight),
      directories: strings(r.lora?.directories),
    },
    webuiPath: str(r.webuiPath),
    embeddingDirectories: strings(r.embeddings?.directories),
    model: str(r.model),
    tokenizerPath: str(r.tokenizerPath),
    steps: Math.max(1, Math.trunc(num(r.steps, DEFAULT_SETTINGS.steps))),
    diagnostics: { enable: typeof r.diagnostics?.enable === 'boolean' ? r.diagnostics.enable : true },
    tags: { files: strings(r.tags?.files) },
    wildcards: { directories: strings(r.wildcards?.directories) },
    dynamicPrompts: { enable: r.dynamicPrompts?.enable === true },
  };
}

/** The folders the library scans for these settings (A1111, Forge and ComfyUI layouts). */
export function libraryFolders(settings: PromptSettings, exists: (path: string) => boolean) {
  const webui = settings.webuiPath.replace(/[\\/]+$/, '');
  const candidates = (subpaths: string[]) => (webui ? subpaths.map((s) => `${webui}/${s}`).filter(exists) : []);
  return {
    lora: [...settings.lora.directories, ...candidates(['models/Lora', 'models/LyCORIS', 'models/loras'])],
    embedding: [...settings.embeddingDirectories, ...candidates(['embeddings', 'models/embeddings'])],
    hypernet: candidates(['models/hypernetworks']),
    // A1111/Forge keep checkpoints in models/Stable-diffusion, ComfyUI in models/checkpoints.
    checkpoint: candidates(['models/Stable-diffusion', 'models/checkpoints']),
    // One of the two: on a case-insensitive disk both names are the same folder.
    vae: candidates(['models/VAE', 'models/vae']).slice(0, 1),
  };
}
