/**
 * The sampler settings of a parameter line as A1111 reads and writes them: quoted values
 * (parse_generation_parameters unquotes `"..."`), the values the render refuses (with the line and
 * column of the value), and which of the schedule settings `KDiffusionSampler.get_sigmas` writes
 * back to the infotext for which schedule (sd_schedulers.py: default_rho 7 for Karras, 1 for
 * Polyexponential; Beta's alpha and beta always; min/max sigma and rho only when not 0).
 */
import * as assert from 'assert';
import { parsePromptDocument } from '../../../server/src/service/syntax/document';
import { readSamplerParameters, samplerInfotextParameters, SamplerSettings } from '../../../server/src/render/pipeline/samplers/samplerParameters';
import { SamplerKind } from '../../../server/src/render/pipeline/samplers/registry';
import { createSampler, NoiseSchedule, ScheduleType } from '../../../server/src/render/pipeline/schedulers';

function read(text: string) {
  return readSamplerParameters(text, parsePromptDocument(text).sections.parameters?.entries ?? []);
}

/** The error `read` throws, as a console shows it (`String(error)`). */
function failure(text: string): string {
  try {
    read(text);
  } catch (e) {
    return String(e);
  }
  return 'no error';
}

const SD15 = NoiseSchedule.fromConfig({});

function written(kind: SamplerKind, schedule: ScheduleType, settings: SamplerSettings): Record<string, string | number> {
  const built = createSampler(kind, 4, schedule, SD15, settings);
  const out: Record<string, string | number> = {};
  for (const [key, value] of samplerInfotextParameters(kind, settings, built)) if (value !== undefined) out[key] = value;
  return out;
}

describe('sampler settings: quoted values and refused values', () => {
  it('a quoted value is read without its quotes, as A1111 unquotes it', () => {
    assert.deepStrictEqual(read('a cat\nSteps: 20, Eta: "0.5", Sigma noise: "0.25", SGM noise multiplier: "True"'), { eta: 0.5, sNoise: 0.25, sgmNoiseMultiplier: true });
  });

  it('quotes that do not enclose the whole value are no number: 1"2" and "1"2 are not read as 12', () => {
    assert.strictEqual(failure('a cat\nSteps: 20, Eta: 1"2"'), `SamplerParameterError: line 2, column 17: Eta: '1"2"' is not a number`);
    assert.strictEqual(failure('a cat\nSteps: 20, Eta: "1"2'), `SamplerParameterError: line 2, column 17: Eta: '"1"2' is not a number`);
  });

  it('inf and nan are no numbers the sampler can use', () => {
    assert.strictEqual(failure('a cat\nSteps: 20, Sigma tmax: inf'), "SamplerParameterError: line 2, column 24: Sigma tmax: 'inf' is not a number");
    assert.strictEqual(failure('a cat\nSteps: 20, Eta: nan'), "SamplerParameterError: line 2, column 17: Eta: 'nan' is not a number");
  });

  it('0 is allowed (A1111: the default of Sigma churn/tmin/tmax and "not set" for the schedule overrides)', () => {
    assert.deepStrictEqual(read('a cat\nSteps: 20, Eta: 0, Sigma churn: 0, Schedule min sigma: 0, Schedule max sigma: 0'), { eta: 0, sChurn: 0, sigmaMin: 0, sigmaMax: 0 });
  });

  it('Schedule min sigma equal to Schedule max sigma is refused, at the min value', () => {
    assert.strictEqual(
      failure('a cat\nSteps: 20, Schedule min sigma: 2, Schedule max sigma: 2'),
      'SamplerParameterError: line 2, column 32: Schedule min sigma: \'2\' must be below Schedule max sigma (2)',
    );
  });

  it('line and column count from the start of the file, with lines after the parameter line', () => {
    assert.strictEqual(failure('a cat\n\nSteps: 20, Eta: lots\n\n'), "SamplerParameterError: line 3, column 17: Eta: 'lots' is not a number");
  });
});

describe('schedule settings written back to the infotext', () => {
  it('Schedule rho only where the schedule has a default rho and the value differs from it', () => {
    assert.deepStrictEqual(written('euler', 'karras', { rho: 5 }), { 'Schedule rho': 5 });
    assert.deepStrictEqual(written('euler', 'karras', { rho: 7 }), {});
    assert.deepStrictEqual(written('euler', 'karras', { rho: 0 }), {});
    assert.deepStrictEqual(written('euler', 'karras', { rho: 1 }), { 'Schedule rho': 1 });
    assert.deepStrictEqual(written('euler', 'polyexponential', { rho: 2 }), { 'Schedule rho': 2 });
    assert.deepStrictEqual(written('euler', 'polyexponential', { rho: 1 }), {});
    assert.deepStrictEqual(written('euler', 'polyexponential', { rho: 7 }), { 'Schedule rho': 7 });
    assert.deepStrictEqual(written('euler', 'exponential', { rho: 5 }), {});
    assert.deepStrictEqual(written('euler', 'uniform', { rho: 5 }), {});
    // DPM++ 2M's Automatic is Karras.
    assert.deepStrictEqual(written('dpmpp_2m', 'automatic', { rho: 5 }), { 'Schedule rho': 5 });
  });

  it('Schedule min/max sigma for the k-diffusion samplers when set (not 0), never for the timestep samplers', () => {
    assert.deepStrictEqual(written('euler', 'karras', { sigmaMin: 0.1, sigmaMax: 10 }), { 'Schedule min sigma': 0.1, 'Schedule max sigma': 10 });
    assert.deepStrictEqual(written('euler', 'karras', { sigmaMin: 0, sigmaMax: 0 }), {});
    assert.deepStrictEqual(written('ddim', 'automatic', { sigmaMin: 0.1, sigmaMax: 10 }), {});
  });

  it('Beta schedule alpha and beta always for the Beta schedule (A1111 defaults 0.6), never for another', () => {
    assert.deepStrictEqual(written('euler', 'beta', {}), { 'Beta schedule alpha': 0.6, 'Beta schedule beta': 0.6 });
    assert.deepStrictEqual(written('euler', 'beta', { betaAlpha: 0.5, betaBeta: 0.7 }), { 'Beta schedule alpha': 0.5, 'Beta schedule beta': 0.7 });
    assert.deepStrictEqual(written('euler', 'karras', { betaAlpha: 0.5, betaBeta: 0.7 }), {});
  });

  it('SGM noise multiplier: True for a k-diffusion sampler that used it, never for DDIM', () => {
    assert.deepStrictEqual(written('euler', 'automatic', { sgmNoiseMultiplier: true }), { 'SGM noise multiplier': 'True' });
    assert.deepStrictEqual(written('euler', 'automatic', { sgmNoiseMultiplier: false }), {});
    assert.deepStrictEqual(written('ddim', 'automatic', { sgmNoiseMultiplier: true }), {});
  });

  it('Discard penultimate sigma only when the setting, not the sampler, dropped it', () => {
    assert.deepStrictEqual(written('euler', 'automatic', { discardPenultimateSigma: true }), { 'Discard penultimate sigma': 'True' });
    assert.deepStrictEqual(written('euler', 'automatic', {}), {});
    // DPM2, DPM2 a and DPM++ 3M SDE always drop it (discard_next_to_last_sigma): nothing to write.
    assert.deepStrictEqual(written('dpm2', 'automatic', { discardPenultimateSigma: true }), {});
    assert.deepStrictEqual(written('dpm2_a', 'automatic', { discardPenultimateSigma: true }), {});
    assert.deepStrictEqual(written('dpmpp_3m_sde', 'automatic', { discardPenultimateSigma: true }), {});
    assert.deepStrictEqual(written('dpm2', 'automatic', {}), {});
  });

  it('the pairs come in the order get_sigmas, sample and initialize set them', () => {
    const built = createSampler('euler', 4, 'beta', SD15, { discardPenultimateSigma: true, sigmaMin: 0.1, sigmaMax: 10, sgmNoiseMultiplier: true, sChurn: 0.5, sNoise: 0.9 });
    const settings: SamplerSettings = { discardPenultimateSigma: true, sigmaMin: 0.1, sigmaMax: 10, sgmNoiseMultiplier: true, sChurn: 0.5, sNoise: 0.9 };
    assert.deepStrictEqual(
      samplerInfotextParameters('euler', settings, built).filter(([, v]) => v !== undefined),
      [
        ['Discard penultimate sigma', 'True'],
        ['Schedule min sigma', 0.1],
        ['Schedule max sigma', 10],
        ['Beta schedule alpha', 0.6],
        ['Beta schedule beta', 0.6],
        ['SGM noise multiplier', 'True'],
        ['Sigma churn', 0.5],
        ['Sigma noise', 0.9],
      ],
    );
  });
});
