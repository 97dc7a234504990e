import * as assert from 'assert';
import { XYZ_AXIS_TYPES, parseAxisSpec } from '../../../server/src/service/xyz';
import { splitCsvValues } from '../../../server/src/service/xyz/csvValues';
import { expandIntValue } from '../../../server/src/service/xyz/numericRanges';
import { pyRound } from '../../../server/src/service/xyz/pyFormat';

/**
 * Axis values as A1111's X/Y/Z plot expands them. The expected lists were printed by A1111's own
 * `process_axis` code (scripts/xyz_grid.py: re_range*, range(), np.arange, np.linspace, int()) run with
 * Python 3.11 and numpy 2.4, and its labels by `format_value_add_label` (round(x, 8)).
 */
const fixed = { randomSeed: () => 3141592653 };
const values = (spec: string) => parseAxisSpec('x', spec, fixed).values;
const labels = (spec: string) => parseAxisSpec('x', spec, fixed).labels;

describe('X/Y/Z axis values: A1111 value syntax', () => {
  it('splits values as Python\'s csv reader does: quotes keep commas, "" is a quote, spaces trimmed', () => {
    assert.deepStrictEqual(values('Prompt S/R: a, "b, c", d'), ['a', 'b, c', 'd']);
    assert.deepStrictEqual(values('Prompt S/R: "x""y", z'), ['x"y', 'z']);
    // Lenient after a closing quote, as Python's reader is: `"a"b` is `ab`.
    assert.deepStrictEqual(values('Prompt S/R: "a"b, c'), ['ab', 'c']);
    // A trailing comma is one empty value (Prompt S/R replaces with nothing).
    assert.deepStrictEqual(values('Prompt S/R: cat,'), ['cat', '']);
    assert.deepStrictEqual(values('Prompt S/R:  "q" , r'), ['q', 'r']);
  });

  it('reads a newline outside quotes as a separator and keeps one inside quotes', () => {
    assert.deepStrictEqual(
      splitCsvValues('a\n\nb').map((v) => v.text),
      ['a', 'b'],
    );
    assert.deepStrictEqual(
      splitCsvValues('"a\nb", c').map((v) => v.text),
      ['a\nb', 'c'],
    );
    assert.deepStrictEqual(splitCsvValues(' ').map((v) => v.text), ['']);
    assert.deepStrictEqual(splitCsvValues('').map((v) => v.text), []);
  });

  it('gives each value the column its field starts at', () => {
    assert.deepStrictEqual(
      splitCsvValues(' a, "b, c",d').map((v) => v.column),
      [1, 4, 11],
    );
  });

  it('expands int ranges with range(start, end + 1, step)', () => {
    assert.deepStrictEqual(values('Seed: 1-5'), ['1', '2', '3', '4', '5']);
    assert.deepStrictEqual(values('Steps: 1-5 (+2)'), ['1', '3', '5']);
    assert.deepStrictEqual(values('Steps:  2 - 8 (+3) '), ['2', '5', '8']);
    assert.deepStrictEqual(expandIntValue('-5--1', 100), [-5, -4, -3, -2, -1]);
    // A1111 adds 1 to the end even when counting down, so 5-1 (-1) stops at 3.
    assert.deepStrictEqual(values('Seed: 5-1 (-1)'), ['5', '4', '3']);
    assert.deepStrictEqual(values('Steps: 1-1'), ['1']);
  });

  it('expands int [count] ranges with np.linspace, truncating toward zero', () => {
    assert.deepStrictEqual(values('Steps: 10-30 [5]'), ['10', '15', '20', '25', '30']);
    assert.deepStrictEqual(values('Steps: 1-10 [4]'), ['1', '4', '7', '10']);
    assert.deepStrictEqual(values('Steps: 1-5 [3]'), ['1', '3', '5']);
    // 1, 1.33, 1.67, 2: int() truncates, it does not round.
    assert.deepStrictEqual(values('Steps: 1-2 [4]'), ['1', '1', '1', '2']);
    // -1, -0.33, 0.33, 1: truncation goes toward zero from both sides.
    assert.deepStrictEqual(expandIntValue('-1-1 [4]', 100), [-1, 0, 0, 1]);
    assert.deepStrictEqual(expandIntValue('-3-3 [4]', 100), [-3, -1, 1, 3]);
  });

  it('expands float ranges with np.arange(start, end + step, step) and np.linspace', () => {
    assert.deepStrictEqual(values('CFG Scale: 1-3 (+0.5)'), ['1.0', '1.5', '2.0', '2.5', '3.0']);
    assert.deepStrictEqual(values('Var. strength: 0-1 [5]'), ['0.0', '0.25', '0.5', '0.75', '1.0']);
    assert.deepStrictEqual(values('CFG Scale: 5-9 (+1.5)'), ['5.0', '6.5', '8.0', '9.5']);
    assert.deepStrictEqual(values('CFG Scale: 9-5 (-1.5)'), ['9.0', '7.5', '6.0', '4.5']);
    assert.deepStrictEqual(values('CFG Scale: 7, 2.5'), ['7.0', '2.5']);
  });

  it('keeps numpy\'s float steps in the values and rounds them to 8 places only in the labels', () => {
    const spec = 'CFG Scale: 0-1 (+0.1)';
    assert.deepStrictEqual(values(spec), [
      '0.0', '0.1', '0.2', '0.30000000000000004', '0.4', '0.5', '0.6000000000000001', '0.7000000000000001', '0.8', '0.9', '1.0',
    ]);
    assert.deepStrictEqual(labels(spec), [
      'CFG Scale: 0.0', 'CFG Scale: 0.1', 'CFG Scale: 0.2', 'CFG Scale: 0.3', 'CFG Scale: 0.4', 'CFG Scale: 0.5',
      'CFG Scale: 0.6', 'CFG Scale: 0.7', 'CFG Scale: 0.8', 'CFG Scale: 0.9', 'CFG Scale: 1.0',
    ]);
    // numpy steps by (start + step) - start: 0.1 + 0.2 - 0.1 is 0.20000000000000004.
    assert.deepStrictEqual(values('CFG Scale: 0.1-0.7 (+0.2)'), ['0.1', '0.30000000000000004', '0.5000000000000001', '0.7000000000000001']);
    assert.deepStrictEqual(labels('Var. strength: 0-1 [7]'), [
      'Var. strength: 0.0', 'Var. strength: 0.16666667', 'Var. strength: 0.33333333', 'Var. strength: 0.5',
      'Var. strength: 0.66666667', 'Var. strength: 0.83333333', 'Var. strength: 1.0',
    ]);
  });

  it('rounds ties to even on the exact binary value, as Python\'s round does', () => {
    // 1/512 = 0.001953125 exactly: a tie at the 9th place, which Python rounds down to the even 2.
    assert.strictEqual(pyRound(0.001953125, 8), 0.00195312);
    assert.strictEqual(pyRound(0.30000000000000004, 8), 0.3);
    assert.strictEqual(pyRound(-2.0000000049, 8), -2.0);
  });

  it('skips empty values of number axes', () => {
    assert.deepStrictEqual(values('Steps: 10, , 20,'), ['10', '20']);
  });

  it('labels each type as A1111 draws it', () => {
    assert.deepStrictEqual(labels('Seed: 1, 2'), ['Seed: 1', 'Seed: 2']);
    assert.deepStrictEqual(labels('Steps: 20'), ['Steps: 20']);
    assert.deepStrictEqual(labels('CFG Scale: 7'), ['CFG Scale: 7.0']);
    assert.deepStrictEqual(labels('Var. seed: 9'), ['Var. seed: 9']);
    assert.deepStrictEqual(labels('Clip skip: 1-2'), ['Clip skip: 1', 'Clip skip: 2']);
    // format_value: the value alone.
    assert.deepStrictEqual(labels('Prompt S/R: cat, dog'), ['cat', 'dog']);
    assert.deepStrictEqual(labels('Sampler: Euler a, DPM++ 2M'), ['Euler a', 'DPM++ 2M']);
    assert.deepStrictEqual(labels('Schedule type: Karras'), ['Schedule type: Karras']);
    // format_remove_path: the file name without its folders.
    assert.deepStrictEqual(labels('Checkpoint name: sd15/dreamshaper_8.safetensors, base'), ['dreamshaper_8.safetensors', 'base']);
    assert.deepStrictEqual(labels('VAE: None'), ['VAE: None']);
    assert.deepStrictEqual(labels('Size: 512x768'), ['Size: 512x768']);
    assert.deepStrictEqual(labels('Prompt variant: 1-2'), ['Prompt variant: 1', 'Prompt variant: 2']);
  });

  it('lists every order of Prompt order\'s parts, in itertools.permutations order, joined for the label', () => {
    const axis = parseAxisSpec('y', 'Prompt order: red, hat, smile');
    assert.deepStrictEqual(axis.labels, [
      'red, hat, smile', 'red, smile, hat', 'hat, red, smile', 'hat, smile, red', 'smile, red, hat', 'smile, hat, red',
    ]);
  });

  it('fixes each -1 seed to a random seed once, before the labels are made', () => {
    let next = 100;
    const axis = parseAxisSpec('x', 'Seed: -1, 5, -1', { randomSeed: () => next++ });
    assert.deepStrictEqual(axis.values, ['100', '5', '101']);
    assert.deepStrictEqual(axis.labels, ['Seed: 100', 'Seed: 5', 'Seed: 101']);
    const unseeded = parseAxisSpec('x', 'Var. seed: -1');
    const seed = Number(unseeded.values[0]);
    assert.ok(Number.isInteger(seed) && seed >= 0 && seed < 4294967294, `random seed ${seed}`);
  });

  it('takes type names in any case, and aliases such as parameter-line keys', () => {
    assert.strictEqual(parseAxisSpec('x', 'cfg scale: 7').type, 'CFG Scale');
    assert.strictEqual(parseAxisSpec('x', 'PROMPT S/R: a, b').type, 'Prompt S/R');
    assert.strictEqual(parseAxisSpec('x', 'Variation seed strength: 0.5').type, 'Var. strength');
    assert.strictEqual(parseAxisSpec('x', 'Scheduler: karras').type, 'Schedule type');
  });

  it('checks sampler and schedule names in any case, as A1111\'s samplers_map does', () => {
    assert.deepStrictEqual(values('Sampler: "DPM++ 2M", euler a, k_dpmpp_2m'), ['DPM++ 2M', 'euler a', 'k_dpmpp_2m']);
    assert.deepStrictEqual(values('Schedule type: karras, Automatic'), ['karras', 'Automatic']);
  });

  it('takes VAE None and Automatic in any case', () => {
    assert.deepStrictEqual(parseAxisSpec('x', 'VAE: none, AUTOMATIC, auto', { vaes: [] }).values, ['none', 'AUTOMATIC', 'auto']);
  });

  it('describes every axis type once, with an example that parses', () => {
    const types = XYZ_AXIS_TYPES.map((t) => t.type);
    assert.deepStrictEqual(types, [
      'Seed', 'Var. seed', 'Var. strength', 'Steps', 'CFG Scale', 'Prompt S/R', 'Prompt order', 'Sampler', 'Schedule type',
      'Checkpoint name', 'VAE', 'Clip skip', 'Size', 'Prompt variant',
    ]);
    for (const t of XYZ_AXIS_TYPES) {
      assert.ok(t.description.length > 10, t.type);
      assert.strictEqual(parseAxisSpec('x', t.example, fixed).type, t.type);
    }
  });
});
