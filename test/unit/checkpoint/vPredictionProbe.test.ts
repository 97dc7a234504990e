import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { loadCheckpoint } from '../../../server/src/render/checkpoint/loadCheckpoint';
import { SD2_V_PREDICTION_PROBE } from '../../../server/src/render/checkpoint/prediction';
import { probeSd2Prediction, sd2ProbeUnetRuns } from '../../../server/src/render/checkpoint/sd2PredictionProbe';
import { openCheckpointModel } from '../../../server/src/render/model/checkpointModel';
import { floatToHalf } from '../../../server/src/render/onnx/half';
import { halfToNumber } from '../../../server/src/service/library/safetensors';
import { SdArchitecture } from '../../../server/src/render/sdGraphs/architecture';
import { TINY_SD2_ARCHITECTURE, writeCheckpoint } from '../../../server/src/render/testModel/generateCheckpoint';
import { useTempFolder } from './tempFolder';

/**
 * A1111's SD2 v-prediction test (sd_models_config.is_using_v_parameterization_for_sd2) run on the checkpoint's own
 * UNet: x = 0.5, t = 999, context = 0.5, v when mean(unet − x) < −1.
 *
 * How a tiny SD2 file is made to answer each way: the UNet's last layer is `out.2` (a 3×3 conv) whose bias is
 * added to every output value of its channel, so setting all four bias values to b moves mean(unet − x) by exactly
 * b − (their old mean). A generated file answers near 0 (eps, as released 512-base models do); the same file with
 * the bias at −2 answers near −2 (v, as 768-v models, whose output at t = 999 is about −x0, do).
 */
describe('SD2 v-prediction probe (A1111)', function () {
  this.timeout(60000);
  const root = useTempFolder('sd-vpred-probe-');
  const OUT_BIAS = 'model.diffusion_model.out.2.bias';

  function generate(name: string, architecture: SdArchitecture = TINY_SD2_ARCHITECTURE): string {
    const file = path.join(root(), `${name}.safetensors`);
    writeCheckpoint(file, { architecture, dtype: 'F16', seed: 7 });
    return file;
  }

  /** The byte range of an F16 tensor in a safetensors file. */
  function tensorRange(file: string, key: string): { start: number; count: number } {
    const data = fs.readFileSync(file);
    const headerLength = Number(data.readBigUInt64LE(0));
    const header = JSON.parse(data.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
    const entry = header[key];
    assert.strictEqual(entry.dtype, 'F16');
    return { start: 8 + headerLength + entry.data_offsets[0], count: (entry.data_offsets[1] - entry.data_offsets[0]) / 2 };
  }

  function readHalfs(file: string, key: string): number[] {
    const { start, count } = tensorRange(file, key);
    const data = fs.readFileSync(file);
    return Array.from({ length: count }, (_, i) => halfToNumber(data.readUInt16LE(start + 2 * i)));
  }

  /** Overwrites every value of an F16 tensor with `value`, in place (the header is untouched). */
  function fillHalfs(file: string, key: string, value: number): void {
    const { start, count } = tensorRange(file, key);
    const fd = fs.openSync(file, 'r+');
    try {
      const bytes = Buffer.alloc(2 * count);
      for (let i = 0; i < count; i++) bytes.writeUInt16LE(floatToHalf(value), 2 * i);
      fs.writeSync(fd, bytes, 0, bytes.length, start);
    } finally {
      fs.closeSync(fd);
    }
  }

  const cache = (name: string) => path.join(root(), `cache-${name}`);

  it('compares mean(out − x) with −1 as A1111 does (strictly below is v)', () => {
    assert.strictEqual(SD2_V_PREDICTION_PROBE.meanOffset([-0.5, -0.5]), -1);
    assert.strictEqual(SD2_V_PREDICTION_PROBE.isV([-0.5, -0.5]), false);
    assert.strictEqual(SD2_V_PREDICTION_PROBE.isV([-0.5, -0.51]), true);
    assert.strictEqual(SD2_V_PREDICTION_PROBE.isV([0.5, 0.5]), false);
  });

  it('decides eps for a UNet whose output sits near x, and v once its output bias pulls the mean below −1', async () => {
    const file = generate('eps');
    const eps = await probeSd2Prediction(file, TINY_SD2_ARCHITECTURE, (await loadCheckpoint(file, { sd2Probe: false })).weights, { cacheRoot: cache('direct') });
    assert.strictEqual(eps.prediction, 'epsilon');
    assert.ok(eps.meanOffset > -1 && eps.meanOffset < 1, `eps mean(out − x) ${eps.meanOffset}`);

    const oldBias = readHalfs(file, OUT_BIAS);
    assert.strictEqual(oldBias.length, 4);
    fillHalfs(file, OUT_BIAS, -2);
    const v = await probeSd2Prediction(file, TINY_SD2_ARCHITECTURE, (await loadCheckpoint(file, { sd2Probe: false })).weights, { cacheRoot: cache('direct') });
    assert.strictEqual(v.prediction, 'v_prediction');
    assert.strictEqual(v.cached, false, 'the edited file is probed again, not answered from the cache');
    // The bias is added after everything else: the probe's number moves by exactly the bias change.
    const shift = -2 - oldBias.reduce((a, b) => a + b, 0) / 4;
    assert.ok(Math.abs(v.meanOffset - eps.meanOffset - shift) < 1e-5, `moved by ${v.meanOffset - eps.meanOffset}, expected ${shift}`);
  });

  it('is what loadCheckpoint decides by, over ComfyUI\'s weight reading, when no sidecar config decides', async () => {
    // Wide norm1 bias spread (ComfyUI: v) with an output near x (A1111: eps): A1111's answer wins.
    const file = generate('comfy-says-v', { ...TINY_SD2_ARCHITECTURE, prediction: 'v_prediction' });
    const probed = await loadCheckpoint(file, { cacheRoot: cache('load') });
    assert.deepStrictEqual([probed.architecture.prediction, probed.predictionSource], ['epsilon', 'probe']);
    const weightsOnly = await loadCheckpoint(file, { sd2Probe: false, cacheRoot: cache('load') });
    assert.deepStrictEqual([weightsOnly.architecture.prediction, weightsOnly.predictionSource], ['v_prediction', 'weights']);

    const v = generate('probe-says-v');
    fillHalfs(v, OUT_BIAS, -2);
    const loaded = await loadCheckpoint(v, { cacheRoot: cache('load') });
    assert.deepStrictEqual([loaded.architecture.prediction, loaded.predictionSource], ['v_prediction', 'probe']);
  });

  it('gives the render its answer: the checkpoint model\'s scheduler predicts v, and the answer lies in the render\'s cache folder', async () => {
    const file = generate('render-v');
    fillHalfs(file, OUT_BIAS, -2);
    const folder = cache('render');
    const model = await openCheckpointModel(file, { cacheRoot: folder });
    assert.strictEqual(model.schedulerConfig.prediction_type, 'v_prediction');
    assert.strictEqual(fs.readdirSync(folder).filter((e) => e.startsWith('sd2-prediction-')).length, 1);
  });

  it('lets a sidecar <name>.yaml decide without running the UNet', async () => {
    const file = generate('sidecar');
    fillHalfs(file, OUT_BIAS, -2);
    fs.writeFileSync(file.replace(/\.safetensors$/, '.yaml'), 'model:\n  params:\n    parameterization: "eps"\n');
    const before = sd2ProbeUnetRuns();
    const loaded = await loadCheckpoint(file, { cacheRoot: cache('sidecar') });
    assert.deepStrictEqual([loaded.architecture.prediction, loaded.predictionSource], ['epsilon', 'sidecar']);
    assert.strictEqual(sd2ProbeUnetRuns(), before);
    assert.strictEqual(fs.existsSync(cache('sidecar')), false, 'nothing written to the cache');
  });

  it('keeps its answer in the cache folder: a second load runs no UNet, and leaves no graphs behind', async () => {
    const file = generate('cached');
    fillHalfs(file, OUT_BIAS, -2);
    const folder = cache('cached');
    const before = sd2ProbeUnetRuns();
    const first = await loadCheckpoint(file, { cacheRoot: folder });
    assert.strictEqual(sd2ProbeUnetRuns(), before + 1);
    const second = await loadCheckpoint(file, { cacheRoot: folder });
    assert.strictEqual(sd2ProbeUnetRuns(), before + 1);
    assert.deepStrictEqual([first.architecture.prediction, second.architecture.prediction, second.predictionSource], ['v_prediction', 'v_prediction', 'probe']);
    const entries = fs.readdirSync(folder);
    assert.strictEqual(entries.length, 1, `one answer file, got ${entries.join(', ')}`);
    assert.match(entries[0], /^sd2-prediction-[0-9a-f]{20}\.json$/);
    // The file edited back to eps is a new file to the cache: probed again.
    fillHalfs(file, OUT_BIAS, 0);
    const third = await loadCheckpoint(file, { cacheRoot: folder });
    assert.strictEqual(sd2ProbeUnetRuns(), before + 2);
    assert.strictEqual(third.architecture.prediction, 'epsilon');
  });
});
