import { BackendError } from './backend';

/** A1111 sampler names (modules/sd_samplers_kdiffusion.py, sd_samplers_timesteps.py) to ComfyUI's KSampler names (comfy/samplers.py). */
const SAMPLERS: Record<string, string> = {
  'euler a': 'euler_ancestral',
  euler: 'euler',
  lms: 'lms',
  heun: 'heun',
  dpm2: 'dpm_2',
  'dpm2 a': 'dpm_2_ancestral',
  'dpm++ 2s a': 'dpmpp_2s_ancestral',
  'dpm++ 2m': 'dpmpp_2m',
  'dpm++ sde': 'dpmpp_sde',
  'dpm++ 2m sde': 'dpmpp_2m_sde',
  'dpm++ 3m sde': 'dpmpp_3m_sde',
  'dpm fast': 'dpm_fast',
  'dpm adaptive': 'dpm_adaptive',
  lcm: 'lcm',
  ddim: 'ddim',
  ddpm: 'ddpm',
  unipc: 'uni_pc',
};

/** A1111's "Automatic" schedule: the sampler's own default (its `scheduler` option), else the model's (ComfyUI's `normal`). */
const DEFAULT_SCHEDULE: Record<string, string> = {
  dpmpp_2m: 'karras',
  dpmpp_sde: 'karras',
  dpmpp_2s_ancestral: 'karras',
  dpmpp_2m_sde: 'exponential',
  dpmpp_3m_sde: 'exponential',
};

/** A1111 1.9+ `Schedule type` labels (modules/sd_schedulers.py) to ComfyUI scheduler names. */
const SCHEDULES: Record<string, string> = {
  uniform: 'normal',
  normal: 'normal',
  karras: 'karras',
  exponential: 'exponential',
  'sgm uniform': 'sgm_uniform',
  'kl optimal': 'kl_optimal',
  simple: 'simple',
  ddim: 'ddim_uniform',
  beta: 'beta',
};

/**
 * The KSampler's `sampler_name` and `scheduler` for an A1111 sampler and schedule type, legacy
 * names with a schedule suffix (`DPM++ 2M Karras`) included. A sampler ComfyUI lacks is an error
 * that names it, not a silent substitute.
 */
export function comfySampler(sampler: string, scheduleType: string | undefined): { sampler_name: string; scheduler: string } {
  let name = sampler.trim().toLowerCase();
  let schedule = scheduleType?.trim().toLowerCase();
  const suffix = /\s+(karras|exponential)$/.exec(name);
  if (suffix && !SAMPLERS[name]) {
    name = name.slice(0, suffix.index);
    schedule ??= suffix[1];
  }
  const sampler_name = SAMPLERS[name];
  if (!sampler_name) throw new BackendError('bad-input', `ComfyUI has no sampler matching A1111's '${sampler}' (it has e.g. ${Object.keys(SAMPLERS).slice(0, 6).join(', ')}...)`);
  if (schedule === undefined || schedule === 'automatic') return { sampler_name, scheduler: DEFAULT_SCHEDULE[sampler_name] ?? 'normal' };
  const scheduler = SCHEDULES[schedule];
  if (!scheduler) throw new BackendError('bad-input', `ComfyUI has no scheduler matching A1111's schedule type '${scheduleType}'`);
  return { sampler_name, scheduler };
}
