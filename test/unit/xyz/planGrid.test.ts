import * as assert from 'assert';
import { GridPlan, planGrid } from '../../../server/src/service/xyz';
import { parseSections } from '../../../server/src/service/syntax/sections';
import { applyOrder } from '../../../server/src/service/xyz/planGrid';

const fixed = { randomSeed: () => 42 };
const at = (plan: GridPlan) => plan.cells.map((c) => [c.x, c.y, c.z]);
const cellText = (plan: GridPlan, x: number, y = 0, z = 0) => plan.cells.find((c) => c.x === x && c.y === y && c.z === z)!.promptText;

const LORA_FILE = [
  'masterpiece, <lora:add_detail:0.8>, 1girl',
  'Negative prompt: lowres',
  'Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 512x512, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly',
].join('\n');

describe('X/Y/Z plan: each cell\'s .prompt text and the run order', () => {
  it('plans a 3x2 grid of LoRA weight by CFG scale, cell by cell', () => {
    const plan = planGrid(LORA_FILE, { x: 'Prompt S/R: 0.8, 0.4, 1', y: 'CFG Scale: 5, 7.5' }, fixed);
    assert.deepStrictEqual(plan.x, { type: 'Prompt S/R', values: ['0.8', '0.4', '1'], labels: ['0.8', '0.4', '1'] });
    assert.deepStrictEqual(plan.y, { type: 'CFG Scale', values: ['5.0', '7.5'], labels: ['CFG Scale: 5.0', 'CFG Scale: 7.5'] });
    assert.strictEqual(plan.z, undefined);
    const line = (cfg: string) =>
      `Steps: 20, Sampler: Euler a, CFG scale: ${cfg}, Seed: 1234, Size: 512x512, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly`;
    const expected: Record<string, string> = {};
    for (const [x, weight] of ['0.8', '0.4', '1'].entries()) {
      for (const [y, cfg] of ['5.0', '7.5'].entries()) {
        expected[`${x},${y}`] = `masterpiece, <lora:add_detail:${weight}>, 1girl\nNegative prompt: lowres\n${line(cfg)}`;
      }
    }
    assert.strictEqual(plan.cells.length, 6);
    for (const cell of plan.cells) {
      assert.strictEqual(cell.promptText, expected[`${cell.x},${cell.y}`], `cell ${cell.x},${cell.y}`);
      assert.strictEqual(cell.checkpoint, undefined);
      assert.strictEqual(cell.vae, undefined);
    }
    // Cells of one LoRA weight run back to back: three merges, not six.
    assert.deepStrictEqual(at(plan), [[0, 0, 0], [0, 1, 0], [1, 0, 0], [1, 1, 0], [2, 0, 0], [2, 1, 0]]);
  });

  it('keeps A1111\'s order (z, then y, then x fastest) when no cell is costlier than another', () => {
    const plan = planGrid(LORA_FILE, { x: 'Steps: 10, 20', y: 'Seed: 1, 2', z: 'CFG Scale: 5, 6' }, fixed);
    assert.deepStrictEqual(at(plan), [
      [0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0],
      [0, 0, 1], [1, 0, 1], [0, 1, 1], [1, 1, 1],
    ]);
    assert.strictEqual(
      cellText(plan, 1, 0, 1),
      'masterpiece, <lora:add_detail:0.8>, 1girl\nNegative prompt: lowres\nSteps: 20, Sampler: Euler a, CFG scale: 5.0, Seed: 1, Size: 512x512, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly'.replace('CFG scale: 5.0', 'CFG scale: 6.0'),
    );
  });

  it('runs each checkpoint\'s cells together, whichever axis it is on, and drops Model hash', () => {
    const checkpoints = ['sd15/dreamshaper_8.safetensors', 'v1-5-pruned-emaonly.safetensors'];
    const plan = planGrid(LORA_FILE, { x: 'Checkpoint name: dreamshaper, v1-5-pruned-emaonly', y: 'Steps: 10, 20' }, { ...fixed, checkpoints });
    assert.deepStrictEqual(plan.x.labels, ['dreamshaper', 'v1-5-pruned-emaonly']);
    assert.deepStrictEqual(at(plan), [[0, 0, 0], [0, 1, 0], [1, 0, 0], [1, 1, 0]]);
    assert.deepStrictEqual(plan.cells.map((c) => c.checkpoint), [checkpoints[0], checkpoints[0], checkpoints[1], checkpoints[1]]);
    assert.strictEqual(
      cellText(plan, 0, 1),
      'masterpiece, <lora:add_detail:0.8>, 1girl\nNegative prompt: lowres\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 512x512, Model: sd15/dreamshaper_8.safetensors',
    );
  });

  it('sets Steps from its axis in the cell text', () => {
    const plan = planGrid(LORA_FILE, { x: 'Checkpoint name: m1', y: 'Steps: 10, 30' }, fixed);
    assert.strictEqual(
      cellText(plan, 0, 1),
      'masterpiece, <lora:add_detail:0.8>, 1girl\nNegative prompt: lowres\nSteps: 30, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 512x512, Model: m1',
    );
  });

  it('puts the checkpoint before the VAE before the rest', () => {
    const plan = planGrid(LORA_FILE, { x: 'VAE: None, vae-ft-mse-840000-ema-pruned.safetensors', y: 'Seed: 1, 2', z: 'Checkpoint name: a, b' }, fixed);
    assert.deepStrictEqual(at(plan), [
      [0, 0, 0], [0, 1, 0], [1, 0, 0], [1, 1, 0],
      [0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1],
    ]);
    assert.deepStrictEqual(plan.cells.map((c) => c.vae), ['None', 'None', 'vae-ft-mse-840000-ema-pruned.safetensors', 'vae-ft-mse-840000-ema-pruned.safetensors', 'None', 'None', 'vae-ft-mse-840000-ema-pruned.safetensors', 'vae-ft-mse-840000-ema-pruned.safetensors']);
    assert.strictEqual(
      cellText(plan, 1, 1, 1),
      'masterpiece, <lora:add_detail:0.8>, 1girl\nNegative prompt: lowres\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 2, Size: 512x512, Model: b, VAE: vae-ft-mse-840000-ema-pruned.safetensors',
    );
    // None: the checkpoint's own VAE, so no VAE: (nor VAE hash:) in the text.
    const withVae = LORA_FILE.replace('Model: v1-5-pruned-emaonly', 'Model: v1-5-pruned-emaonly, VAE hash: 735e4c3a44, VAE: kl-f8.pt');
    const none = planGrid(withVae, { x: 'VAE: None' }, fixed);
    assert.strictEqual(
      none.cells[0].promptText,
      'masterpiece, <lora:add_detail:0.8>, 1girl\nNegative prompt: lowres\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 512x512, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly',
    );
  });

  it('runs cells of the same LoRAs together, and those of the same weights together within them', () => {
    const file = 'a cat, <lora:a:0.5>\nSteps: 20, Seed: 1, Sampler: Euler';
    const plan = planGrid(file, { x: 'Prompt S/R: <lora:a:0.5>, <lora:b:0.5>, <lora:a:1>', y: 'Seed: 1, 2' }, fixed);
    assert.deepStrictEqual(at(plan), [[0, 0, 0], [0, 1, 0], [2, 0, 0], [2, 1, 0], [1, 0, 0], [1, 1, 0]]);
  });

  it('groups Clip skip and Size changes below the VAE', () => {
    const plan = planGrid(LORA_FILE, { x: 'Steps: 10, 20', y: 'Size: 512x512, 512x768', z: 'Clip skip: 1, 2' }, fixed);
    assert.deepStrictEqual(at(plan), [
      [0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0],
      [0, 0, 1], [1, 0, 1], [0, 1, 1], [1, 1, 1],
    ]);
    // Size and Clip skip: Size in place, Clip skip after Model as A1111 writes it.
    assert.strictEqual(
      cellText(plan, 1, 1, 1),
      'masterpiece, <lora:add_detail:0.8>, 1girl\nNegative prompt: lowres\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 512x768, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Clip skip: 2',
    );
    const sizeOuter = planGrid(LORA_FILE, { x: 'Size: 512x512, 512x768', y: 'Seed: 1, 2' }, fixed);
    assert.deepStrictEqual(at(sizeOuter), [[0, 0, 0], [0, 1, 0], [1, 0, 0], [1, 1, 0]]);
  });

  it('replaces every occurrence in the prompt and the negative prompt, found in the negative alone', () => {
    const file = 'a cat, sharp\nNegative prompt: blurry, (blurry:1.2)\nSteps: 20, Seed: 5, Sampler: Euler';
    const plan = planGrid(file, { x: 'Prompt S/R: blurry, "jpeg artifacts, noise"' }, fixed);
    assert.deepStrictEqual(
      plan.cells.map((c) => c.promptText),
      [
        'a cat, sharp\nNegative prompt: blurry, (blurry:1.2)\nSteps: 20, Seed: 5, Sampler: Euler',
        'a cat, sharp\nNegative prompt: jpeg artifacts, noise, (jpeg artifacts, noise:1.2)\nSteps: 20, Seed: 5, Sampler: Euler',
      ],
    );
    // The parameter line is not prompt text: a search for a parameter's value leaves it alone.
    const both = planGrid('a 20 cat\nNegative prompt: 20 dog\nSteps: 20, Seed: 5, Sampler: Euler', { x: 'Prompt S/R: 20, 30' }, fixed);
    assert.strictEqual(both.cells[1].promptText, 'a 30 cat\nNegative prompt: 30 dog\nSteps: 20, Seed: 5, Sampler: Euler');
  });

  it('permutes the listed parts in their slots, as A1111\'s apply_order does', () => {
    const plan = planGrid('a red cat in a hat, smiling\nSteps: 20, Seed: 1, Sampler: Euler', { x: 'Prompt order: red, hat, smiling' }, fixed);
    assert.deepStrictEqual(
      plan.cells.map((c) => c.promptText.split('\n')[0]),
      [
        'a red cat in a hat, smiling',
        'a red cat in a smiling, hat',
        'a hat cat in a red, smiling',
        'a hat cat in a smiling, red',
        'a smiling cat in a red, hat',
        'a smiling cat in a hat, red',
      ],
    );
  });

  it('reorders overlapping parts exactly as A1111 does (outputs of its apply_order)', () => {
    assert.strictEqual(applyOrder(',abab,ba', [',', ',ab']), ',abab,b,abab,ba');
    assert.strictEqual(applyOrder('c ba,,', [',', 'a,']), 'c b,a,');
    assert.strictEqual(applyOrder('b ,a', ['a', ',a']), 'b a,a');
  });

  it('puts variant N of a {red|blue} file in the cell, with Template lines as sd-dynamic-prompts writes them', () => {
    const file = 'a {red|blue} hat\nNegative prompt: {ugly|bad}\nSteps: 20, Seed: 7, Sampler: Euler a';
    const plan = planGrid(file, { x: 'Prompt variant: 1-4', y: 'Prompt S/R: hat, cap' }, fixed);
    // Each label shows what sets the variant apart from the others.
    assert.deepStrictEqual(plan.x.labels, ['1: red / ugly', '2: red / bad', '3: blue / ugly', '4: blue / bad']);
    const tail = (hat: string) => `Steps: 20, Seed: 7, Sampler: Euler a\nTemplate: a {red|blue} ${hat}\nNegative Template: {ugly|bad}`;
    assert.deepStrictEqual(
      [0, 1, 2, 3].map((x) => cellText(plan, x, 0)),
      [
        `a red hat\nNegative prompt: ugly\n${tail('hat')}`,
        `a red hat\nNegative prompt: bad\n${tail('hat')}`,
        `a blue hat\nNegative prompt: ugly\n${tail('hat')}`,
        `a blue hat\nNegative prompt: bad\n${tail('hat')}`,
      ],
    );
    // S/R changes the variant and its template alike, whichever axis it is on.
    assert.strictEqual(cellText(plan, 2, 1), `a blue cap\nNegative prompt: ugly\n${tail('cap')}`);
    // Read back, the template lines are templates, not prompt text.
    const sections = parseSections(cellText(plan, 2, 1));
    assert.strictEqual(cellText(plan, 2, 1).slice(sections.positive.content.start, sections.positive.content.end), 'a blue cap');
    assert.ok(sections.templates?.positive && sections.templates.negative);
  });

  it('takes variants from the context when given (wildcards the caller resolved)', () => {
    const file = 'a __color__ hat\nSteps: 20, Seed: 7, Sampler: Euler a';
    const plan = planGrid(file, { x: 'Prompt variant: 2' }, { ...fixed, variants: () => [{ prompt: 'a red hat', negativePrompt: '' }, { prompt: 'a teal hat', negativePrompt: '' }] });
    assert.strictEqual(plan.cells[0].promptText, 'a teal hat\nSteps: 20, Seed: 7, Sampler: Euler a\nTemplate: a __color__ hat');
    assert.deepStrictEqual(plan.x.labels, ['2: teal']);
    const one = planGrid('a {red} hat\nSteps: 20, Seed: 7', { x: 'Prompt variant: 1' }, fixed);
    assert.deepStrictEqual(one.x.labels, ['Prompt variant: 1']);
  });

  it('fixes a missing or -1 seed once for the whole grid, and writes a parameter line the renderer reads', () => {
    let calls = 0;
    const plan = planGrid('a cat', { x: 'CFG Scale: 5, 7' }, { randomSeed: () => 1000 + calls++ });
    assert.strictEqual(calls, 1);
    assert.deepStrictEqual(
      plan.cells.map((c) => c.promptText),
      ['a cat\nSteps: 20, CFG scale: 5.0, Seed: 1000', 'a cat\nSteps: 20, CFG scale: 7.0, Seed: 1000'],
    );
    assert.deepStrictEqual(parseSections(plan.cells[0].promptText).parameters!.entries.map((e) => e.key), ['Steps', 'CFG scale', 'Seed']);
    const minusOne = planGrid('a cat\nSteps: 20, Seed: -1, Variation seed: -1, Variation seed strength: 0.3', { x: 'Steps: 10' }, fixed);
    assert.strictEqual(minusOne.cells[0].promptText, 'a cat\nSteps: 10, Seed: 42, Variation seed: 42, Variation seed strength: 0.3');
  });

  it('writes each number axis under A1111\'s infotext key, quoting values that need it', () => {
    const plan = planGrid(
      'a cat\nSteps: 20, Seed: 1, Sampler: Euler',
      { x: 'Var. seed: 3', y: 'Var. strength: 0.25', z: 'Schedule type: karras' },
      fixed,
    );
    assert.strictEqual(plan.cells[0].promptText, 'a cat\nSteps: 20, Seed: 1, Sampler: Euler, Schedule type: Karras, Variation seed: 3, Variation seed strength: 0.25');
    const sampler = planGrid('a cat\nSteps: 20, Seed: 1, Sampler: Euler', { x: 'Sampler: dpm++ 2m' }, fixed);
    assert.strictEqual(sampler.cells[0].promptText, 'a cat\nSteps: 20, Seed: 1, Sampler: DPM++ 2M');
    const quoted = planGrid('a cat\nSteps: 20, Seed: 1', { x: 'Checkpoint name: "odd, name"' }, fixed);
    assert.strictEqual(quoted.cells[0].promptText, 'a cat\nSteps: 20, Seed: 1, Model: "odd, name"');
  });
});
