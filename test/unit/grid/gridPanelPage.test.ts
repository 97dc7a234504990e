import * as assert from 'assert';
import { axisDefault, parameterValues } from '../../../client/src/preview/gridAxisDefaults';
import { gridHtml } from '../../../client/src/preview/gridHtml';
import type { GridPlan } from '../../../server/src/service/xyz/gridTypes';

const FILE = 'masterpiece, <lora:add_detail:0.8>, 1girl\nNegative prompt: lowres\nSteps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1234, Size: 512x768, Model: dreamshaper_8, Clip skip: 2';

describe('X/Y/Z panel: axis values and page', () => {
  it('the value box starts with the file\'s own value for the axis, ready for the next one', () => {
    assert.deepStrictEqual(
      (['Seed', 'Steps', 'CFG Scale', 'Sampler', 'Schedule type', 'Size', 'Checkpoint name', 'Clip skip', 'VAE', 'Var. seed'] as const).map((t) => axisDefault(t, FILE)),
      ['1234, ', '20, ', '7, ', 'DPM++ 2M, ', 'Karras, ', '512x768, ', 'dreamshaper_8, ', '2, ', '', ''],
    );
  });

  it('Prompt S/R starts from the first LoRA tag: its weight when that text is unique in the prompt, else the whole tag', () => {
    assert.strictEqual(axisDefault('Prompt S/R', FILE), '0.8, ');
    assert.strictEqual(axisDefault('Prompt S/R', '(red:0.8), <lora:a:0.8>\nSteps: 2'), '<lora:a:0.8>, ');
    assert.strictEqual(axisDefault('Prompt S/R', 'a cat\nNegative prompt: <lora:a:0.5>\nSteps: 2'), '', 'tags in the negative prompt are not applied');
  });

  it('reads quoted parameter values whole, and quotes a value with a comma for the axis CSV', () => {
    const text = 'a\nSteps: 2, Lora hashes: "a: 1, b: 2", Sampler: Euler, Model: "odd, name"';
    assert.deepStrictEqual([...parameterValues(text)], [['Steps', '2'], ['Lora hashes', '"a: 1, b: 2"'], ['Sampler', 'Euler'], ['Model', '"odd, name"']]);
    assert.strictEqual(axisDefault('Checkpoint name', text), '"odd, name", ');
    assert.strictEqual(axisDefault('Seed', 'a cat, no parameter line'), '');
  });

  it('the page lays the cells out under their labels, escaped, one button per cell', () => {
    const plan: GridPlan = {
      x: { type: 'Prompt S/R', values: ['<b>', 'x'], labels: ['<b>', 'x'] },
      y: { type: 'Seed', values: ['1'], labels: ['Seed: 1'] },
      cells: [
        { x: 0, y: 0, z: 0, promptText: 'a' },
        { x: 1, y: 0, z: 0, promptText: 'b' },
      ],
    };
    const html = gridHtml(plan, 'X/Y/Z Plot a.prompt', 'this computer (cpu)');
    assert.ok(html.includes('<th scope="col">&lt;b&gt;</th><th scope="col">x</th>'));
    assert.ok(html.includes('<th scope="row">Seed: 1</th><td><button class="cell waiting" id="cell-0" data-index="0"'));
    assert.strictEqual(html.match(/<button class="cell/g)!.length, 2);
    assert.match(html, /Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'nonce-[^']+'; script-src 'nonce-[^']+'"/);
    assert.ok(html.includes('Rendering 2 cells on this computer (cpu)…'));
  });
});
