/**
 * A1111 sampler names and "Schedule type" values onto the samplers in schedulers.ts, following
 * `sd_samplers.get_sampler_and_scheduler` (A1111 ≥ 1.9): a sampler name ending in a schedule
 * type ("DPM++ 2M Karras", the pre-1.9 spelling) is split into sampler + schedule, and that
 * suffix wins over a separate Schedule type. Unlike A1111, which silently falls back to its
 * default sampler, an unknown name is an error naming the known ones.
 */
import type { ScheduleType } from './schedulers';
import { SamplerDefinition, SAMPLER_DEFINITIONS, SamplerKind } from './samplers/registry';

/** The sampler names this engine renders (A1111's list), in the order error messages list them. */
export const KNOWN_SAMPLER_NAMES: readonly string[] = SAMPLER_DEFINITIONS.map((d) => d.label);

interface ScheduleEntry {
  label: string;
  name: ScheduleType;
  aliases?: string[];
}

/** A1111's `sd_schedulers.schedulers`: label, name and aliases. */
const SCHEDULES: readonly ScheduleEntry[] = [
  { label: 'Automatic', name: 'automatic' },
  { label: 'Uniform', name: 'uniform' },
  { label: 'Karras', name: 'karras' },
  { label: 'Exponential', name: 'exponential' },
  { label: 'Polyexponential', name: 'polyexponential' },
  { label: 'SGM Uniform', name: 'sgm_uniform', aliases: ['SGMUniform'] },
  { label: 'KL Optimal', name: 'kl_optimal' },
  { label: 'Align Your Steps', name: 'align_your_steps' },
  { label: 'Simple', name: 'simple' },
  { label: 'Normal', name: 'normal' },
  { label: 'DDIM', name: 'ddim' },
  { label: 'Beta', name: 'beta' },
];

export const KNOWN_SCHEDULE_TYPES: readonly string[] = SCHEDULES.map((s) => s.label);

/** Pre-1.9 aliases of the names that carried the schedule ("DPM++ 2M Karras" was a sampler of its own). */
const LEGACY_ALIASES: Record<string, string> = {
  k_lms_ka: 'LMS Karras',
  k_dpm_2_ka: 'DPM2 Karras',
  k_dpm_2_a_ka: 'DPM2 a Karras',
  k_dpmpp_2s_a_ka: 'DPM++ 2S a Karras',
  k_dpmpp_2m_ka: 'DPM++ 2M Karras',
  k_dpmpp_sde_ka: 'DPM++ SDE Karras',
  k_dpmpp_2m_sde_ka: 'DPM++ 2M SDE Karras',
  k_dpmpp_2m_sde_exp: 'DPM++ 2M SDE Exponential',
  k_dpmpp_2m_sde_heun_ka: 'DPM++ 2M SDE Heun Karras',
  k_dpmpp_2m_sde_heun_exp: 'DPM++ 2M SDE Heun Exponential',
  k_dpmpp_3m_sde_ka: 'DPM++ 3M SDE Karras',
  k_dpmpp_3m_sde_exp: 'DPM++ 3M SDE Exponential',
};

export interface SamplerChoice {
  kind: SamplerKind;
  /** What createSampler takes; 'automatic' resolves to the sampler's default there. */
  schedule: ScheduleType;
  /** A1111's sampler label for the infotext ("DPM++ 2M" for "DPM++ 2M Karras"). */
  samplerLabel: string;
  /** The schedule type label, with a suffix from the sampler name applied ("Karras"). */
  scheduleLabel: string;
  /** Model calls per step A1111's prompt-editing schedules are built for (2 for second-order samplers). */
  stepMultiplier: number;
}

export class SamplerNameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SamplerNameError';
  }
}

function scheduleOptions(s: ScheduleEntry): string[] {
  return [s.label, s.name, ...(s.aliases ?? [])];
}

function findSchedule(text: string): ScheduleEntry | undefined {
  const t = text.trim().toLowerCase();
  return SCHEDULES.find((s) => scheduleOptions(s).some((o) => o.toLowerCase() === t));
}

/**
 * Maps a sampler name and an optional schedule type onto a sampler choice. Names match without
 * regard to case and by A1111 alias; whitespace around them is ignored. Throws SamplerNameError
 * with the known names for anything else.
 */
export function resolveSamplerName(samplerName: string, scheduleType?: string): SamplerChoice {
  let schedule: ScheduleEntry = SCHEDULES[0];
  if (scheduleType !== undefined && scheduleType.trim() !== '') {
    const found = findSchedule(scheduleType);
    if (!found) {
      throw new SamplerNameError(`Unknown schedule type '${scheduleType}'. Known: ${KNOWN_SCHEDULE_TYPES.join(', ')}`);
    }
    schedule = found;
  }

  const original = samplerName;
  let name = samplerName.trim();
  name = LEGACY_ALIASES[name.toLowerCase()] ?? name;
  let entry = matchSampler(name);
  if (!entry) {
    // "<sampler> <schedule>": the suffix selects the schedule, as get_sampler_and_scheduler does.
    for (const s of SCHEDULES) {
      for (const option of scheduleOptions(s)) {
        if (name.toLowerCase().endsWith(' ' + option.toLowerCase())) {
          const base = matchSampler(name.slice(0, -(option.length + 1)).trim());
          if (base) {
            entry = base;
            schedule = s;
          }
        }
      }
      if (entry) break;
    }
  }
  if (!entry) {
    throw new SamplerNameError(`Unknown sampler '${original}'. Known: ${KNOWN_SAMPLER_NAMES.join(', ')}`);
  }
  return {
    kind: entry.kind,
    schedule: schedule.name,
    samplerLabel: entry.label,
    scheduleLabel: schedule.label,
    stepMultiplier: entry.secondOrder ? 2 : 1,
  };
}

function matchSampler(name: string): SamplerDefinition | undefined {
  const n = name.toLowerCase();
  return SAMPLER_DEFINITIONS.find((s) => s.label.toLowerCase() === n || s.aliases.includes(n));
}
