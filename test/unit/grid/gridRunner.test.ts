import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { RenderHost } from '../../../server/src/render/renderHost';
import { readPngInfo } from '../../../server/src/render/pipeline/png';
import { generateTinyPipeline, TINY_SD15 } from '../../../server/src/render/testModel/generateModel';
import { GridCellOutcome, runGrid } from '../../../server/src/render/grid/gridRunner';
import { backendCellRenderer, localCellRenderer } from '../../../server/src/render/grid/gridCellRenderers';
import { SwarmBackend } from '../../../server/src/render/backends/swarmui';
import { A1111Backend } from '../../../server/src/render/backends/a1111';
import type { GridCellPlan, GridPlan } from '../../../server/src/service/xyz/gridTypes';
import { FIXTURES } from '../fixtures';
import { tinyKohyaLora, writeSafetensors } from '../render/loraFiles';
import { startSwarmServer, SwarmServer } from '../backends/servers/swarmServer';
import { startA1111Server } from '../backends/servers/a1111Server';

const WORKER = path.resolve(__dirname, '../../../server/src/render/worker.js');

/**
 * A plan as the planner makes one (X: Seed, Y: Prompt S/R over the LoRA weight), built here so the runner is
 * tested on its own: Y outer, X inner, as A1111 runs its cells.
 */
function seedByWeightPlan(seeds: number[], weights: string[]): GridPlan {
  const cells: GridCellPlan[] = [];
  weights.forEach((w, y) =>
    seeds.forEach((seed, x) =>
      cells.push({ x, y, z: 0, promptText: `a cat <lora:style:${w}>\nNegative prompt: ugly\nSteps: 2, Sampler: Euler a, CFG scale: 7, Seed: ${seed}, Size: 64x64` }),
    ),
  );
  return {
    x: { type: 'Seed', values: seeds.map(String), labels: seeds.map((s) => `Seed: ${s}`) },
    y: { type: 'Prompt S/R', values: weights, labels: weights },
    cells,
  };
}

/** The image rows of a PNG (its IDAT data inflated), without its text chunks: what the user sees. */
function pixels(png: Uint8Array): string {
  const bytes = Buffer.from(png);
  const idat: Buffer[] = [];
  for (let at = 8; at < bytes.length; ) {
    const length = bytes.readUInt32BE(at);
    if (bytes.toString('latin1', at + 4, at + 8) === 'IDAT') idat.push(bytes.subarray(at + 8, at + 8 + length));
    at += 12 + length;
  }
  return zlib.inflateSync(Buffer.concat(idat)).toString('base64');
}

describe('X/Y/Z grid runner', function () {
  this.timeout(120000);
  let root: string;
  let model: string;
  let lora: string;
  let host: RenderHost;

  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-grid-'));
    model = path.join(root, 'model');
    fs.mkdirSync(model);
    generateTinyPipeline(model, { ...TINY_SD15, tokenizerFrom: path.join(FIXTURES, 'clip') });
    lora = path.join(root, 'style.safetensors');
    writeSafetensors(lora, tinyKohyaLora());
  });
  beforeEach(() => {
    host = new RenderHost(WORKER);
  });
  afterEach(async () => {
    await host.dispose();
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  /** Sessions kept between cells for the whole test (0 would release them after each cell, racing the next request). */
  const KEEP = 10 * 60_000;
  /** The cell's LoRA weight, read back from its tag as the CLI's and the panel's resolvers do. */
  const lorasOf = (cell: GridCellPlan) => {
    const w = Number(/<lora:style:([^>]+)>/.exec(cell.promptText)![1]);
    return [{ name: 'style', path: lora, te: w, unet: w }];
  };
  const local = (modelOf: (cell: GridCellPlan) => string = () => model) =>
    localCellRenderer({ host, request: { device: 'cpu', idleReleaseMs: KEEP }, model: modelOf, loras: lorasOf });

  it('a 3x2 grid: every cell is byte for byte the single render of its settings; a weight-only change re-merges into the kept sessions', async () => {
    const plan = seedByWeightPlan([1, 2, 3], ['1', '-3']);
    const seen: number[] = [];
    const run = await runGrid(plan, local(), { onCell: (o) => seen.push(o.index) });
    assert.deepStrictEqual(seen, [0, 1, 2, 3, 4, 5], 'cells finish in plan order, one at a time');
    assert.deepStrictEqual([run.missing, run.cancelled, run.done.map((o) => o.error)], [[], false, Array(6).fill(undefined)]);
    const results = run.done.map((o) => o.result!);
    assert.deepStrictEqual(results.map((r) => [r.seed, r.width, r.height]), [[1, 64, 64], [2, 64, 64], [3, 64, 64], [1, 64, 64], [2, 64, 64], [3, 64, 64]]);
    assert.deepStrictEqual(results.map((r) => /<lora:style:([^>]+)>/.exec(readPngInfo(r.png).text.parameters)![1]), ['1', '1', '1', '-3', '-3', '-3'], 'each cell carries its own infotext');
    // The first cell loads; a new seed loads nothing; the weight change (cell 3) rebuilds only what the LoRA touches.
    assert.ok(results[0].timings!.load > 0);
    assert.deepStrictEqual(results.map((r, i) => (i === 3 ? 'weight' : r.timings!.load)), [results[0].timings!.load, 0, 0, 'weight', 0, 0]);
    assert.deepStrictEqual(results[3].reused, ['vae_decoder/model.onnx'], 'the VAE is kept; the text encoder and UNet re-merge');
    // Single renders of the same settings on a fresh engine give the same bytes.
    const single = new RenderHost(WORKER);
    try {
      for (const [i, cell] of plan.cells.entries()) {
        const alone = await single.render({ promptText: cell.promptText, model, device: 'cpu', loras: lorasOf(cell), idleReleaseMs: 0 });
        assert.strictEqual(pixels(results[i].png), pixels(new Uint8Array(alone.png)), `cell ${i} pixels`);
        assert.deepStrictEqual(Buffer.from(results[i].png), Buffer.from(alone.png), `cell ${i} PNG bytes`);
      }
    } finally {
      await single.dispose();
    }
    // Different seeds and weights do give different images (the comparison above could not pass by accident).
    const all = results.map((r) => pixels(r.png));
    assert.deepStrictEqual(all.map((p) => all.indexOf(p)), [0, 1, 2, 3, 4, 5]);
  });

  it('cancel during the third cell keeps the two finished, leaves the rest missing, and renders nothing more', async () => {
    const plan = seedByWeightPlan([1, 2, 3], ['0.8', '0.2']);
    plan.cells = plan.cells.map((c) => ({ ...c, promptText: c.promptText.replace('Steps: 2', 'Steps: 20') }));
    const abort = new AbortController();
    const finished: number[] = [];
    const started = new Set<string>();
    const renderCell = localCellRenderer({
      host,
      request: { device: 'cpu', idleReleaseMs: KEEP },
      model: () => model,
      loras: lorasOf,
      onProgress: (p) => {
        started.add(`${p.cell.x},${p.cell.y}`);
        if (p.cell.x === 2 && p.step === 2) abort.abort();
      },
    });
    const run = await runGrid(plan, renderCell, { signal: abort.signal, onCell: (o) => finished.push(o.index) });
    assert.deepStrictEqual(finished, [0, 1]);
    assert.deepStrictEqual(run.done.map((o) => [o.index, o.result?.seed]), [[0, 1], [1, 2]]);
    assert.deepStrictEqual([run.missing, run.cancelled], [[2, 3, 4, 5], true]);
    assert.deepStrictEqual([...started], ['0,0', '1,0', '2,0'], 'no cell started after the cancel');
    // The engine is free again: the next render on the same host runs whole.
    const next = await host.render({ promptText: plan.cells[3].promptText.replace('Steps: 20', 'Steps: 1'), model, device: 'cpu', loras: lorasOf(plan.cells[3]) });
    assert.strictEqual(next.steps, 1);
  });

  it('a cancel before the run starts renders nothing; one after the last cell leaves the grid whole', async () => {
    const plan = seedByWeightPlan([1], ['0.5']);
    const early = await runGrid(plan, local(), { signal: AbortSignal.abort() });
    assert.deepStrictEqual([early.done, early.missing, early.cancelled], [[], [0], true]);
    const abort = new AbortController();
    const late = await runGrid(plan, local(), { signal: abort.signal, onCell: () => abort.abort() });
    assert.deepStrictEqual([late.done.length, late.missing, late.cancelled], [1, [], false]);
  });

  it('a failed cell is recorded with the engine\'s message and the grid goes on', async () => {
    const plan = seedByWeightPlan([1, 2], ['0.8']);
    plan.cells[0] = { ...plan.cells[0], checkpoint: 'gone' };
    const run = await runGrid(plan, local((cell) => (cell.checkpoint ? path.join(root, cell.checkpoint) : model)));
    assert.strictEqual(run.done.length, 2);
    assert.match(run.done[0].error!, /gone is not a folder/);
    assert.strictEqual(run.done[0].result, undefined);
    assert.deepStrictEqual([run.done[1].error, run.done[1].result?.seed, run.missing], [undefined, 2, []]);
  });

  describe('on a webui', () => {
    let swarm: SwarmServer | undefined;
    afterEach(async () => {
      await swarm?.close();
      swarm = undefined;
    });

    it('SwarmUI gets all six cells at once (so it spreads them over its backends); cancel interrupts them and keeps none half-done', async () => {
      // The server holds every generation at its first step: cells sent one at a time would stop at one request.
      swarm = await startSwarmServer({ holdAtStep: 1, loras: ['style.safetensors'] });
      const plan = seedByWeightPlan([1, 2, 3], ['0.8', '0.2']);
      const abort = new AbortController();
      const atStep1 = new Set<number>();
      const { renderCell, concurrency } = backendCellRenderer(new SwarmBackend({ url: swarm.url }), plan.cells.length, {
        onProgress: (p) => {
          atStep1.add(plan.cells.indexOf(p.cell));
          if (atStep1.size === 6) abort.abort();
        },
      });
      assert.strictEqual(concurrency, 6);
      const run = await runGrid(plan, renderCell, { signal: abort.signal, concurrency });
      assert.strictEqual(swarm.requests.length, 6, 'six generations open on the server at the same time');
      assert.deepStrictEqual(swarm.requests.map((r) => r.seed).sort(), [1, 1, 2, 2, 3, 3]);
      assert.deepStrictEqual([run.done, run.missing, run.cancelled], [[], [0, 1, 2, 3, 4, 5], true]);
      assert.ok(swarm.interrupts.length >= 1, 'the server was told to stop');
    });

    it('SwarmUI cells come back each with its own PNG; A1111 renders them one at a time', async () => {
      swarm = await startSwarmServer({ loras: ['style.safetensors'] });
      const plan = seedByWeightPlan([5, 6], ['0.8']);
      const swarmCells = backendCellRenderer(new SwarmBackend({ url: swarm.url }), plan.cells.length);
      const run = await runGrid(plan, swarmCells.renderCell, { concurrency: swarmCells.concurrency });
      assert.deepStrictEqual(run.done.map((o: GridCellOutcome) => [o.index, o.result?.seed, /Seed: (\d+)/.exec(o.result!.infotext)?.[1]]), [[0, 5, '5'], [1, 6, '6']]);
      const a1111 = await startA1111Server({ loras: [{ name: 'style', alias: 'style', path: '/models/Lora/style.safetensors' }] });
      try {
        const one = backendCellRenderer(new A1111Backend({ url: a1111.url }), plan.cells.length);
        assert.strictEqual(one.concurrency, 1);
        const r = await runGrid(plan, one.renderCell, { concurrency: one.concurrency });
        assert.deepStrictEqual(r.done.map((o) => o.result?.seed), [5, 6]);
      } finally {
        await a1111.close();
      }
    });
  });
});
