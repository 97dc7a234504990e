/**
 * A1111 sampler names and "Schedule type" values onto the samplers in schedulers.ts, following
 * `sd_samplers.get_sampler_and_scheduler` (A1111 ≥ 1.9): a sampler name ending in a schedule
 * type ("DPM++ 2M Karras", the pre-1.9 spelling) is split into sampler + schedule, and that
 * suffix wins over a separate Schedule type. Unlike A1111, which silently falls back to its
 * default sampler, an unknown name is an error naming the known ones.
 */
import type { SamplerKind, ScheduleType } from './schedulers';

/** The names this engine renders, in the order error messages list them. */
export const KNOWN_SAMPLER_NAMES = ['Euler a', 'Euler', 'DDIM', 'DPM++ 2M', 'DPM++ 2M Karras', 'LCM'] as const;
export const KNOWN_SCHEDULE_TYPES = ['Automatic', 'Uniform', 'Karras', 'Exponential'] as const;

export type ScheduleLabel = (typeof KNOWN_SCHEDULE_TYPES)[number];

interface SamplerEntry {
  /** A1111's label, as written in infotexts. */
  label: string;
  kind: SamplerKind;
  /** A1111's aliases (sd_samplers.samplers_map accepts them, lower-cased, in the API). */
  aliases: string[];
}

const SAMPLERS: readonly SamplerEntry[] = [
  { label: 'Euler a', kind: 'euler_a', aliases: ['k_euler_a', 'k_euler_ancestral'] },
  { label: 'Euler', kind: 'euler', aliases: ['k_euler'] },
  { label: 'DDIM', kind: 'ddim', aliases: ['ddim'] },
  { label: 'DPM++ 2M', kind: 'dpmpp_2m', aliases: ['k_dpmpp_2m'] },
  { label: 'LCM', kind: 'lcm', aliases: ['k_lcm'] },
];

const SCHEDULES: readonly { label: ScheduleLabel; name: ScheduleType }[] = [
  { label: 'Automatic', name: 'automatic' },
  { label: 'Uniform', name: 'uniform' },
  { label: 'Karras', name: 'karras' },
  { label: 'Exponential', name: 'exponential' },
];

/** Pre-1.9 names that carried the schedule: A1111 listed them as samplers of their own. */
const LEGACY_ALIASES: Record<string, string> = { k_dpmpp_2m_ka: 'DPM++ 2M Karras' };

export interface SamplerChoice {
  kind: SamplerKind;
  /** What createSampler takes; 'automatic' resolves to the sampler's default there. */
  schedule: ScheduleType;
  /** A1111's sampler label for the infotext ("DPM++ 2M" for "DPM++ 2M Karras"). */
  samplerLabel: string;
  /** The schedule type label, with a suffix from the sampler name applied ("Karras"). */
  scheduleLabel: ScheduleLabel;
}

export class SamplerNameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SamplerNameError';
  }
}

function findSchedule(text: string): (typeof SCHEDULES)[number] | undefined {
  const t = text.trim().toLowerCase();
  return SCHEDULES.find((s) => s.label.toLowerCase() === t || s.name === t);
}

/**
 * Maps a sampler name and an optional schedule type onto a sampler choice. Names match without
 * regard to case and by A1111 alias; whitespace around them is ignored. Throws SamplerNameError
 * with the known names for anything else.
 */
export function resolveSamplerName(samplerName: string, scheduleType?: string): SamplerChoice {
  let schedule: (typeof SCHEDULES)[number] = SCHEDULES[0];
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
      for (const option of [s.label, s.name]) {
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
  return { kind: entry.kind, schedule: schedule.name, samplerLabel: entry.label, scheduleLabel: schedule.label };
}

function matchSampler(name: string): SamplerEntry | undefined {
  const n = name.toLowerCase();
  return SAMPLERS.find((s) => s.label.toLowerCase() === n || s.aliases.includes(n));
}
