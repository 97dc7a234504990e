/**
 * Every sampler A1111 (1.10) lists, with its label, aliases and the options of its entry in
 * `sd_samplers_kdiffusion.samplers_k_diffusion`, `sd_samplers_timesteps.samplers_timesteps` and
 * `sd_samplers_lcm`: the default schedule ('scheduler'), `second_order` (prompt editing counts
 * two model calls per step), `discard_next_to_last_sigma`; and which of A1111's options its
 * function takes (`sampler_extra_params`, and `eta` when the function has that parameter).
 * `brownian_noise` is which sampler class runs (dpmSolverPlusPlus.ts BrownianSampler); `uses_ensd`
 * only decides whether the infotext gets ENSD, and lives with the other noise pairs
 * (rng/noiseInfotext.ts): ENSD reseeds the noise of every sampler alike.
 */
import type { ScheduleName } from './schedules';
import { SECOND_ORDER_SAMPLERS } from '../../../service/semantics/samplerSteps';

export const SAMPLER_KINDS = [
  'dpmpp_2m',
  'dpmpp_sde',
  'dpmpp_2m_sde',
  'dpmpp_2m_sde_heun',
  'dpmpp_2s_a',
  'dpmpp_3m_sde',
  'euler_a',
  'euler',
  'lms',
  'heun',
  'dpm2',
  'dpm2_a',
  'dpm_fast',
  'dpm_adaptive',
  'restart',
  'ddim',
  'ddim_cfgpp',
  'plms',
  'unipc',
  'lcm',
] as const;
export type SamplerKind = (typeof SAMPLER_KINDS)[number];

export interface SamplerDefinition {
  kind: SamplerKind;
  /** A1111's label, as written in infotexts. */
  label: string;
  /** A1111's aliases (the API accepts them). */
  aliases: readonly string[];
  /** k-diffusion over a sigma schedule, A1111's timestep samplers, or LCM (k-diffusion on LCM's grid). */
  family: 'kdiffusion' | 'timesteps' | 'lcm';
  /** The schedule "Automatic" means for this sampler (A1111 options['scheduler']); none: the model's uniform one. */
  scheduler?: ScheduleName;
  secondOrder?: boolean;
  discardNextToLastSigma?: boolean;
  /** A1111 passes "Eta" (eta_ancestral; eta_ddim for DDIM) to it. */
  takesEta?: boolean;
  /** A1111 passes s_noise ("Sigma noise") to it. */
  takesSNoise?: boolean;
  /** A1111 passes s_churn, s_tmin, s_tmax to it. */
  takesChurn?: boolean;
}

const LISTED: readonly Omit<SamplerDefinition, 'secondOrder'>[] = [
  { kind: 'dpmpp_2m', label: 'DPM++ 2M', aliases: ['k_dpmpp_2m'], family: 'kdiffusion', scheduler: 'karras' },
  { kind: 'dpmpp_sde', label: 'DPM++ SDE', aliases: ['k_dpmpp_sde'], family: 'kdiffusion', scheduler: 'karras', takesEta: true, takesSNoise: true },
  { kind: 'dpmpp_2m_sde', label: 'DPM++ 2M SDE', aliases: ['k_dpmpp_2m_sde'], family: 'kdiffusion', scheduler: 'exponential', takesEta: true, takesSNoise: true },
  { kind: 'dpmpp_2m_sde_heun', label: 'DPM++ 2M SDE Heun', aliases: ['k_dpmpp_2m_sde_heun'], family: 'kdiffusion', scheduler: 'exponential', takesEta: true, takesSNoise: true },
  { kind: 'dpmpp_2s_a', label: 'DPM++ 2S a', aliases: ['k_dpmpp_2s_a'], family: 'kdiffusion', scheduler: 'karras', takesEta: true, takesSNoise: true },
  { kind: 'dpmpp_3m_sde', label: 'DPM++ 3M SDE', aliases: ['k_dpmpp_3m_sde'], family: 'kdiffusion', scheduler: 'exponential', discardNextToLastSigma: true, takesEta: true, takesSNoise: true },
  // Not in A1111's sampler_extra_params: Euler a renders with k-diffusion's s_noise 1 whatever Sigma noise says.
  { kind: 'euler_a', label: 'Euler a', aliases: ['k_euler_a', 'k_euler_ancestral'], family: 'kdiffusion', takesEta: true },
  { kind: 'euler', label: 'Euler', aliases: ['k_euler'], family: 'kdiffusion', takesSNoise: true, takesChurn: true },
  { kind: 'lms', label: 'LMS', aliases: ['k_lms'], family: 'kdiffusion' },
  { kind: 'heun', label: 'Heun', aliases: ['k_heun'], family: 'kdiffusion', takesSNoise: true, takesChurn: true },
  { kind: 'dpm2', label: 'DPM2', aliases: ['k_dpm_2'], family: 'kdiffusion', scheduler: 'karras', discardNextToLastSigma: true, takesSNoise: true, takesChurn: true },
  { kind: 'dpm2_a', label: 'DPM2 a', aliases: ['k_dpm_2_a'], family: 'kdiffusion', scheduler: 'karras', discardNextToLastSigma: true, takesEta: true, takesSNoise: true },
  { kind: 'dpm_fast', label: 'DPM fast', aliases: ['k_dpm_fast'], family: 'kdiffusion', takesEta: true, takesSNoise: true },
  { kind: 'dpm_adaptive', label: 'DPM adaptive', aliases: ['k_dpm_ad'], family: 'kdiffusion', takesEta: true },
  { kind: 'restart', label: 'Restart', aliases: ['restart'], family: 'kdiffusion', scheduler: 'karras' },
  { kind: 'ddim', label: 'DDIM', aliases: ['ddim'], family: 'timesteps', takesEta: true },
  { kind: 'ddim_cfgpp', label: 'DDIM CFG++', aliases: ['ddim_cfgpp'], family: 'timesteps', takesEta: true },
  { kind: 'plms', label: 'PLMS', aliases: ['plms'], family: 'timesteps' },
  { kind: 'unipc', label: 'UniPC', aliases: ['unipc'], family: 'timesteps' },
  { kind: 'lcm', label: 'LCM', aliases: ['k_lcm'], family: 'lcm' },
];

/** `secondOrder` comes from the language service's table, which the hover, diagnostics and explain read too. */
export const SAMPLER_DEFINITIONS: readonly SamplerDefinition[] = LISTED.map((d) => ({ ...d, secondOrder: SECOND_ORDER_SAMPLERS.has(d.label) }));

const BY_KIND = new Map(SAMPLER_DEFINITIONS.map((d) => [d.kind, d]));

export function samplerDefinition(kind: SamplerKind): SamplerDefinition {
  const d = BY_KIND.get(kind);
  if (!d) throw new RangeError(`unknown sampler kind '${kind}'`);
  return d;
}
