/**
 * Other tools' sampler and scheduler names → A1111's sampler labels and Schedule types.
 * ComfyUI: comfy/samplers.py KSAMPLER_NAMES + ["ddim", "uni_pc", "uni_pc_bh2"] and
 * SCHEDULER_NAMES; the `_gpu` variants differ from A1111's only in where the Brownian noise is
 * drawn. A1111's "Normal", "Simple", "Beta", "DDIM", "SGM Uniform" and "KL Optimal" schedules
 * are ports of ComfyUI's normal, simple, beta, ddim_uniform, sgm_uniform and kl_optimal.
 * NovelAI and InvokeAI use k-diffusion/diffusers names (`k_euler_ancestral`, `dpmpp_2m_k`).
 */
const COMFY_SAMPLERS: Record<string, string> = {
  euler: 'Euler',
  euler_ancestral: 'Euler a',
  heun: 'Heun',
  dpm_2: 'DPM2',
  dpm_2_ancestral: 'DPM2 a',
  lms: 'LMS',
  dpm_fast: 'DPM fast',
  dpm_adaptive: 'DPM adaptive',
  dpmpp_2s_ancestral: 'DPM++ 2S a',
  dpmpp_sde: 'DPM++ SDE',
  dpmpp_sde_gpu: 'DPM++ SDE',
  dpmpp_2m: 'DPM++ 2M',
  dpmpp_2m_sde: 'DPM++ 2M SDE',
  dpmpp_2m_sde_gpu: 'DPM++ 2M SDE',
  dpmpp_2m_sde_heun: 'DPM++ 2M SDE Heun',
  dpmpp_2m_sde_heun_gpu: 'DPM++ 2M SDE Heun',
  dpmpp_3m_sde: 'DPM++ 3M SDE',
  dpmpp_3m_sde_gpu: 'DPM++ 3M SDE',
  lcm: 'LCM',
  ddim: 'DDIM',
  uni_pc: 'UniPC',
  restart: 'Restart',
};

const COMFY_SCHEDULERS: Record<string, string> = {
  normal: 'Normal',
  karras: 'Karras',
  exponential: 'Exponential',
  sgm_uniform: 'SGM Uniform',
  simple: 'Simple',
  ddim_uniform: 'DDIM',
  beta: 'Beta',
  kl_optimal: 'KL Optimal',
};

/** `{sampler, schedule}` in A1111's labels, or `undefined` for a name A1111 has no sampler for. */
export function comfySampler(sampler: string): string | undefined {
  return COMFY_SAMPLERS[sampler];
}

export function comfyScheduler(scheduler: string): string | undefined {
  return COMFY_SCHEDULERS[scheduler];
}

/** NovelAI's names (`k_euler_ancestral`, `k_dpmpp_2m`, `ddim_v3`). */
export function novelAiSampler(name: string): { sampler?: string; schedule?: string } {
  const base = name.replace(/^k_/, '').replace(/_v3$/, '');
  return { sampler: COMFY_SAMPLERS[base] };
}

/** InvokeAI's scheduler names: a diffusers-style sampler, `_k` for the Karras schedule. */
const INVOKE_SAMPLERS: Record<string, string> = {
  ddim: 'DDIM',
  lms: 'LMS',
  heun: 'Heun',
  euler: 'Euler',
  euler_a: 'Euler a',
  kdpm_2: 'DPM2',
  kdpm_2_a: 'DPM2 a',
  dpmpp_2s: 'DPM++ 2S a',
  dpmpp_2m: 'DPM++ 2M',
  dpmpp_2m_sde: 'DPM++ 2M SDE',
  dpmpp_sde: 'DPM++ SDE',
  unipc: 'UniPC',
  lcm: 'LCM',
};

export function invokeSampler(name: string): { sampler?: string; schedule?: string } {
  const karras = name.endsWith('_k');
  const sampler = INVOKE_SAMPLERS[karras ? name.slice(0, -2) : name];
  return { sampler, schedule: sampler && karras ? 'Karras' : undefined };
}
