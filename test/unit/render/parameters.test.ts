import * as assert from 'assert';
import { renderParameters } from '../../../server/src/render/parameters';

describe('render parameters', () => {
  const file = 'a cat\nNegative prompt: blurry\nSteps: 30, Sampler: DDIM, CFG scale: 5, Seed: 9, Size: 640x384';
  it('options over the file over settings over defaults', () => {
    const fromFile = renderParameters(file, { model: '/m/tiny' }, { steps: 12, sampler: 'LCM', cfgScale: 2, width: 256, height: 256 });
    const { parsed, ...values } = fromFile;
    assert.deepStrictEqual(
      values,
      { prompt: 'a cat', negativePrompt: 'blurry', steps: 30, sampler: 'DDIM', scheduleType: undefined, cfgScale: 5, seed: 9,
        noise: { source: 'GPU', subseed: -1, subseedStrength: 0, seedResizeFrom: undefined, etaNoiseSeedDelta: 0 },
        sampling: {},
        width: 640, height: 384, modelName: 'tiny', hires: undefined, ngms: undefined, clipSkip: 1 },
    );
    // The file's one parse travels with them: the conditioning reads its prompts from it.
    assert.deepStrictEqual(
      [parsed?.positive.subprompts.map((s) => s.sub.text), parsed?.negative?.stripped.text.text],
      [['a cat'], 'blurry'],
    );
    const fromSettings = renderParameters('a cat', { model: '/m/tiny' }, { steps: 12, sampler: 'LCM', cfgScale: 2, width: 256, height: 128 });
    assert.deepStrictEqual([fromSettings.steps, fromSettings.sampler, fromSettings.cfgScale, fromSettings.width, fromSettings.height], [12, 'LCM', 2, 256, 128]);
    const defaults = renderParameters('a cat', { model: '/m/tiny', seed: 3 });
    assert.deepStrictEqual([defaults.steps, defaults.sampler, defaults.cfgScale, defaults.seed, defaults.width, defaults.height], [20, 'Euler a', 7, 3, 512, 512]);
    const overridden = renderParameters(file, { model: '/m/tiny', steps: 4, sampler: 'Euler', cfg: 9, width: 64, height: 64 });
    assert.deepStrictEqual([overridden.steps, overridden.sampler, overridden.cfgScale, overridden.width], [4, 'Euler', 9, 64]);
  });

  it('seed -1 or none picks a random 32-bit seed', () => {
    const seed = renderParameters('a cat\nSteps: 20, Sampler: Euler a, Seed: -1', { model: '/m' }).seed;
    assert.ok(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32);
  });
});
