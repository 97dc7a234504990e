import * as assert from 'assert';
import { readBatchImages, readNoiseParameters } from '../../../server/src/render/pipeline/rng/noiseParameters';
import { noiseInfotextParameters } from '../../../server/src/render/pipeline/rng/noiseInfotext';
import { parsePromptDocument } from '../../../server/src/service/syntax/document';

const read = (line: string, source?: 'GPU' | 'CPU' | 'NV') => {
  const text = `a cat\n${line}`;
  return readNoiseParameters(text, parsePromptDocument(text).sections.parameters?.entries ?? [], source);
};

describe('noise parameters from the parameter line', () => {
  it('none given: GPU (or the setting), no variation, no resize, no delta', () => {
    assert.deepStrictEqual(read('Steps: 20, Seed: 1'), { source: 'GPU', subseed: -1, subseedStrength: 0, seedResizeFrom: undefined, etaNoiseSeedDelta: 0 });
    assert.strictEqual(read('Steps: 20, Seed: 1', 'NV').source, 'NV');
  });

  it('every key as A1111 writes it', () => {
    assert.deepStrictEqual(read('Steps: 20, Seed: 1, Variation seed: 77, Variation seed strength: 0.25, Seed resize from: 512x768, ENSD: 31337, RNG: CPU'), {
      source: 'CPU',
      subseed: 77,
      subseedStrength: 0.25,
      seedResizeFrom: { width: 512, height: 768 },
      etaNoiseSeedDelta: 31337,
    });
  });

  it('-1x-1 means no resize; a lower-case rng is read; Eta noise seed delta stands for ENSD; a quoted value is unquoted', () => {
    const p = read('Steps: 20, Seed: 1, Seed resize from: -1x-1, RNG: cpu, Eta noise seed delta: 5, Variation seed strength: "0.5", Variation seed: 4');
    assert.deepStrictEqual(p, { source: 'CPU', subseed: 4, subseedStrength: 0.5, seedResizeFrom: undefined, etaNoiseSeedDelta: 5 });
  });

  it('a variation seed of -1 is resolved only when a strength makes it count', () => {
    const p = read('Steps: 20, Seed: 1, Variation seed: -1, Variation seed strength: 0.1');
    assert.ok(Number.isInteger(p.subseed) && p.subseed >= 0 && p.subseed < 4294967294);
    assert.strictEqual(read('Steps: 20, Seed: 1, Variation seed: -1').subseed, -1);
  });

  it('batch images: Batch size × Batch count', () => {
    const images = (line: string) => {
      const text = `a\n${line}`;
      return readBatchImages(text, parsePromptDocument(text).sections.parameters?.entries ?? []);
    };
    assert.strictEqual(images('Steps: 20'), 1);
    assert.strictEqual(images('Steps: 20, Batch size: 3'), 3);
    assert.strictEqual(images('Steps: 20, Batch size: 3, Batch count: 2'), 6);
  });
});

describe('noise parameters in the infotext', () => {
  const noise = { source: 'GPU' as const, subseed: -1, subseedStrength: 0, etaNoiseSeedDelta: 31337 };
  const ensd = (label: string, eta?: number) => noiseInfotextParameters(noise, label, eta).find(([k]) => k === 'ENSD')![1];
  it("ENSD only for A1111's uses_ensd samplers with an eta that is not 0", () => {
    assert.strictEqual(ensd('Euler a'), 31337);
    assert.strictEqual(ensd('Euler a', 0), undefined);
    assert.strictEqual(ensd('Euler'), undefined);
    assert.strictEqual(ensd('DPM++ 2M'), undefined);
    // DDIM's eta defaults to 0 (default_eta_is_0).
    assert.strictEqual(ensd('DDIM'), undefined);
    assert.strictEqual(ensd('DDIM', 0.5), 31337);
  });
});
