/**
 * What A1111 writes on the parameter line of its infotext (`Steps: 20, Sampler: ...`):
 * the keys it and its built-in extensions use, and its sampler and schedule names.
 */
export const KNOWN_PARAMETER_KEYS = [
  'Steps', 'Sampler', 'Schedule type', 'CFG scale', 'Distilled CFG Scale', 'Seed', 'Size', 'Model hash', 'Model',
  'VAE hash', 'VAE', 'Denoising strength', 'Clip skip', 'ENSD', 'Eta', 'Eta DDIM', 'Eta noise seed delta',
  'Hires upscale', 'Hires steps', 'Hires upscaler', 'Hires resize', 'Hires sampler', 'Hires schedule type',
  'Hires checkpoint', 'Hires prompt', 'Hires negative prompt', 'Hires CFG Scale', 'Hires Distilled CFG Scale',
  'Lora hashes', 'TI hashes', 'Hypernet', 'Hypernet hash', 'Hypernet strength', 'Version', 'Variation seed',
  'Variation seed strength', 'Seed resize from', 'Face restoration', 'Sigma min', 'Sigma max', 'Sigma churn',
  'Sigma tmin', 'Sigma tmax', 'Sigma noise', 'Schedule max sigma', 'Schedule min sigma', 'Schedule rho', 'RNG',
  'NGMS', 'Tiling', 'Token merging ratio', 'Token merging ratio hr', 'Emphasis', 'Mask blur', 'Refiner',
  'Refiner switch at', 'Pad conds', 'Discard penultimate sigma', 'Skip Early CFG', 'Downcast alphas_cumprod',
  'Noise multiplier', 'SGM noise multiplier', 'Init image hash', 'Conditional mask weight', 'First pass size',
  'Size-1', 'Size-2', 'Hashes', 'Template', 'Negative Template', 'Module', 'Beta schedule alpha',
  'Beta schedule beta', 'Hires Module 1', 'Old prompt editing timelines', 'Clip skip 2', 'User', 'Comments',
] as const;

/** Sampler names A1111 accepts (its `Sampler:` value), old "X Karras" names included. */
export const KNOWN_SAMPLERS = [
  'DPM++ 2M', 'DPM++ SDE', 'DPM++ 2M SDE', 'DPM++ 2M SDE Heun', 'DPM++ 2S a', 'DPM++ 3M SDE', 'Euler a', 'Euler',
  'LMS', 'Heun', 'DPM2', 'DPM2 a', 'DPM fast', 'DPM adaptive', 'Restart', 'DDIM', 'DDIM CFG++', 'PLMS', 'UniPC',
  'LCM', 'DDPM', 'Euler CFG++', 'Euler a CFG++', 'DPM++ 2M CFG++', 'DPM++ 2S a CFG++',
  'LMS Karras', 'DPM2 Karras', 'DPM2 a Karras', 'DPM++ 2S a Karras', 'DPM++ 2M Karras', 'DPM++ SDE Karras',
  'DPM++ 2M SDE Karras', 'DPM++ 2M SDE Exponential', 'DPM++ 2M SDE Heun Karras', 'DPM++ 2M SDE Heun Exponential',
  'DPM++ 3M SDE Karras', 'DPM++ 3M SDE Exponential', 'Euler a Karras', 'Euler Karras',
  // A1111's aliases (sd_samplers.samplers_map), pre-1.9 ones with the schedule included.
  'k_dpmpp_2m', 'k_dpmpp_sde', 'k_dpmpp_2m_sde', 'k_dpmpp_2m_sde_heun', 'k_dpmpp_2s_a', 'k_dpmpp_3m_sde', 'k_euler_a',
  'k_euler_ancestral', 'k_euler', 'k_lms', 'k_heun', 'k_dpm_2', 'k_dpm_2_a', 'k_dpm_fast', 'k_dpm_ad', 'restart', 'ddim',
  'ddim_cfgpp', 'plms', 'unipc', 'k_lcm', 'k_lms_ka', 'k_dpm_2_ka', 'k_dpm_2_a_ka', 'k_dpmpp_2s_a_ka', 'k_dpmpp_2m_ka',
  'k_dpmpp_sde_ka', 'k_dpmpp_2m_sde_ka', 'k_dpmpp_2m_sde_heun_ka', 'k_dpmpp_3m_sde_ka',
] as const;

export const KNOWN_SCHEDULE_TYPES = [
  'Automatic', 'Uniform', 'Karras', 'Exponential', 'Polyexponential', 'SGM Uniform', 'KL Optimal',
  'Align Your Steps', 'Align Your Steps 11', 'Align Your Steps 32', 'Align Your Steps GITS', 'Simple', 'Normal',
  'DDIM', 'Beta', 'Turbo',
  // A1111's schedulers_map also takes each schedule's name and aliases.
  'automatic', 'uniform', 'karras', 'exponential', 'polyexponential', 'sgm_uniform', 'SGMUniform', 'kl_optimal',
  'align_your_steps', 'simple', 'normal', 'ddim', 'beta',
] as const;

const KEY_SET: ReadonlySet<string> = new Set(KNOWN_PARAMETER_KEYS);

export function isKnownParameterKey(key: string): boolean {
  return KEY_SET.has(key) || /^(ControlNet|ADetailer|Lora|TI|Wildcard|Dynamic|Regional|Tiled|Ultimate|FreeU|Mask|Soft|SAG|CFG|Hires|Inpaint|Denoising|Refiner|Sampler)\b/.test(key);
}
