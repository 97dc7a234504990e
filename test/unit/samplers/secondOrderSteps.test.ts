import * as assert from 'assert';
import { findProblems } from '../../../server/src/service/features/diagnostics';
import { DEFAULT_SETTINGS } from '../../../server/src/service/settings';
import { parsePromptDocument } from '../../../server/src/service/syntax/document';
import { isSecondOrderSampler, scheduleStepsOf, SECOND_ORDER_SAMPLERS } from '../../../server/src/service/semantics/samplerSteps';
import { SAMPLER_DEFINITIONS } from '../../../server/src/render/pipeline/samplers/registry';
import { main } from '../../../server/src/cli/main';

const steps = (text: string, fallback = 20) => scheduleStepsOf(parsePromptDocument(text), fallback);

describe("prompt editing counts A1111's steps: twice Steps for second-order samplers", () => {
  it('Heun, DPM2, DPM2 a, DPM++ 2S a, DPM++ SDE and Restart, by label, alias or old "label schedule" name', () => {
    assert.deepStrictEqual([...SECOND_ORDER_SAMPLERS.keys()], ['Heun', 'DPM2', 'DPM2 a', 'DPM++ 2S a', 'DPM++ SDE', 'Restart']);
    for (const name of ['Heun', 'k_heun', 'DPM++ SDE Karras', 'dpm2 a karras', 'DPM++ 2S a', 'Restart']) assert.ok(isSecondOrderSampler(name), name);
    for (const name of ['Euler a', 'DPM++ 2M Karras', 'DPM++ 2M SDE', 'DPM++ 3M SDE Exponential', 'LMS', 'DDIM']) assert.ok(!isSecondOrderSampler(name), name);
  });

  it('the render registry takes its flags from the same table', () => {
    assert.deepStrictEqual(SAMPLER_DEFINITIONS.filter((d) => d.secondOrder).map((d) => d.label), ['DPM++ SDE', 'DPM++ 2S a', 'Heun', 'DPM2', 'DPM2 a', 'Restart']);
  });

  it("the file's Steps (or the settings' steps) doubled for a second-order Sampler", () => {
    assert.strictEqual(steps('a cat\nSteps: 20, Sampler: Heun'), 40);
    assert.strictEqual(steps('a cat\nSteps: 20, Sampler: DPM++ SDE Karras'), 40);
    assert.strictEqual(steps('a cat\nSteps: 20, Sampler: Euler a'), 20);
    assert.strictEqual(steps('a cat\nSteps: 25'), 25);
    assert.strictEqual(steps('a cat\nSteps: 30, Sampler: Restart'), 60);
    assert.strictEqual(steps('a cat', 30), 30);
    assert.strictEqual(scheduleStepsOf(parsePromptDocument('a cat')), undefined);
  });

  it('diagnostics: [b:c:30] with Steps 20 of Heun switches (A1111 counts 40); with Euler it never does', () => {
    const codes = (text: string) => findProblems(parsePromptDocument(text), DEFAULT_SETTINGS).map((p) => p.code);
    assert.deepStrictEqual(codes('a [b:c:30]\nSteps: 20, Sampler: Heun'), []);
    assert.deepStrictEqual(codes('a [b:c:30]\nSteps: 20, Sampler: Euler'), ['schedule-never-switches']);
  });

  it('sd-prompt explain of a file with a second-order sampler schedules over twice its Steps', async () => {
    let out = '';
    const io = { stdout: (t: string) => (out += t), stderr: () => undefined, readFile: (f: string) => (f === 'heun.prompt' ? 'a [b:c:30]\nSteps: 20, Sampler: Heun' : 'a [b:c:30]\nSteps: 20, Sampler: Euler'), readStdin: () => '' };
    assert.strictEqual(await main(['explain', 'heun.prompt'], io), 0);
    const heun = out;
    out = '';
    assert.strictEqual(await main(['explain', 'euler.prompt'], io), 0);
    const schedule = (json: string) => [...json.matchAll(/"end_at_step": (\d+),\s*"text": "([^"]*)"/g)].map((m) => `${m[1]}: ${m[2]}`);
    assert.deepStrictEqual(schedule(heun), ['30: a b', '40: a c']);
    assert.deepStrictEqual(schedule(out), ['20: a b']);
  });
});
