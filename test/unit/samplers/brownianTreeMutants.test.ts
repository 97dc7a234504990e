import * as assert from 'assert';
import { BrownianNoise } from '../../../server/src/render/pipeline/samplers/brownianTree';

/*
 * The SDE samplers' Brownian noise beyond brownianTree.test.ts: the tree's span when sigma_min is
 * not near 0, bridges between two realized points that are both away from 0, the whole seed
 * (above 2^32 too), queries that come back to an earlier start (DPM++ SDE queries every step
 * twice from its start), and the memory a long render keeps.
 */

function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}

function variance(a: ArrayLike<number>): number {
  const m = mean(a);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - m) ** 2;
  return s / a.length;
}

/** The realized points of a tree (private: only their count is read, as the memory it holds). */
const realized = (tree: BrownianNoise) => tree as unknown as { times: number[]; values: Float32Array[] };

describe('Brownian noise: span, bridges, seed, repeated starts, memory', () => {
  const size = 200000;

  it('a tree over [1, 2]: the whole span is N(0, 1) once normalized (variance within 0.02 of 1), not scaled by sigma_max + sigma_min', () => {
    const n = new BrownianNoise(size, 1, 2, 3).noise(2, 1);
    assert.ok(Math.abs(variance(n) - 1) < 0.02, `variance ${variance(n)}`);
    assert.ok(Math.abs(mean(n)) < 0.01, `mean ${mean(n)}`);
  });

  it('an increment between two points both away from W(sigma_min) = 0 is N(0, 1) (variance within 0.02 of 1)', () => {
    const tree = new BrownianNoise(size, 1, 3, 4);
    tree.noise(3, 2); // realizes W(3) (the top) and W(2)
    const n = tree.noise(2.5, 2); // W(2.5) is bridged between W(2) and W(3)
    assert.ok(Math.abs(variance(n) - 1) < 0.02, `variance ${variance(n)}`);
    assert.ok(Math.abs(mean(n)) < 0.01, `mean ${mean(n)}`);
  });

  it('seeds that differ only above 2^32 give other noise (|correlation| < 0.05)', () => {
    const a = new BrownianNoise(4096, 0.03, 14.6, 5).noise(14.6, 10);
    const b = new BrownianNoise(4096, 0.03, 14.6, 5 + 2 ** 32).noise(14.6, 10);
    let s = 0;
    for (let k = 0; k < a.length; k++) s += a[k] * b[k];
    assert.ok(Math.abs(s / a.length) < 0.05, `correlation ${s / a.length}`);
  });

  it('three queries from the same start, then the gap between two of them: the increments add up within 1e-4', () => {
    const tree = new BrownianNoise(1000, 0.03, 14.6, 9);
    tree.noise(5, 4);
    const to3 = tree.noise(5, 3).map((v) => v * Math.SQRT2); // W(3) − W(5)
    const to2 = tree.noise(5, 2).map((v) => v * Math.sqrt(3)); // W(2) − W(5)
    const gap = tree.noise(3, 2); // W(2) − W(3), over a width of 1
    for (let k = 0; k < 1000; k++) assert.ok(Math.abs(to2[k] - (to3[k] + gap[k])) < 1e-4, `element ${k}: ${to2[k]} vs ${to3[k] + gap[k]}`);
  });

  it('the same seed gives the same noise in every version: 7 values (an odd count) per seed, below and above 2^32, as scripts/golden/brownian_noise.py', () => {
    // The generator as documented (splitmix-keyed xoshiro128**, Box–Muller, the bridge in float32),
    // transcribed from the published algorithms; float32 values, within 1e-6.
    const expected: [number, number[], number[]][] = [
      [
        5,
        [-0.44078946113586426, -1.0949597358703613, -1.2528539896011353, 0.543389618396759, 1.3951826095581055, -0.5553133487701416, 1.5167981386184692],
        [-0.4533212184906006, -0.5918925404548645, -1.595603585243225, -0.8830130696296692, -0.301369845867157, -0.5037248730659485, 2.0157158374786377],
      ],
      [
        5 + 2 ** 32,
        [-0.3367725908756256, 0.3726702928543091, -1.4875108003616333, -0.6789769530296326, 0.6450958251953125, -1.0847675800323486, -0.09568889439105988],
        [0.6437049508094788, 0.8807501196861267, -0.6296584010124207, 0.9802905321121216, 1.0275911092758179, 0.45855432748794556, 0.7760952115058899],
      ],
    ];
    for (const [seed, first, second] of expected) {
      const tree = new BrownianNoise(7, 0.03, 14.6, seed);
      const a = tree.noise(14.6, 10);
      const b = tree.noise(12, 10); // W(12) bridged between W(10) and W(14.6)
      a.forEach((v, k) => assert.ok(Math.abs(v - first[k]) < 1e-6, `seed ${seed} noise(14.6, 10)[${k}]: ${v} vs ${first[k]}`));
      b.forEach((v, k) => assert.ok(Math.abs(v - second[k]) < 1e-6, `seed ${seed} noise(12, 10)[${k}]: ${v} vs ${second[k]}`));
    }
  });

  it('a 200-step walk down in sigma keeps 6 points (sigma_min, the step end, its half step, its start, the half step above, sigma_max), not 400 latents', () => {
    const tree = new BrownianNoise(16, 0.03, 14.6, 1);
    const steps = 200;
    for (let i = 0; i < steps; i++) {
      const sigma = 14 * (1 - i / steps) + 0.05;
      const next = 14 * (1 - (i + 1) / steps) + 0.05;
      tree.noise(sigma, (sigma + next) / 2); // DPM++ SDE: the half step, then the whole step
      tree.noise(sigma, next);
      assert.ok(realized(tree).times.length <= 6, `step ${i}: ${realized(tree).times.length} points`);
      assert.ok(realized(tree).values.length <= 6, `step ${i}: ${realized(tree).values.length} latents`);
    }
  });
});
