import * as assert from 'assert';
import { NoiseParameterError, readBatchImages, readNoiseParameters } from '../../../server/src/render/pipeline/rng/noiseParameters';
import { parsePromptDocument } from '../../../server/src/service/syntax/document';

/**
 * A file as A1111 writes one: prompt, negative prompt, the parameter line on line 3, and the file's
 * final line break (so a location counted over the whole text instead of the text before the value
 * would say line 4). Every parameter line here starts `Steps: 20, Seed: 1, ` (20 characters): a value
 * after `KEY: ` starts at column 21 + the key's length + 2.
 */
const file = (parameters: string) => `a lighthouse at dawn\nNegative prompt: fog\nSteps: 20, Seed: 1, ${parameters}\n`;
const entriesOf = (text: string) => parsePromptDocument(text).sections.parameters?.entries ?? [];
const noise = (parameters: string) => {
  const text = file(parameters);
  return readNoiseParameters(text, entriesOf(text));
};
const images = (parameters: string) => {
  const text = file(parameters);
  return readBatchImages(text, entriesOf(text));
};

function assertRefused(read: () => unknown, message: string) {
  assert.throws(read, (e: unknown) => {
    assert.ok(e instanceof NoiseParameterError, `${e}`);
    assert.strictEqual(e.message, message);
    return true;
  });
}

describe('noise parameters: what A1111 could not use is refused with its line, column, key and value', () => {
  it('an RNG that is not GPU, CPU or NV', () => {
    assertRefused(() => noise('RNG: GPUX'), "line 3, column 26: RNG: 'GPUX' is not one of GPU, CPU, NV");
  });

  it('a whole-number key with letters, a fraction or past 2^53 (ENSD, Variation seed)', () => {
    assertRefused(() => noise('ENSD: abc'), "line 3, column 27: ENSD: 'abc' is not a whole number");
    // Python's int() refuses '31337.0'; read as JSON it would pass as 31337.
    assertRefused(() => noise('ENSD: 31337.0'), "line 3, column 27: ENSD: '31337.0' is not a whole number");
    assertRefused(() => noise('Eta noise seed delta: 1e3'), "line 3, column 43: Eta noise seed delta: '1e3' is not a whole number");
    assertRefused(
      () => noise('Variation seed: 9007199254740993, Variation seed strength: 0.5'),
      "line 3, column 37: Variation seed: '9007199254740993' is not a whole number",
    );
  });

  it('a variation strength that is not a finite number', () => {
    assertRefused(() => noise('Variation seed strength: abc'), "line 3, column 46: Variation seed strength: 'abc' is not a number");
    assertRefused(() => noise('Variation seed strength: inf'), "line 3, column 46: Variation seed strength: 'inf' is not a number");
  });

  it('a seed resize that is not exactly WIDTHxHEIGHT, with nothing before or after', () => {
    assertRefused(() => noise('Seed resize from: 512x768px'), "line 3, column 39: Seed resize from: '512x768px' is not WIDTHxHEIGHT (like 512x768)");
    assertRefused(() => noise('Seed resize from: about 512x768'), "line 3, column 39: Seed resize from: 'about 512x768' is not WIDTHxHEIGHT (like 512x768)");
  });

  it('a broken quote is shown as written; a quoted RNG is read unquoted', () => {
    assertRefused(() => noise('RNG: "CPU'), "line 3, column 26: RNG: '\"CPU' is not one of GPU, CPU, NV");
    assert.strictEqual(noise('RNG: "CPU"').source, 'CPU');
  });

  it('Batch size or Batch count below 1', () => {
    assertRefused(() => images('Batch size: 0'), "line 3, column 33: Batch size: '0' must be 1 or more");
    assertRefused(() => images('Batch size: 2, Batch count: -2'), "line 3, column 49: Batch count: '-2' must be 1 or more");
    assert.strictEqual(images('Batch size: 1, Batch count: 1'), 1);
  });

  it('the location counts only the text before the value: a value on line 1 of a one-line file', () => {
    const text = 'Steps: 20, Seed: 1, Size: 64x64, RNG: TPU';
    assertRefused(() => readNoiseParameters(text, entriesOf(text)), "line 1, column 39: RNG: 'TPU' is not one of GPU, CPU, NV");
  });
});

describe('noise parameters: values A1111 reads as no resize, and a variation seed without a strength', () => {
  it('Seed resize from with a side of 0 or below is no resize', () => {
    assert.strictEqual(noise('Seed resize from: 0x96').seedResizeFrom, undefined);
    assert.strictEqual(noise('Seed resize from: 96x0').seedResizeFrom, undefined);
    assert.strictEqual(noise('Seed resize from: -1x512').seedResizeFrom, undefined);
    assert.deepStrictEqual(noise('Seed resize from: 8x16').seedResizeFrom, { width: 8, height: 16 });
  });

  it('a variation seed without a strength is kept as written (the infotext shows it; the noise ignores it)', () => {
    assert.strictEqual(noise('Variation seed: 77').subseed, 77);
    assert.strictEqual(noise('Variation seed: 77').subseedStrength, 0);
  });
});
