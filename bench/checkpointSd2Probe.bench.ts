/**
 * What A1111's SD2 v-prediction probe costs at the first load of an SD2-sized checkpoint, and what a second load
 * (its answer cached) costs (`node out/bench/checkpointSd2Probe.bench.js`): loadCheckpoint without the probe
 * (ComfyUI's weight reading) as the baseline in the same run, then with it cold and cached; peak RSS (VmHWM).
 * The SD2-sized fp16 file (~2.6 GB) is generated into a temporary folder and deleted. Printed, never asserted.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadCheckpoint } from '../server/src/render/checkpoint/loadCheckpoint';
import { sd2ProbeUnetRuns } from '../server/src/render/checkpoint/sd2PredictionProbe';
import { SD21_ARCHITECTURE, writeCheckpoint } from '../server/src/render/testModel/generateCheckpoint';

const seconds = (from: bigint) => (Number(process.hrtime.bigint() - from) / 1e9).toFixed(2);
const gib = (bytes: number) => (bytes / 2 ** 30).toFixed(2);

function peakRss(): number {
  const m = fs.readFileSync('/proc/self/status', 'utf8').match(/VmHWM:\s+(\d+) kB/);
  return m ? Number(m[1]) * 1024 : process.memoryUsage().rss;
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-sd2-probe-bench-'));
  try {
    const file = path.join(root, 'sd21-sized-fp16.safetensors');
    let t = process.hrtime.bigint();
    writeCheckpoint(file, { architecture: SD21_ARCHITECTURE, dtype: 'F16', seed: 1 });
    console.log(`generated ${gib(fs.statSync(file).size)} GiB in ${seconds(t)} s`);
    const cacheRoot = path.join(root, 'cache');
    t = process.hrtime.bigint();
    const weights = await loadCheckpoint(file, { sd2Probe: false, cacheRoot });
    console.log(`load without the probe (weights: ${weights.architecture.prediction}): ${seconds(t)} s; peak RSS ${gib(peakRss())} GiB`);
    t = process.hrtime.bigint();
    const cold = await loadCheckpoint(file, { cacheRoot });
    console.log(`load with the probe, first time (${cold.architecture.prediction}, UNet runs ${sd2ProbeUnetRuns()}): ${seconds(t)} s; peak RSS ${gib(peakRss())} GiB`);
    t = process.hrtime.bigint();
    const warm = await loadCheckpoint(file, { cacheRoot });
    console.log(`load with the probe's answer cached (${warm.architecture.prediction}, UNet runs ${sd2ProbeUnetRuns()}): ${seconds(t)} s`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
