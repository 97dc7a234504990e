import * as assert from 'assert';
import { XYZ_AXIS_TYPES, planGrid, suggestAxisSpec, suggestAxisSpecs } from '../../../server/src/service/xyz';

const FILE = [
  'masterpiece, red hair, smiling, <lora:add_detail:0.8>',
  'Negative prompt: lowres',
  'Steps: 25, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 1234, Size: 512x768, Model: dreamshaper_8',
].join('\n');

describe('X/Y/Z axis suggestions from the file', () => {
  it('pre-fills each type from the file\'s own values', () => {
    assert.deepStrictEqual(
      suggestAxisSpecs(FILE).map((s) => s.spec),
      [
        'Seed: 1234-1237',
        'Var. seed: 1-4',
        'Var. strength: 0-1 [5]',
        'Steps: 15-35 [3]',
        'CFG Scale: 4.5-8.5 [3]',
        'Prompt S/R: <lora:add_detail:0.8>, <lora:add_detail:0>, <lora:add_detail:0.5>, <lora:add_detail:1>',
        'Prompt order: masterpiece, red hair, smiling',
        'Sampler: DPM++ 2M, Euler a, DDIM',
        'Schedule type: Karras, Automatic, Exponential',
        'Checkpoint name: dreamshaper_8',
        'VAE: None',
        'Clip skip: 1-2',
        'Size: 512x768, 768x512',
        'Prompt variant: 1-1',
      ],
    );
  });

  it('gives suggestions that plan as they are, one axis at a time', () => {
    for (const { type, spec } of suggestAxisSpecs(FILE, { checkpoints: ['dreamshaper_8.safetensors', 'base.safetensors'], vaes: ['kl-f8.pt'] })) {
      const plan = planGrid(FILE, { x: spec }, { randomSeed: () => 1 });
      assert.strictEqual(plan.x.type, type);
      assert.ok(plan.cells.length >= 1, spec);
    }
    assert.strictEqual(suggestAxisSpecs(FILE).length, XYZ_AXIS_TYPES.length);
  });

  it('falls back to working values for a bare prompt', () => {
    const bare = 'a {red|blue|green} hat';
    assert.strictEqual(suggestAxisSpec(bare, 'Seed'), 'Seed: -1, -1, -1, -1');
    assert.strictEqual(suggestAxisSpec(bare, 'Steps'), 'Steps: 10-30 [3]');
    assert.strictEqual(suggestAxisSpec(bare, 'CFG Scale'), 'CFG Scale: 5.0-9.0 [3]');
    assert.strictEqual(suggestAxisSpec(bare, 'Prompt S/R'), 'Prompt S/R: a {red|blue|green} hat, ');
    assert.strictEqual(suggestAxisSpec(bare, 'Size'), 'Size: 512x512, 512x768, 768x512');
    assert.strictEqual(suggestAxisSpec(bare, 'Prompt variant'), 'Prompt variant: 1-3');
    assert.strictEqual(suggestAxisSpec(bare, 'Checkpoint name', { checkpoints: ['a.safetensors', 'b.safetensors'] }), 'Checkpoint name: a.safetensors, b.safetensors');
  });
});
