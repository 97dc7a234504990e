import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { parsePromptDocument } from '../../../server/src/service/syntax/document';
import { readSamplerParameters, SamplerParameterError } from '../../../server/src/render/pipeline/samplers/samplerParameters';
import { createSampler, NoiseSchedule } from '../../../server/src/render/pipeline/schedulers';
import { renderParameters } from '../../../server/src/render/parameters';
import { openModelFolder } from '../../../server/src/render/model/modelFolder';
import { loadSessions, ModelSessions } from '../../../server/src/render/model/sessions';
import { renderTxt2Img } from '../../../server/src/render/pipeline/txt2img';
import { generateTinyPipeline, TINY_SD15 } from '../../../server/src/render/testModel/generateModel';
import { FIXTURES } from '../fixtures';

function read(text: string) {
  return readSamplerParameters(text, parsePromptDocument(text).sections.parameters?.entries ?? []);
}

describe('sampler settings on the parameter line (A1111 keys)', () => {
  it('reads Eta, Eta DDIM, the Sigma settings, Discard penultimate sigma, the schedule overrides and SGM noise multiplier', () => {
    const text =
      'a cat\nSteps: 20, Sampler: Euler a, Eta: 0.67, Eta DDIM: 0.3, Sigma noise: 0.98, Sigma churn: 0.5, Sigma tmin: 0.1, Sigma tmax: 10, ' +
      'Discard penultimate sigma: True, Schedule min sigma: 0.05, Schedule max sigma: 12, Schedule rho: 5, Beta schedule alpha: 0.5, ' +
      'Beta schedule beta: 0.7, SGM noise multiplier: True';
    assert.deepStrictEqual(read(text), {
      eta: 0.67,
      etaDdim: 0.3,
      sNoise: 0.98,
      sChurn: 0.5,
      sTmin: 0.1,
      sTmax: 10,
      sigmaMin: 0.05,
      sigmaMax: 12,
      rho: 5,
      betaAlpha: 0.5,
      betaBeta: 0.7,
      discardPenultimateSigma: true,
      sgmNoiseMultiplier: true,
    });
    assert.deepStrictEqual(read('a cat\nSteps: 20, Sampler: Euler'), {});
    assert.deepStrictEqual(read('a cat\nSteps: 20, Sampler: Euler, Discard penultimate sigma: false'), { discardPenultimateSigma: false });
  });

  it('a value the sampler cannot use is an error naming the key, the value, line and column', () => {
    assert.throws(() => read('a cat\nSteps: 20, Eta: lots'), (e: unknown) => {
      assert.ok(e instanceof SamplerParameterError);
      assert.strictEqual(e.message, "line 2, column 17: Eta: 'lots' is not a number");
      return true;
    });
    assert.throws(() => read('a cat\nSteps: 20, Sigma noise: -1'), /line 2, column 25: Sigma noise: '-1' must not be negative/);
    assert.throws(() => read('a cat\nSteps: 20, Discard penultimate sigma: yes'), /Discard penultimate sigma: 'yes' is not True or False/);
    assert.throws(() => read('a cat\nSteps: 20, Schedule min sigma: 5, Schedule max sigma: 1'), /Schedule min sigma: '5' must be below Schedule max sigma \(1\)/);
  });

  it('SGM noise multiplier starts from sqrt(1 + σ₀²) instead of σ₀', () => {
    const sd = NoiseSchedule.fromConfig({});
    const s = createSampler('euler', 10, 'automatic', sd, { sgmNoiseMultiplier: true });
    assert.ok(Math.abs(s.initNoiseSigma - Math.sqrt(1 + s.sigmas[0] ** 2)) < 1e-12);
  });
});

describe('sampler settings reach the render and its infotext (tiny SD1.5, 64x64)', function () {
  this.timeout(120000);
  let root: string;
  let sessions: ModelSessions;

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-sampler-params-'));
    generateTinyPipeline(root, { ...TINY_SD15, tokenizerFrom: path.join(FIXTURES, 'clip') });
    sessions = await loadSessions(openModelFolder(root), 'cpu', ort);
  });
  after(async () => {
    await sessions?.release();
    fs.rmSync(root, { recursive: true, force: true });
  });

  const render = (line: string) => renderTxt2Img(ort, openModelFolder(root), sessions, renderParameters(`a cat\n${line}, CFG scale: 7, Seed: 5, Size: 64x64`, { model: root }));

  it('Eta, Sigma noise and Discard penultimate sigma change the image and are written back as A1111 writes them', async () => {
    const plain = await render('Steps: 3, Sampler: DPM++ 2S a');
    const tuned = await render('Steps: 3, Sampler: DPM++ 2S a, Eta: 0.5, Sigma noise: 0.9, Discard penultimate sigma: True');
    assert.notDeepStrictEqual(plain.rgb, tuned.rgb);
    assert.ok(
      tuned.infotext.endsWith(`Model: ${path.basename(root)}, Discard penultimate sigma: True, Eta: 0.5, Sigma noise: 0.9, Version: sd-prompt`),
      tuned.infotext,
    );
    // The round trip: the written infotext renders the same image.
    const again = await renderTxt2Img(ort, openModelFolder(root), sessions, renderParameters(tuned.infotext, { model: root }));
    assert.deepStrictEqual(again.rgb, tuned.rgb);
  });

  it('"Automatic" is written as the schedule it resolved to (DPM++ 2M: Karras; Euler: Automatic), Eta DDIM only for DDIM', async () => {
    assert.match((await render('Steps: 2, Sampler: DPM++ 2M')).infotext, /Sampler: DPM\+\+ 2M, Schedule type: Karras,/);
    assert.match((await render('Steps: 2, Sampler: Euler')).infotext, /Sampler: Euler, Schedule type: Automatic,/);
    const ddim = await render('Steps: 2, Sampler: DDIM, Eta DDIM: 0.5, Eta: 0.3');
    assert.match(ddim.infotext, /, Eta DDIM: 0.5, Version/);
    assert.doesNotMatch(ddim.infotext, /, Eta: /);
  });
});
