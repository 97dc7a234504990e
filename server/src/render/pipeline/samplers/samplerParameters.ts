/**
 * The sampler settings a parameter line carries, under the keys A1111 writes them with (and reads
 * them back from, as setting overrides, when generation data is pasted): `Eta` (eta_ancestral),
 * `Eta DDIM` (eta_ddim), `Sigma churn`, `Sigma tmin`, `Sigma tmax`, `Sigma noise`, `Discard
 * penultimate sigma` (always_discard_next_to_last_sigma), `Schedule min sigma`, `Schedule max
 * sigma`, `Schedule rho`, `Beta schedule alpha`, `Beta schedule beta` and `SGM noise multiplier`;
 * and the same keys written back for the infotext, where and as A1111 writes them.
 */
import { pyFloat } from '../../../service/semantics/pyNumbers';
import type { ParameterEntry } from '../../../service/syntax/sections';
import { samplerDefinition, SamplerKind } from './registry';

export interface SamplerSettings {
  /** "Eta": the k-diffusion samplers' eta (A1111 eta_ancestral, default 1). */
  eta?: number;
  /** "Eta DDIM": DDIM's and DDIM CFG++'s eta (A1111 eta_ddim, default 0). */
  etaDdim?: number;
  sNoise?: number;
  sChurn?: number;
  sTmin?: number;
  sTmax?: number;
  discardPenultimateSigma?: boolean;
  sigmaMin?: number;
  sigmaMax?: number;
  rho?: number;
  betaAlpha?: number;
  betaBeta?: number;
  /** "SGM noise multiplier": the starting noise is scaled by sqrt(1 + σ₀²) instead of σ₀. */
  sgmNoiseMultiplier?: boolean;
}

/** A sampler setting the render cannot use; the message names the key, its value and where it is. */
export class SamplerParameterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SamplerParameterError';
  }
}

const NUMBER_KEYS: [key: string, field: keyof SamplerSettings][] = [
  ['Eta', 'eta'],
  ['Eta DDIM', 'etaDdim'],
  ['Sigma noise', 'sNoise'],
  ['Sigma churn', 'sChurn'],
  ['Sigma tmin', 'sTmin'],
  ['Sigma tmax', 'sTmax'],
  ['Schedule min sigma', 'sigmaMin'],
  ['Schedule max sigma', 'sigmaMax'],
  ['Schedule rho', 'rho'],
  ['Beta schedule alpha', 'betaAlpha'],
  ['Beta schedule beta', 'betaBeta'],
];

const BOOLEAN_KEYS: [key: string, field: 'discardPenultimateSigma' | 'sgmNoiseMultiplier'][] = [
  ['Discard penultimate sigma', 'discardPenultimateSigma'],
  ['SGM noise multiplier', 'sgmNoiseMultiplier'],
];

/** Reads the sampler settings of a parameter line (`text` is the file, for line and column in errors). */
export function readSamplerParameters(text: string, entries: readonly ParameterEntry[]): SamplerSettings {
  const out: SamplerSettings = {};
  const find = (key: string) => entries.filter((e) => e.key === key).pop(); // A1111 keeps the last of a repeated key
  const fail = (entry: ParameterEntry, why: string): never => {
    const before = text.slice(0, entry.valueSpan.start);
    const line = before.split('\n').length;
    const column = entry.valueSpan.start - before.lastIndexOf('\n');
    throw new SamplerParameterError(`line ${line}, column ${column}: ${entry.key}: '${entry.value}' ${why}`);
  };
  // Entry values come trimmed (the parameter line's parser drops the whitespace around them).
  const unquote = (v: string) => v.replace(/^"(.*)"$/, '$1');
  for (const [key, field] of NUMBER_KEYS) {
    const entry = find(key);
    if (!entry) continue;
    const n = pyFloat(unquote(entry.value));
    if (n === undefined || !Number.isFinite(n)) fail(entry, 'is not a number');
    if (n! < 0) fail(entry, 'must not be negative');
    (out as Record<string, number>)[field] = n!;
  }
  for (const [key, field] of BOOLEAN_KEYS) {
    const entry = find(key);
    if (!entry) continue;
    const v = unquote(entry.value).toLowerCase();
    if (v !== 'true' && v !== 'false') fail(entry, 'is not True or False');
    out[field] = v === 'true';
  }
  if (out.sigmaMin && out.sigmaMax && out.sigmaMin >= out.sigmaMax) {
    fail(find('Schedule min sigma')!, `must be below Schedule max sigma (${out.sigmaMax})`);
  }
  return out;
}

/** What createSampler reports about the sampler it built (schedulers.ts SamplerInfo). */
interface BuiltSampler {
  info: { discardedPenultimateSigma: boolean };
  schedule: string;
}

/**
 * The sampler's `Key: value` pairs A1111 adds to the infotext (p.extra_generation_params), in the
 * order it sets them: get_sigmas (Discard penultimate sigma when only the setting asked for it,
 * Schedule min/max sigma and rho when they differ from the defaults, the Beta parameters), sample
 * (SGM noise multiplier), initialize (Eta / Eta DDIM and the Sigma settings, for a sampler that
 * takes them, when they differ from its defaults). `Schedule type` has its own place in the line.
 */
export function samplerInfotextParameters(kind: SamplerKind, settings: SamplerSettings, built: BuiltSampler): [key: string, value: string | number | undefined][] {
  const def = samplerDefinition(kind);
  const kdiffusion = def.family !== 'timesteps';
  const scheduled = kdiffusion ? built.schedule : undefined;
  const defaultRho = scheduled === 'karras' ? 7 : scheduled === 'polyexponential' ? 1 : undefined;
  const eta = kdiffusion ? settings.eta : settings.etaDdim;
  const etaDefault = kdiffusion ? 1 : 0;
  const churn = def.takesChurn;
  return [
    ['Discard penultimate sigma', built.info.discardedPenultimateSigma && !def.discardNextToLastSigma ? 'True' : undefined],
    ['Schedule min sigma', kdiffusion && settings.sigmaMin ? settings.sigmaMin : undefined],
    ['Schedule max sigma', kdiffusion && settings.sigmaMax ? settings.sigmaMax : undefined],
    ['Schedule rho', defaultRho !== undefined && settings.rho && settings.rho !== defaultRho ? settings.rho : undefined],
    ['Beta schedule alpha', scheduled === 'beta' ? (settings.betaAlpha ?? 0.6) : undefined],
    ['Beta schedule beta', scheduled === 'beta' ? (settings.betaBeta ?? 0.6) : undefined],
    ['SGM noise multiplier', kdiffusion && settings.sgmNoiseMultiplier ? 'True' : undefined],
    [kdiffusion ? 'Eta' : 'Eta DDIM', def.takesEta && eta !== etaDefault ? eta : undefined],
    ['Sigma churn', churn && settings.sChurn ? settings.sChurn : undefined],
    ['Sigma tmin', churn && settings.sTmin ? settings.sTmin : undefined],
    ['Sigma tmax', churn && settings.sTmax ? settings.sTmax : undefined],
    ['Sigma noise', def.takesSNoise && settings.sNoise !== 1 ? settings.sNoise : undefined],
  ];
}
