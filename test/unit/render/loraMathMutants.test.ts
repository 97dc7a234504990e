import * as assert from 'assert';
import { LoraModule, LoraModuleKind, TensorRole } from '../../../server/src/render/lora/loraKeys';
import { deltaBias, deltaWeight, isLoraMathError, lowRankFactors, moduleScale } from '../../../server/src/render/lora/loraMath';
import { LoraTensor } from '../../../server/src/render/lora/loraTensors';

/*
 * What a user sees of the LoRA math besides the numbers that loraMath.test.ts checks: the message for
 * each shape a module cannot have (shown in the panel and by `sd-prompt merge`, naming the module, the
 * kind and the shapes), the scale A1111 picks in the rarer cases, and the factors the fused GEMM
 * path takes. Written from the mutants `npm run mutation` found no test for. Small integer tensors, so
 * every expected value is worked out by hand.
 */

function t(dims: number[], data?: number[]): LoraTensor {
  const count = dims.reduce((a, b) => a * b, 1);
  return { dims, data: Float32Array.from(data ?? Array.from({ length: count }, (_, i) => i + 1)) };
}

function scalar(value: number): LoraTensor {
  return { dims: [], data: Float32Array.of(value) };
}

const NAME = 'unet:down_blocks.0.attentions.0.proj_in';

function module(kind: LoraModuleKind, tensors: Partial<Record<TensorRole, LoraTensor>>): LoraModule<LoraTensor> {
  return { component: 'unet', module: 'down_blocks.0.attentions.0.proj_in', kind, tensors, sourceKeys: [] };
}

function errorOf(result: unknown): string {
  if (!isLoraMathError(result)) assert.fail(`expected an error, got ${result instanceof Float32Array ? `[${[...result]}]` : JSON.stringify(result)}`);
  return result.error;
}

function values(result: Float32Array | { error: string }): number[] {
  assert.ok(result instanceof Float32Array, 'error' in result ? result.error : '');
  return [...result];
}

describe('LoRA delta math: the messages and rarer cases a user meets', () => {
  describe('a module whose tensors do not fit each other is refused with its shapes', () => {
    it('LoRA: up and down of different ranks', () => {
      assert.strictEqual(
        errorOf(deltaWeight(module('lora', { up: t([5, 3]), down: t([2, 4]) }), 1, [5, 4])),
        `${NAME} (lora): up [5, 3] and down [2, 4] have different ranks`,
      );
    });

    it('LoCon: a lora_mid that is not 4-D, or whose ranks are not up’s and down’s', () => {
      const up = t([4, 2, 1, 1]);
      const down = t([2, 3, 1, 1]);
      const message = (mid: string) => `${NAME} (lora): lora_mid ${mid} does not fit up [4, 2, 1, 1] and down [2, 3, 1, 1]`;
      assert.strictEqual(errorOf(deltaWeight(module('lora', { up, down, mid: t([2, 2]) }), 1, [4, 3, 3, 3])), message('[2, 2]'));
      assert.strictEqual(errorOf(deltaWeight(module('lora', { up, down, mid: t([3, 2, 3, 3]) }), 1, [4, 3, 3, 3])), message('[3, 2, 3, 3]'));
      assert.strictEqual(errorOf(deltaWeight(module('lora', { up, down, mid: t([2, 3, 3, 3]) }), 1, [4, 3, 3, 3])), message('[2, 3, 3, 3]'));
    });

    it('LoHa: factors that do not chain, halves of different shapes', () => {
      const ok = t([4, 2]);
      assert.strictEqual(
        errorOf(deltaWeight(module('loha', { w1a: ok, w1b: t([3, 3]), w2a: ok, w2b: t([2, 3]) }), 1, [4, 3])),
        `${NAME} (loha): hada_w1_a @ hada_w1_b: [4, 2] @ [3, 3] do not chain`,
      );
      assert.strictEqual(
        errorOf(deltaWeight(module('loha', { w1a: ok, w1b: t([2, 3]), w2a: ok, w2b: t([3, 3]) }), 1, [4, 3])),
        `${NAME} (loha): hada_w2_a @ hada_w2_b: [4, 2] @ [3, 3] do not chain`,
      );
      // Different sizes, and the same size in another shape ([4, 3] against [3, 4]).
      assert.strictEqual(
        errorOf(deltaWeight(module('loha', { w1a: ok, w1b: t([2, 3]), w2a: ok, w2b: t([2, 2]) }), 1, [4, 3])),
        `${NAME} (loha): LoHa halves [4, 3] and [4, 2] differ`,
      );
      assert.strictEqual(
        errorOf(deltaWeight(module('loha', { w1a: ok, w1b: t([2, 3]), w2a: t([3, 2]), w2b: t([2, 4]) }), 1, [4, 3])),
        `${NAME} (loha): LoHa halves [4, 3] and [3, 4] differ`,
      );
    });

    it('LoHa with Tucker cores: a core that is not 4-D or does not fit its factors', () => {
      const w = { w1a: t([2, 4]), w1b: t([2, 3]), w2a: t([4, 2]), w2b: t([2, 3]) };
      assert.strictEqual(errorOf(deltaWeight(module('loha', { ...w, t1: t([2, 2]) }), 1, [4, 3, 3, 3])), `${NAME} (loha): Tucker core [2, 2] is not 4-D`);
      assert.strictEqual(
        errorOf(deltaWeight(module('loha', { ...w, t1: t([3, 2, 3, 3]) }), 1, [4, 3, 3, 3])),
        `${NAME} (loha): Tucker core [3, 2, 3, 3] does not fit factors [2, 4] and [2, 3]`,
      );
      assert.strictEqual(
        errorOf(deltaWeight(module('loha', { ...w, t1: t([2, 3, 3, 3]) }), 1, [4, 3, 3, 3])),
        `${NAME} (loha): Tucker core [2, 3, 3, 3] does not fit factors [2, 4] and [2, 3]`,
      );
    });

    it('LoKr: factors that do not chain, a w1 that is not 2-D, a w2 that is neither 2-D nor 4-D', () => {
      assert.strictEqual(
        errorOf(deltaWeight(module('lokr', { w1a: t([2, 1]), w1b: t([2, 3]), w2: t([2, 2]) }), 1, [4, 6])),
        `${NAME} (lokr): lokr_w1_a @ lokr_w1_b: [2, 1] @ [2, 3] do not chain`,
      );
      assert.strictEqual(
        errorOf(deltaWeight(module('lokr', { w1: t([2, 2]), w2a: t([2, 1]), w2b: t([2, 3]) }), 1, [4, 6])),
        `${NAME} (lokr): lokr_w2_a @ lokr_w2_b: [2, 1] @ [2, 3] do not chain`,
      );
      assert.strictEqual(errorOf(deltaWeight(module('lokr', { w1: t([2, 2, 1, 1]), w2: t([2, 2]) }), 1, [4, 4])), `${NAME} (lokr): lokr_w1 [2, 2, 1, 1] is not 2-D`);
      assert.strictEqual(errorOf(deltaWeight(module('lokr', { w1: t([2, 2]), w2: t([2, 2, 2]) }), 1, [4, 8])), `${NAME} (lokr): lokr_w2 [2, 2, 2] is neither 2-D nor 4-D`);
    });

    it('a core that fits no weight: another first dimension, or a weight without a shape', () => {
      // [2, 3] and [3, 2] hold as many values: only the out dimension tells them apart.
      const lora = module('lora', { up: t([2, 1]), down: t([1, 3]) });
      assert.strictEqual(errorOf(deltaWeight(lora, 1, [3, 2])), `${NAME}: the lora module gives [2, 3] but the model's weight is [3, 2]`);
      assert.strictEqual(errorOf(deltaWeight(lora, 1, [])), `${NAME}: the lora module gives [2, 3] but the model's weight is []`);
    });
  });

  describe('the scale', () => {
    it('a scale tensor wins over alpha/rank; an alpha that is not one value is no alpha', () => {
      const up = t([2, 2]);
      const down = t([2, 2]);
      assert.strictEqual(moduleScale(module('lora', { up, down, alpha: scalar(4), scale: scalar(0.25) })), 0.25);
      assert.strictEqual(moduleScale(module('lora', { up, down, alpha: scalar(4), scale: t([2]) })), 2);
      assert.strictEqual(moduleScale(module('lora', { up, down, alpha: t([2], [4, 4]) })), 1);
    });

    it('LoKr divides alpha by w2b’s rank, or w1b’s when w2 is whole; a rank of 0 leaves the scale at 1', () => {
      const w1a = t([2, 2]);
      const w1b = t([2, 3]);
      assert.strictEqual(moduleScale(module('lokr', { w1a, w1b, w2: t([2, 2]), alpha: scalar(3) })), 1.5);
      assert.strictEqual(moduleScale(module('lokr', { w1a, w1b, w2a: t([2, 4]), w2b: t([4, 2]), alpha: scalar(3) })), 0.75);
      assert.strictEqual(moduleScale(module('loha', { w1a: t([2, 5]), w1b: t([5, 3]), w2a: t([2, 1]), w2b: t([1, 3]), alpha: scalar(2) })), 0.4);
      assert.strictEqual(moduleScale(module('lora', { up: t([2, 0]), down: t([0, 3]), alpha: scalar(8) })), 1);
    });
  });

  describe('dyn', () => {
    it('0, the full rank or more keep every rank', () => {
      // up [2 × 2] = [[1, 2], [3, 4]], down [2 × 2] = [[1, 2], [3, 4]]: up · down = [[7, 10], [15, 22]].
      const m = module('lora', { up: t([2, 2]), down: t([2, 2]) });
      for (const dyn of [0, -1, 2, 3]) assert.deepStrictEqual(values(deltaWeight(m, 1, [2, 2], { dyn })), [7, 10, 15, 22], `dyn ${dyn}`);
      // dyn 1: up[:, :1] · down[:1] = [[1], [3]] · [[1, 2]].
      assert.deepStrictEqual(values(deltaWeight(m, 1, [2, 2], { dyn: 1 })), [1, 2, 3, 6]);
    });
  });

  describe('DoRA', () => {
    it('a base weight of another size, and a dora_scale that fits neither norm, are refused by name', () => {
      const lora = { up: t([3, 1]), down: t([1, 4]) };
      assert.strictEqual(
        errorOf(deltaWeight(module('lora', { ...lora, doraScale: t([3]) }), 1, [3, 4], { baseWeight: new Float32Array(10) })),
        `${NAME}: base weight has 10 elements, the target shape [3, 4] 12`,
      );
      for (const [dims, text] of [
        [[2], '[2]'],
        [[1, 3], '[1, 3]'],
        [[3, 2], '[3, 2]'],
        [[2, 4], '[2, 4]'],
        [[1, 4, 2], '[1, 4, 2]'],
      ] as const) {
        assert.strictEqual(
          errorOf(deltaWeight(module('lora', { ...lora, doraScale: t([...dims]) }), 1, [3, 4], { baseWeight: new Float32Array(12) })),
          `${NAME}: dora_scale ${text} fits neither [1, 4, …] nor [3, 1, …] of the target [3, 4]`,
        );
      }
      assert.strictEqual(
        errorOf(deltaWeight(module('lora', { ...lora, doraScale: t([3]) }), 1, [3, 4])),
        `${NAME}: DoRA (dora_scale) needs the model's base weight`,
      );
    });

    it('per output row given as [out, 1]; a row that is all zero stays zero instead of NaN', () => {
      // ΔW = up · down = [[1, 2], [0, 0]] (scale 1), W = [[2, 2], [0, 0]]: W + ΔW = [[3, 4], [0, 0]].
      // Row 0 has norm 5, so m = 10 gives [[6, 8]]; row 1 has no direction and stays 0.
      const m = module('lora', { up: t([2, 1], [1, 0]), down: t([1, 2], [1, 2]), doraScale: t([2, 1], [10, 7]) });
      assert.deepStrictEqual(values(deltaWeight(m, 0.5, [2, 2], { baseWeight: Float32Array.of(2, 2, 0, 0) })), [2, 3, 0, 0]);
    });

    it('alpha/rank scales ΔW before the norm, the multiplier after it', () => {
      // alpha 2 over rank 1: ΔW = 2 · [[1, 2], [0, 0]]; W = [[1, 0], [0, 0]]: W + ΔW = [[3, 4], [0, 0]], norm 5, m = 10.
      const m = module('lora', { up: t([2, 1], [1, 0]), down: t([1, 2], [1, 2]), alpha: scalar(2), doraScale: t([2], [10, 7]) });
      assert.deepStrictEqual(values(deltaWeight(m, 1, [2, 2], { baseWeight: Float32Array.of(1, 0, 0, 0) })), [5, 8, 0, 0]);
    });

    it('per input channel of a conv: the norm runs over the output channels and the whole kernel', () => {
      // A 1×2-kernel conv with 2 outputs and 2 inputs; W = 0, so W' = m · ΔW / ‖ΔW‖ per input channel.
      // ΔW = up [2 × 1] · down [1 × (2·2)] = [1, 1]ᵀ · [3, 4, 0, 5]: input 0 holds 3, 4 in both rows
      // (norm √50), input 1 holds 0, 5 (norm √50 too).
      const m = module('lora', { up: t([2, 1, 1, 1], [1, 1]), down: t([1, 2, 1, 2], [3, 4, 0, 5]), doraScale: t([1, 2, 1, 1], [Math.SQRT2 * 5, 0]) });
      const out = values(deltaWeight(m, 1, [2, 2, 1, 2], { baseWeight: new Float32Array(8) }));
      const expected = [3, 4, 0, 0, 3, 4, 0, 0];
      for (let i = 0; i < 8; i++) assert.ok(Math.abs(out[i] - expected[i]) < 1e-5, `element ${i}: ${out[i]} vs ${expected[i]}`);
    });
  });

  describe('the factors the fused GEMM path takes', () => {
    const up = t([2, 3]);
    const down = t([3, 2]);

    it('a plain LoRA: its up and down, its rank and scale; dyn keeps the first ranks of both', () => {
      const full = lowRankFactors(module('lora', { up, down, alpha: scalar(6) }), [2, 2]);
      assert.ok(full && !isLoraMathError(full));
      assert.deepStrictEqual([[...full.up], [...full.down], full.rank, full.scale], [[1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6], 3, 2]);
      for (const dyn of [0, 3, 4]) assert.strictEqual((lowRankFactors(module('lora', { up, down }), [2, 2], dyn) as { rank: number }).rank, 3, `dyn ${dyn}`);
      const two = lowRankFactors(module('lora', { up, down, alpha: scalar(6) }), [2, 2], 2);
      assert.ok(two && !isLoraMathError(two));
      assert.deepStrictEqual([[...two.up], [...two.down], two.rank, two.scale], [[1, 2, 4, 5], [1, 2, 3, 4], 2, 2]);
    });

    it('every other kind, a Tucker mid, DoRA or a missing factor: none (deltaWeight computes those)', () => {
      assert.strictEqual(lowRankFactors(module('full', { diff: t([2, 2]) }), [2, 2]), undefined);
      assert.strictEqual(lowRankFactors(module('lora', { up, down, mid: t([3, 3, 1, 1]) }), [2, 2]), undefined);
      assert.strictEqual(lowRankFactors(module('lora', { up, down, doraScale: t([2]) }), [2, 2]), undefined);
      assert.strictEqual(lowRankFactors(module('lora', { up }), [2, 2]), undefined);
      assert.strictEqual(lowRankFactors(module('lora', { down }), [2, 2]), undefined);
    });

    it('ranks that differ, or a product of another shape than the weight, are refused by name', () => {
      assert.strictEqual(errorOf(lowRankFactors(module('lora', { up, down: t([2, 2]) }), [2, 2])), `${NAME} (lora): up [2, 3] and down [2, 2] have different ranks`);
      assert.strictEqual(errorOf(lowRankFactors(module('lora', { up, down }), [2, 3])), `${NAME}: the lora module gives [2, 2] but the model's weight is [2, 3]`);
      const conv = lowRankFactors(module('lora', { up: t([2, 1, 1, 1]), down: t([1, 3, 3, 3]) }), [2, 3, 3, 3]);
      assert.ok(conv && !isLoraMathError(conv));
      assert.deepStrictEqual([conv.up.length, conv.down.length, conv.rank], [2, 27, 1]);
      assert.strictEqual(
        errorOf(lowRankFactors(module('lora', { up: t([2, 1, 1, 1]), down: t([1, 3, 3, 3]) }), [2, 27, 1, 1])),
        `${NAME}: the lora module gives [2, 3, 3, 3] but the model's weight is [2, 27, 1, 1]`,
      );
    });
  });

  it('a diff_b of another length than the bias is refused by name', () => {
    assert.strictEqual(errorOf(deltaBias(module('full', { diff: t([3, 2]), diffBias: t([3]) }), 1, 4)), `${NAME}: diff_b has 3 elements but the model's bias 4`);
  });

  it('isLoraMathError tells a message from a result', () => {
    assert.deepStrictEqual(
      [{ error: 'x' }, new Float32Array(2), null, undefined, { error: 1 }, 'error'].map((v) => isLoraMathError(v)),
      [true, false, false, false, false, false],
    );
  });
});
