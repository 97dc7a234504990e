import * as assert from 'assert';
import { GridPlanContext, GridSpecError, XyzAxisName, parseAxisSpec, planGrid } from '../../../server/src/service/xyz';

/** Every bad axis spec is a GridSpecError naming the axis and the 0-based column of what is wrong. */
function specError(run: () => unknown): GridSpecError {
  try {
    run();
  } catch (e) {
    if (e instanceof GridSpecError) return e;
    throw e;
  }
  assert.fail('no GridSpecError');
}

function parseError(spec: string, context: GridPlanContext = {}, axis: XyzAxisName = 'x'): { axis: string; column: number; reason: string } {
  const e = specError(() => parseAxisSpec(axis, spec, context));
  return { axis: e.axis, column: e.column, reason: e.reason };
}

const FILE = 'a cat in a hat\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512';

describe('X/Y/Z axis spec errors', () => {
  it('names the axis and a 1-based column in its message', () => {
    const e = specError(() => parseAxisSpec('y', 'Steps: 10, ten'));
    assert.strictEqual(e.message, "Y axis, column 12: 'ten' is not a whole number or a range (1-5, 1-5 (+2), 1-5 [3])");
    assert.strictEqual(e.name, 'GridSpecError');
  });

  it('a spec without a type', () => {
    const e = parseError('1-5');
    assert.strictEqual(e.column, 0);
    assert.match(e.reason, /^expected 'Type: values' \(for example 'Seed: 1-4'\); types: Seed, Var\. seed, /);
  });

  it('an unknown type, with a did-you-mean', () => {
    assert.deepStrictEqual(parseError('  Sede: 1'), {
      axis: 'x',
      column: 2,
      reason:
        "unknown axis type 'Sede'; did you mean 'Seed'? Types: Seed, Var. seed, Var. strength, Steps, CFG Scale, Prompt S/R, Prompt order, Sampler, Schedule type, Checkpoint name, VAE, Clip skip, Size, Prompt variant",
    });
    assert.match(parseError('Denoising: 0.5').reason, /^unknown axis type 'Denoising'\. Types: Seed,/);
  });

  it('no values', () => {
    assert.deepStrictEqual(parseError('Steps:   '), { axis: 'x', column: 9, reason: 'no values for Steps' });
    assert.deepStrictEqual(parseError('Seed: , ,'), { axis: 'x', column: 6, reason: 'no values for Seed' });
  });

  it('a value that is no number, at its own column', () => {
    assert.deepStrictEqual(parseError('CFG Scale: 7, 7,5x'), {
      axis: 'x',
      column: 16,
      reason: "'5x' is not a number or a range (1-3 (+0.5), 0-1 [5])",
    });
    assert.strictEqual(parseError('Steps: 7.5').reason, "'7.5' is not a whole number or a range (1-5, 1-5 (+2), 1-5 [3])");
  });

  it('ranges that give nothing, a zero step, a zero or fractional count', () => {
    assert.deepStrictEqual(parseError('Steps: 20, 30-10'), {
      axis: 'x',
      column: 11,
      reason: "'30-10' gives no values (range(30, 11, 1) is empty; count down with a negative step, as in 5-1 (-1))",
    });
    assert.strictEqual(parseError('Steps: 1-5 (+0)').reason, "'1-5 (+0)': the step is 0");
    assert.strictEqual(parseError('CFG Scale: 1-5 (+0)').reason, "'1-5 (+0)': the step is 0");
    assert.strictEqual(parseError('Steps: 1-5 [0]').reason, "'1-5 [0]' asks for 0 values");
    assert.strictEqual(parseError('CFG Scale: 0-1 [2.5]').reason, "'0-1 [2.5]': the count in [ ] must be a whole number");
    // A step without its sign is no range in A1111's pattern, so the whole value is read as a number.
    assert.strictEqual(parseError('Steps: 1-5 (2)').reason, "'1-5 (2)' is not a whole number or a range (1-5, 1-5 (+2), 1-5 [3])");
  });

  it('a value too long to be a number, refused before the range patterns try it', () => {
    assert.deepStrictEqual(parseError(`CFG Scale: 7, ${'1'.repeat(100_000)}x`), {
      axis: 'x',
      column: 14,
      reason: "'11111111111111111111…' (100001 characters) is too long for a number or a range",
    });
  });

  it('a range too long to plot', () => {
    assert.deepStrictEqual(parseError('Seed: 1-100000'), {
      axis: 'x',
      column: 6,
      reason: "'1-100000' gives 100000 values, more than the 10000 an axis may have",
    });
  });

  it('values out of their range', () => {
    assert.deepStrictEqual(parseError('Steps: 0-2'), { axis: 'x', column: 7, reason: "Steps 0 (from '0-2'): needs at least 1 step" });
    assert.strictEqual(parseError('Clip skip: 0').reason, "Clip skip 0 (from '0'): Clip skip starts at 1 (no layer skipped)");
    assert.strictEqual(parseError('Seed: -2').reason, "Seed -2 (from '-2'): a seed is -1 (random) or a whole number from 0");
    assert.deepStrictEqual(parseAxisSpec('x', 'Seed: 4294967296').values, ['4294967296']);
    assert.strictEqual(parseError('Prompt variant: 0-2').reason, "Prompt variant 0 (from '0-2'): variants are numbered from 1");
  });

  it('an unclosed quote', () => {
    assert.deepStrictEqual(parseError('Prompt S/R: a, "b, c'), {
      axis: 'x',
      column: 15,
      reason: 'a quoted value is not closed (a `"` without its closing `"`)',
    });
  });

  it('an unknown sampler or schedule type, with a did-you-mean', () => {
    assert.deepStrictEqual(parseError('Sampler: Euler a, DPM++ 2N'), {
      axis: 'x',
      column: 18,
      reason: "unknown sampler 'DPM++ 2N'; did you mean 'DPM++ 2M'?",
    });
    assert.strictEqual(parseError('Sampler: Euler, LCM', { samplers: ['Euler', 'Euler a'] }).reason, "unknown sampler 'LCM'");
    assert.strictEqual(parseError('Schedule type: Karas').reason, "unknown schedule type 'Karas'; did you mean 'Karras'?");
  });

  it('an unknown checkpoint or VAE, against the names it was given', () => {
    const context = { checkpoints: ['sd15/dreamshaper_8.safetensors', 'v1-5-pruned-emaonly.safetensors'], vaes: ['vae-ft-mse-840000-ema-pruned.safetensors'] };
    assert.deepStrictEqual(parseError('Checkpoint name: dreamshaper_8, dreamshapr_8', context), {
      axis: 'x',
      column: 32,
      reason:
        "unknown checkpoint 'dreamshapr_8'; did you mean 'dreamshaper_8'? Checkpoints: sd15/dreamshaper_8.safetensors, v1-5-pruned-emaonly.safetensors",
    });
    assert.strictEqual(
      parseError('VAE: vae-ft-mse-84000-ema-pruned.safetensors', context).reason,
      "unknown VAE 'vae-ft-mse-84000-ema-pruned.safetensors'; did you mean 'vae-ft-mse-840000-ema-pruned.safetensors'? (None or Automatic use the checkpoint's own)",
    );
  });

  it('a size that is not WIDTHxHEIGHT', () => {
    assert.deepStrictEqual(parseError('Size: 512x512, 768*512'), { axis: 'x', column: 15, reason: "size '768*512' is not WIDTHxHEIGHT (512x768)" });
    assert.strictEqual(parseError('Size: 0x512').reason, "size '0x512': width and height must be at least 8");
  });

  it('an empty Prompt order part', () => {
    assert.deepStrictEqual(parseError('Prompt order: a, , b'), { axis: 'x', column: 17, reason: 'an empty part cannot be moved' });
  });

  it('Prompt S/R whose search text is in neither prompt, as A1111 stops on it', () => {
    const e = specError(() => planGrid(FILE, { x: 'Steps: 10, 20', y: 'Prompt S/R: dog, wolf' }));
    assert.deepStrictEqual([e.axis, e.column, e.reason], ['y', 12, "Prompt S/R did not find 'dog' in the prompt or the negative prompt"]);
    const empty = specError(() => planGrid(FILE, { x: 'Prompt S/R: , cat' }));
    assert.deepStrictEqual([empty.axis, empty.column], ['x', 12]);
    assert.strictEqual(empty.reason, 'Prompt S/R: the first value is the text to search for, and it is empty');
  });

  it('a Prompt order part that is not in the prompt, at that part', () => {
    const e = specError(() => planGrid(FILE, { x: 'Prompt order: cat, dog' }));
    assert.deepStrictEqual([e.axis, e.column, e.reason], ['x', 19, "Prompt order: 'dog' is not in the prompt"]);
  });

  it('a variant the file does not have', () => {
    const e = specError(() => planGrid('a {red|blue} hat\nSteps: 20, Seed: 1, Sampler: Euler', { z: 'Prompt variant: 1, 3', x: 'Steps: 10' }));
    assert.deepStrictEqual([e.axis, e.column, e.reason], ['z', 19, 'variant 3 does not exist: the file has 2 variants']);
    const second = specError(() => planGrid('a {red|blue} hat\nSteps: 20, Seed: 1', { x: 'Prompt variant: 1', y: 'Prompt variant: 1-5' }));
    assert.deepStrictEqual([second.axis, second.column, second.reason], ['y', 16, 'variant 3 does not exist: the file has 2 variants']);
  });

  it('a file whose variants cannot be listed', () => {
    const e = specError(() => planGrid('a {red|blue hat\nSteps: 20, Seed: 1, Sampler: Euler', { x: 'Prompt variant: 1' }));
    assert.strictEqual(e.axis, 'x');
    assert.strictEqual(e.column, 15);
    assert.match(e.reason, /^the file's variants cannot be listed: /);
  });

  it('a replacement that would move where the negative prompt starts', () => {
    const e = specError(() => planGrid(FILE, { x: 'Steps: 10', y: 'Prompt S/R: hat, "hat\nNegative prompt: cap"' }));
    assert.deepStrictEqual([e.axis, e.column], ['y', 17]);
    assert.strictEqual(e.reason, "'hat\nNegative prompt: cap' changes where the prompt, the negative prompt or the parameter line start; the cell would not render as planned");
  });

  it('a grid with too many cells, or no X axis', () => {
    const e = specError(() => planGrid(FILE, { x: 'Seed: 1-40', y: 'Steps: 1-30' }));
    assert.deepStrictEqual([e.axis, e.column, e.reason], ['x', 5, '40x30x1 is 1200 cells, more than the 1000 a grid may have']);
    const small = specError(() => planGrid(FILE, { x: 'Seed: 1-3', y: 'Steps: 1-3' }, { maxCells: 8 }));
    assert.strictEqual(small.reason, '3x3x1 is 9 cells, more than the 8 a grid may have');
    const noX = specError(() => planGrid(FILE, { x: '  ', y: 'Seed: 1-3' }));
    assert.deepStrictEqual([noX.axis, noX.column, noX.reason], ['x', 0, 'an X axis is needed before Y (move the Y axis to X)']);
    assert.strictEqual(specError(() => planGrid(FILE, {})).reason, 'no axis given');
  });
});
