import * as assert from 'assert';
import { renderParameters } from '../../../server/src/render/parameters';
import { resolveSamplerName } from '../../../server/src/render/pipeline/samplerNames';
import { readFixture } from '../fixtures';

/** The 55 civitai prompts of test/fixtures/prompts: which sampler each asks for, and whether it renders. */
describe('the sampler names of the real prompts', () => {
  const { records } = readFixture<{ records: { prompt: string; negative_prompt: string; params: string }[] }>('prompts/dflip3k_civitai_prompts.json');

  it('53 of 55 resolve (11 are DPM++ SDE Karras, refused before); the 2 "DPM++ 2M Karras MOD" are not A1111 names and say so', () => {
    const kinds = new Map<string, number>();
    const refused: string[] = [];
    for (const r of records) {
      const text = `${r.prompt}\nNegative prompt: ${r.negative_prompt}\n${r.params}`;
      const p = renderParameters(text, { model: '/m/x' });
      try {
        const c = resolveSamplerName(p.sampler, p.scheduleType);
        const key = `${c.samplerLabel} / ${c.scheduleLabel}`;
        kinds.set(key, (kinds.get(key) ?? 0) + 1);
      } catch (e) {
        refused.push((e as Error).message.slice(0, 51));
      }
    }
    assert.strictEqual(records.length, 55);
    assert.deepStrictEqual(Object.fromEntries(kinds), {
      'DPM++ 2M / Karras': 30,
      'DPM++ SDE / Karras': 11,
      'Euler a / Automatic': 9,
      'DDIM / Automatic': 2,
      'Euler / Automatic': 1,
    });
    assert.deepStrictEqual(refused, ["Unknown sampler 'DPM++ 2M Karras MOD'. Known: DPM++", "Unknown sampler 'DPM++ 2M Karras MOD'. Known: DPM++"]);
  });
});
