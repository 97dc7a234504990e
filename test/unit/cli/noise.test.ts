import * as assert from 'assert';
import { main } from '../../../server/src/cli/main';
import { readFixture } from '../fixtures';

interface NoiseCase {
  name: string;
  prompt: string;
  /** Arrays per image: the initial noise, then each later draw. */
  draws: number;
  shape: [number, number, number];
  seeds: number[];
  images: number[][][];
}

interface NoiseJson {
  rng: string;
  shape: number[];
  images: { seed: number; draws: number[][] }[];
}

async function noise(args: string[], files: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await main(['noise', ...args], {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    readFile: (p) => {
      if (!(p in files)) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      return files[p];
    },
    readStdin: () => files['-'] ?? '',
  });
  return { code, stdout, stderr };
}

function maxDifference(a: number[], b: number[]): number {
  assert.strictEqual(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

describe('sd-prompt noise', () => {
  const cases = readFixture<{ cases: NoiseCase[] }>('noise/a1111_noise_cases.json').cases;

  for (const c of cases) {
    it(`matches A1111's noise within 1e-4: ${c.name}`, async () => {
      const r = await noise(['--json', '--draws', String(c.draws - 1), 'case.prompt'], { 'case.prompt': c.prompt });
      assert.strictEqual(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as NoiseJson;
      assert.deepStrictEqual(out.shape, c.shape);
      assert.deepStrictEqual(out.rng, /RNG: (\w+)/.exec(c.prompt)?.[1] ?? 'GPU');
      assert.deepStrictEqual(out.images.map((i) => i.seed), c.seeds);
      for (const [i, image] of c.images.entries()) {
        assert.strictEqual(out.images[i].draws.length, image.length);
        for (const [k, draw] of image.entries()) {
          const diff = maxDifference(out.images[i].draws[k], draw);
          assert.ok(diff < 1e-4, `image ${i} draw ${k}: differs by ${diff}`);
        }
      }
    });
  }

  const byName = (name: string) => cases.find((c) => c.name === name)!;
  const run = async (prompt: string, draws = 0) => JSON.parse((await noise(['--json', '--draws', String(draws), 'f.prompt'], { 'f.prompt': prompt })).stdout) as NoiseJson;

  it('a batch: seeds count up and each image is the image its seed gives alone', async () => {
    const batch = byName('nv_batch2');
    const alone = await run(batch.prompt.replace('Seed: 500', 'Seed: 501').replace(', Batch size: 2', ''), 1);
    assert.deepStrictEqual(alone.images.map((i) => i.seed), [501]);
    assert.ok(maxDifference(alone.images[0].draws[0], batch.images[1][0]) < 1e-4);
    assert.ok(maxDifference(alone.images[0].draws[1], batch.images[1][1]) < 1e-4);
    // Batch count multiplies the images, seeds going on counting.
    const counted = await run(batch.prompt.replace('Batch size: 2', 'Batch size: 2, Batch count: 2'));
    assert.deepStrictEqual(counted.images.map((i) => i.seed), [500, 501, 502, 503]);
  });

  it('a variation strength of 0.6 moves the noise away from the seed, toward the variation seed; strength 0 and 1 give the two seeds', async () => {
    const variation = byName('cpu_variation');
    const own = await run(variation.prompt.replace('Variation seed strength: 0.6', 'Variation seed strength: 0'));
    const other = await run(variation.prompt.replace('Seed: 8', 'Seed: 3').replace(', Variation seed: 3, Variation seed strength: 0.6', ''));
    const full = await run(variation.prompt.replace('Variation seed strength: 0.6', 'Variation seed strength: 1'));
    assert.ok(maxDifference(full.images[0].draws[0], other.images[0].draws[0]) < 1e-5);
    assert.ok(maxDifference(own.images[0].draws[0], variation.images[0][0]) > 0.5);
    assert.ok(maxDifference(other.images[0].draws[0], variation.images[0][0]) > 0.5);
    // With a strength the batch keeps the seed; the variation seeds count up.
    const batch = await run(variation.prompt.replace('RNG: CPU', 'Batch size: 2, RNG: CPU'));
    assert.deepStrictEqual(batch.images.map((i) => i.seed), [8, 8]);
    assert.ok(maxDifference(batch.images[0].draws[0], batch.images[1].draws[0]) > 0.5);
  });

  it('seed resize pastes the smaller noise in the middle: outside it the seed\'s own noise', async () => {
    const resized = byName('cpu_resize_down');
    const plain = await run(resized.prompt.replace(', Seed resize from: 64x96', ''));
    const [c, h, w] = resized.shape;
    const at = (d: number[], ch: number, y: number, x: number) => d[(ch * h + y) * w + x];
    // From 64x96 (8 wide, 12 high) into 16x16: columns 4..11, rows 2..13 come from the small noise.
    const small = await run(resized.prompt.replace('Size: 128x128', 'Size: 64x96').replace(', Seed resize from: 64x96', ''));
    const smallAt = (ch: number, y: number, x: number) => small.images[0].draws[0][(ch * 12 + y) * 8 + x];
    for (let ch = 0; ch < c; ch++) {
      assert.ok(Math.abs(at(plain.images[0].draws[0], ch, 0, 0) - at(resized.images[0][0], ch, 0, 0)) < 1e-4);
      for (const [y, x] of [[2, 4], [13, 11], [7, 9]]) {
        assert.ok(Math.abs(smallAt(ch, y - 2, x - 4) - at(resized.images[0][0], ch, y, x)) < 1e-4, `channel ${ch} (${y}, ${x})`);
        assert.ok(Math.abs(at(plain.images[0].draws[0], ch, y, x) - at(resized.images[0][0], ch, y, x)) > 1e-3);
      }
      assert.ok(Math.abs(at(plain.images[0].draws[0], ch, 1, 3) - at(resized.images[0][0], ch, 1, 3)) < 1e-4);
      assert.ok(Math.abs(at(plain.images[0].draws[0], ch, 14, 12) - at(resized.images[0][0], ch, 14, 12)) < 1e-4);
    }
  });

  it('ENSD: the draws after the first come from seed + delta, the first does not change', async () => {
    const ensd = byName('nv_ensd');
    const without = await run(ensd.prompt.replace(', ENSD: 31337', ''), 2);
    const shifted = await run(ensd.prompt.replace('Seed: 1234', 'Seed: 32571').replace(', ENSD: 31337', ''), 1);
    assert.ok(maxDifference(without.images[0].draws[0], ensd.images[0][0]) < 1e-4);
    assert.ok(maxDifference(without.images[0].draws[1], ensd.images[0][1]) > 0.5);
    // Seed 1234 + 31337: its generator's first draw is the first ancestral draw.
    assert.ok(maxDifference(shifted.images[0].draws[0], ensd.images[0][1]) < 1e-4);
    // The long key spelling A1111's settings use reads the same.
    const longKey = await run(ensd.prompt.replace('ENSD: 31337', 'Eta noise seed delta: 31337'), 1);
    assert.ok(maxDifference(longKey.images[0].draws[1], ensd.images[0][1]) < 1e-4);
  });

  it('RNG comes from --rng (the setting) when the file has none; the file\'s RNG wins', async () => {
    const cpu = byName('cpu_128_s42');
    const withoutRng = cpu.prompt.replace(', RNG: CPU', '');
    const fromOption = JSON.parse((await noise(['--json', '--rng', 'CPU', 'f.prompt'], { 'f.prompt': withoutRng })).stdout) as NoiseJson;
    assert.strictEqual(fromOption.rng, 'CPU');
    assert.ok(maxDifference(fromOption.images[0].draws[0], cpu.images[0][0]) < 1e-4);
    const fileWins = JSON.parse((await noise(['--json', '--rng', 'NV', 'f.prompt'], { 'f.prompt': cpu.prompt })).stdout) as NoiseJson;
    assert.strictEqual(fileWins.rng, 'CPU');
  });

  it('Seed -1 reports the random seed it used, and that seed gives the same noise', async () => {
    const random = await run('a cat\nSteps: 20, Seed: -1, Size: 64x64, RNG: NV');
    const seed = random.images[0].seed;
    assert.ok(Number.isInteger(seed) && seed >= 0 && seed < 4294967294);
    const again = await run(`a cat\nSteps: 20, Seed: ${seed}, Size: 64x64, RNG: NV`);
    assert.deepStrictEqual(again.images[0].draws[0], random.images[0].draws[0]);
  });

  it('without --json: a short summary per image and draw', async () => {
    const r = await noise(['--draws', '1', 'f.prompt'], { 'f.prompt': byName('nv_128_s42').prompt });
    assert.strictEqual(r.code, 0);
    const lines = r.stdout.trimEnd().split('\n');
    assert.deepStrictEqual(lines.slice(0, 2), ['RNG NV, latent 4x16x16 (128x128), 1 image', 'seed 42:']);
    assert.match(lines[2], /^ {2}initial noise +mean -?0\.\d{4}, std (0\.9|1\.0)\d{3}, first -?\d\.\d{4} -?\d\.\d{4} -?\d\.\d{4} -?\d\.\d{4}$/);
    assert.match(lines[3], /^ {2}draw 1 +mean /);
    assert.strictEqual(lines.length, 4);
  });

  it('bad input: a clear message and exit 2', async () => {
    const expect = async (args: string[], files: Record<string, string>, message: RegExp) => {
      const r = await noise(args, files);
      assert.strictEqual(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.strictEqual(r.stdout, '');
    };
    await expect(['missing.prompt'], {}, /cannot read missing.prompt: no such file/);
    await expect([], {}, /noise needs a FILE.prompt/);
    await expect(['--draws', 'x', 'f.prompt'], { 'f.prompt': 'a' }, /--draws takes a whole number from 0 to 1000, not 'x'/);
    await expect(['--draws', '-1', 'f.prompt'], { 'f.prompt': 'a' }, /--draws takes a whole number/);
    await expect(['--draws', '1001', 'f.prompt'], { 'f.prompt': 'a' }, /--draws takes a whole number/);
    await expect(['--rng', 'TPU', 'f.prompt'], { 'f.prompt': 'a' }, /--rng takes one of GPU, CPU, NV, not 'TPU'/);
    await expect(['f.prompt'], { 'f.prompt': 'a cat\nSteps: 20, Seed: 1, RNG: TPU' }, /line 2, column 26: RNG: 'TPU' is not one of GPU, CPU, NV/);
    await expect(['f.prompt'], { 'f.prompt': 'a cat\nSteps: 20, Seed: 1, Variation seed strength: lots' }, /line 2, column 46: Variation seed strength: 'lots' is not a number/);
    await expect(['f.prompt'], { 'f.prompt': 'a cat\nSteps: 20, Seed: 1, Seed resize from: 64by96' }, /Seed resize from: '64by96' is not WIDTHxHEIGHT/);
    await expect(['f.prompt'], { 'f.prompt': 'a cat\nSteps: 20, ENSD: 3.5' }, /ENSD: '3.5' is not a whole number/);
    await expect(['f.prompt'], { 'f.prompt': 'a cat\nSteps: 20, Batch size: 0' }, /Batch size: '0' must be 1 or more/);
    await expect(['f.prompt'], { 'f.prompt': 'a cat\nSteps: 20, Size: 100x100' }, /Size 100x100 must be a positive multiple of 8/);
  });
});
