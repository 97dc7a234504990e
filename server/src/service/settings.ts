/** The `sdPrompt` settings the language service reads (see package.json contributes.configuration). */
export interface PromptSettings {
  lora: { weightRange: { min: number; max: number } };
  /** Steps used to explain prompt editing when the file has no `Steps:` parameter. */
  steps: number;
  diagnostics: { enable: boolean };
}

export const DEFAULT_SETTINGS: PromptSettings = {
  lora: { weightRange: { min: 0, max: 1 } },
  steps: 20,
  diagnostics: { enable: true },
};

/** Settings as a client sent them (any shape) merged over the defaults, never throwing. */
export function resolveSettings(raw: unknown): PromptSettings {
  const r = (raw ?? {}) as Record<string, any>;
  const range = r.lora?.weightRange ?? {};
  const num = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
  return {
    lora: {
      weightRange: {
        min: num(range.min, DEFAULT_SETTINGS.lora.weightRange.min),
        max: num(range.max, DEFAULT_SETTINGS.lora.weightRange.max),
      },
    },
    steps: Math.max(1, Math.trunc(num(r.steps, DEFAULT_SETTINGS.steps))),
    diagnostics: { enable: typeof r.diagnostics?.enable === 'boolean' ? r.diagnostics.enable : true },
  };
}
