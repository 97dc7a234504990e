/**
 * How many steps A1111's prompt editing counts for a sampler: its `Steps`, twice that for the
 * samplers whose config says `second_order` (sd_samplers_kdiffusion / sd_samplers_common
 * SamplerData.total_steps), because CFGDenoiser counts model calls and those samplers make two per
 * step. The renderer's sampler registry takes its `secondOrder` flags from this table, so the hover,
 * the schedule diagnostics, `sd-prompt explain` and the render agree.
 */
import type { PromptDocument } from '../syntax/document';
import { stepsOf } from '../features/checks/parameterChecks';

/** A1111's second-order samplers: label → its aliases (sd_samplers.samplers_map keys, lower case). */
export const SECOND_ORDER_SAMPLERS: ReadonlyMap<string, readonly string[]> = new Map([
  ['Heun', ['k_heun']],
  ['DPM2', ['k_dpm_2']],
  ['DPM2 a', ['k_dpm_2_a']],
  ['DPM++ 2S a', ['k_dpmpp_2s_a']],
  ['DPM++ SDE', ['k_dpmpp_sde']],
  ['Restart', ['restart']],
]);

/** Schedule-type suffixes of pre-1.9 names ("DPM++ SDE Karras"), which name the same sampler. */
const SCHEDULE_SUFFIX = / (Automatic|Uniform|Karras|Exponential|Polyexponential|SGM ?Uniform|KL Optimal|Align Your Steps|Simple|Normal|DDIM|Beta)$/i;

/** Whether A1111 counts two prompt-editing steps per step for this `Sampler:` value (label, alias or "label schedule"). */
export function isSecondOrderSampler(name: string): boolean {
  const n = name.trim().toLowerCase();
  const bare = n.replace(SCHEDULE_SUFFIX, '');
  for (const [label, aliases] of SECOND_ORDER_SAMPLERS) {
    const l = label.toLowerCase();
    if (n === l || bare === l || aliases.includes(n)) return true;
  }
  return false;
}

/**
 * The step count the file's prompt editing runs over in A1111: its `Steps` (or `fallback`, the
 * settings' steps, when it has none) times 2 for a second-order `Sampler`.
 */
export function scheduleStepsOf(doc: PromptDocument, fallback: number): number;
export function scheduleStepsOf(doc: PromptDocument, fallback?: number): number | undefined;
export function scheduleStepsOf(doc: PromptDocument, fallback?: number): number | undefined {
  const steps = stepsOf(doc) ?? fallback;
  if (steps === undefined) return undefined;
  const sampler = doc.sections.parameters?.entries.filter((e) => e.key === 'Sampler').pop()?.value;
  return sampler !== undefined && isSecondOrderSampler(sampler) ? steps * 2 : steps;
}
