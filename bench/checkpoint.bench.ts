/**
 * What reading an A1111 single-file checkpoint costs, on the SD1.5-sized fp16 checkpoint the generator writes
 * (~2.1 GB; `node out/bench/checkpoint.bench.js`):
 * - writing it (the generator streams: peak RSS must stay far below the file's size);
 * - loadCheckpoint (header, family, architecture, every weight validated; no tensor data read but one 320-value
 *   bias for SD2), median of several runs;
 * - A1111's short hash (sha256 of the whole file) against a plain streamed read of the same file in the same
 *   run (the baseline: what the disk and page cache allow), and the legacy 64 KiB hash.
 * Printed, never asserted.
 *   CHECKPOINT_BENCH_FILE  use (and keep) this file instead of a temporary one; written when missing
 *   CHECKPOINT_BENCH_RUNS  loadCheckpoint runs (default 5)
 */
import { createReadStream } from 'fs';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { a1111ShortHash, legacyModelHash } from '../server/src/render/checkpoint/checkpointHashes';
import { loadCheckpoint } from '../server/src/render/checkpoint/loadCheckpoint';
import { SD15_ARCHITECTURE, writeCheckpoint } from '../server/src/render/testModel/generateCheckpoint';

const ms = (from: bigint) => Number(process.hrtime.bigint() - from) / 1e6;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mb = (bytes: number) => (bytes / 1e6).toFixed(0);
const peakRssMb = () => (process.resourceUsage().maxRSS / 1024).toFixed(0);

async function plainRead(file: string): Promise<number> {
  let bytes = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * 1024 * 1024 })) bytes += (chunk as Buffer).length;
  return bytes;
}

async function main(): Promise<void> {
  const keep = process.env.CHECKPOINT_BENCH_FILE;
  const folder = keep ? undefined : fs.mkdtempSync(path.join(os.tmpdir(), 'sd-ckpt-bench-'));
  const file = keep ?? path.join(folder as string, 'sd15-sized-fp16.safetensors');
  const runs = Number(process.env.CHECKPOINT_BENCH_RUNS ?? 5);
  try {
    if (!fs.existsSync(file)) {
      const t = process.hrtime.bigint();
      const { bytes, tensors } = writeCheckpoint(file, { architecture: SD15_ARCHITECTURE, dtype: 'F16', seed: 1, extras: true });
      const took = ms(t);
      console.log(`write SD1.5-sized fp16: ${mb(bytes)} MB, ${tensors} tensors in ${(took / 1000).toFixed(1)} s (${mb((bytes / took) * 1000)} MB/s), peak RSS ${peakRssMb()} MB`);
    }
    const size = fs.statSync(file).size;
    const loads: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = process.hrtime.bigint();
      const loaded = await loadCheckpoint(file);
      loads.push(ms(t));
      if (i === 0) console.log(`loadCheckpoint: ${loaded.architecture.family}, ${loaded.weights.table.length} weights, dtypes ${JSON.stringify(loaded.dtypes)}`);
    }
    console.log(`loadCheckpoint: first ${loads[0].toFixed(1)} ms, median ${median(loads).toFixed(1)} ms over ${runs}`);
    // Alternate hash and plain read twice so neither gets the only warm page cache.
    for (let round = 0; round < 2; round++) {
      let t = process.hrtime.bigint();
      await plainRead(file);
      const read = ms(t);
      t = process.hrtime.bigint();
      const hash = await a1111ShortHash(file);
      const hashed = ms(t);
      console.log(
        `round ${round + 1}: plain read ${(read / 1000).toFixed(2)} s (${mb((size / read) * 1000)} MB/s), short hash ${hash} ${(hashed / 1000).toFixed(2)} s (${mb((size / hashed) * 1000)} MB/s), ratio ${(hashed / read).toFixed(2)}×`,
      );
    }
    const t = process.hrtime.bigint();
    const legacy = await legacyModelHash(file);
    console.log(`legacy model hash ${legacy}: ${ms(t).toFixed(2)} ms; peak RSS ${peakRssMb()} MB`);
  } finally {
    if (folder) fs.rmSync(folder, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
