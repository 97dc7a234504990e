import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { computeAll, mergeIntoGraph } from '../../../server/src/render/merge/merge';
import { MergeKernel } from '../../../server/src/render/merge/mergeKernel';
import { ProductPool } from '../../../server/src/render/merge/productPool';
import { DeltaCache } from '../../../server/src/render/merge/deltaCache';
import { generateTinyPipeline, TINY_SD15 } from '../../../server/src/render/testModel/generateModel';
import { random, readLoraModules, writeSafetensors } from './loraFiles';

describe('ProductPool: LoRA products on helper threads', function () {
  this.timeout(60000);
  let root: string;
  const inline = new MergeKernel(ort);
  before(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-product-pool-'))));
  after(async () => {
    await inline.release();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it("computes the same products as the caller's thread, many at once, and leaves the factors usable", async () => {
    const pool = ProductPool.start(2, 1)!;
    assert.ok(pool, 'productWorker.js is built beside productPool.js');
    try {
      const shapes = [
        [16, 4, 32],
        [320, 8, 1280],
        [7, 1, 5],
        [64, 32, 48],
      ];
      const factors = shapes.map(([m, r, n], i) => ({ m, r, n, a: random(m * r, 10 + i), b: random(r * n, 20 + i) }));
      // A view of a larger buffer, as a LoRA's tensors can be: it must survive being sent.
      const backing = random(2 * 8 * 1280, 30);
      factors[1].b = backing.subarray(8 * 1280, 2 * 8 * 1280);
      const [onHelpers, onCaller] = await Promise.all([
        Promise.all(factors.map((f) => pool.product({ ...f, scale: 1, transposed: false }))),
        Promise.all(factors.map((f) => inline.product({ ...f, scale: 1, transposed: false }))),
      ]);
      for (let i = 0; i < factors.length; i++) {
        assert.strictEqual(onHelpers[i].length, factors[i].m * factors[i].n);
        assert.deepStrictEqual(onHelpers[i], onCaller[i], `product ${i}`);
      }
      assert.deepStrictEqual([factors[1].b.length, backing.buffer.byteLength], [8 * 1280, 2 * 8 * 1280 * 4]);
    } finally {
      await pool.close();
    }
  });

  it('computes scale·A·B from the factors as stored, plain or transposed, on helpers and on the caller, without changing them', async () => {
    const pool = ProductPool.start(1, 1)!;
    try {
      const [m, r, n, scale] = [6, 3, 5, 0.25];
      const A = random(m * r, 41);
      const B = random(r * n, 42);
      // The same factors as a transposed product takes them: Aᵀ [r × m] and Bᵀ [n × r].
      const At = Float32Array.from({ length: r * m }, (_, i) => A[(i % m) * r + Math.floor(i / m)]);
      const Bt = Float32Array.from({ length: n * r }, (_, i) => B[(i % r) * n + Math.floor(i / r)]);
      const expected = Array.from({ length: m * n }, (_, i) => {
        let sum = 0;
        for (let k = 0; k < r; k++) sum += scale * A[Math.floor(i / n) * r + k] * B[k * n + (i % n)];
        return sum;
      });
      const plain = { a: A, b: B, m, r, n, scale, transposed: false };
      const transposed = { a: At, b: Bt, m, r, n, scale, transposed: true };
      const before = [A.slice(), B.slice(), At.slice(), Bt.slice()];
      for (const product of [await pool.product(plain), await pool.product(transposed), await inline.product(plain), await inline.product(transposed)]) {
        assert.strictEqual(product.length, m * n);
        product.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-6, `element ${i}: ${v} against ${expected[i]}`));
      }
      assert.deepStrictEqual([A, B, At, Bt], before);
    } finally {
      await pool.close();
    }
  });

  it('a merge through a kernel with helpers writes the same weights as one without, and keeps the same deltas', async () => {
    const model = path.join(root, 'model');
    generateTinyPipeline(model, TINY_SD15);
    const unet = path.join(model, 'unet/model.onnx');
    const file = path.join(root, 'lora.safetensors');
    const module = (name: string, out: number, inputs: number, seed: number) => ({
      [`lora_unet_${name}.lora_down.weight`]: { dims: [4, inputs], data: random(4 * inputs, seed) },
      [`lora_unet_${name}.lora_up.weight`]: { dims: [out, 4], data: random(out * 4, seed + 1) },
    });
    writeSafetensors(file, {
      ...module('down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k', 16, 32, 1),
      ...module('down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q', 16, 16, 3),
      ...module('down_blocks_0_attentions_0_transformer_blocks_0_ff_net_2', 16, 64, 5),
      ...module('down_blocks_0_attentions_0_proj_in', 16, 16, 7),
    });
    const modules = await readLoraModules(file);
    const helped = new MergeKernel(ort, { executionProviders: ['cpu'] }, 'cpu', ProductPool.start(2, 1));
    try {
      assert.strictEqual(helped.helperThreads, 2);
      const merge = async (kernel: MergeKernel, cache: DeltaCache) =>
        computeAll(await mergeIntoGraph(unet, 'unet', [{ name: 'l', modules, te: 1, unet: 0.7 }], { kernel, cache }));
      const [withCache, withoutCache] = [new DeltaCache(), new DeltaCache()];
      const [a, b] = [await merge(helped, withCache), await merge(inline, withoutCache)];
      assert.strictEqual(a.size, 4);
      for (const [name, bytes] of b) assert.ok(Buffer.from(a.get(name)!).equals(Buffer.from(bytes)), name);
      assert.deepStrictEqual([withCache.size, withCache.heldBytes], [withoutCache.size, withoutCache.heldBytes]);
    } finally {
      await helped.release();
    }
  });

  it('a helper that dies fails its jobs with a message, and the kernel computes on its own thread from then on', async () => {
    const dying = path.join(root, 'dying.js');
    fs.writeFileSync(dying, "require('worker_threads').parentPort.on('message', () => process.exit(3));\n");
    const pool = ProductPool.start(1, 1, dying)!;
    const job = () => ({ a: random(4, 1), b: random(4, 2), m: 2, r: 2, n: 2, scale: 1, transposed: false });
    await assert.rejects(pool.product(job()), /a LoRA product thread stopped \(exit code 3\)/);
    assert.ok(pool.failed);
    await assert.rejects(pool.product(job()), /exit code 3/);
    const kernel = new MergeKernel(ort, { executionProviders: ['cpu'] }, 'cpu', ProductPool.start(1, 1, dying));
    try {
      const inputs = { a: random(6, 3), b: random(6, 4), m: 3, r: 2, n: 3, scale: 0.5, transposed: false };
      assert.deepStrictEqual(await kernel.product(inputs), await inline.product(inputs));
      assert.strictEqual(kernel.helperThreads, 0);
    } finally {
      await kernel.release();
      await pool.close();
    }
  });

  it('close() lets the product being computed finish and the helpers stop by themselves; jobs not started are refused', async () => {
    const pool = ProductPool.start(2, 1)!;
    const [m, r, n] = [1500, 32, 1500];
    const outcomes = Array.from({ length: 8 }, (_, i) =>
      pool.product({ a: random(m * r, 50 + i), b: random(r * n, 60 + i), m, r, n, scale: 1, transposed: false }).then(
        () => 'computed',
        (e: Error) => e.message,
      ),
    );
    await pool.close(30_000);
    const settled = await Promise.all(outcomes);
    // Each helper stops on its own (exit code 0; a terminated one reports 1) after the product it was computing.
    for (const outcome of settled) assert.match(outcome, /^(computed|the LoRA product threads were closed|a LoRA product thread stopped \(exit code 0\))$/);
    assert.ok(settled.includes('the LoRA product threads were closed'), settled.join('; '));
    assert.ok(pool.failed);
    await assert.rejects(pool.product({ a: random(4, 1), b: random(4, 2), m: 2, r: 2, n: 2, scale: 1, transposed: false }), /closed/);
  });

  it('without its script there is no pool', () => {
    assert.strictEqual(ProductPool.start(2, 1, path.join(root, 'missing.js')), undefined);
    assert.strictEqual(ProductPool.start(0, 1), undefined);
  });
});
