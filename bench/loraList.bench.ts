/**
 * The Insert LoRA list (`sdPrompt/loraList`) over a large library (issue 13 item 13):
 * `node out/bench/loraList.bench.js`. 10,000 LoRA files in one folder on disk (kohya headers with
 * training metadata, a sidecar `.json` each, a preview for every other: 25,000 names), scanned by
 * the LibraryHost as the server does, then the list as the server answers the request. Each build
 * runs in its own process so its memory is its own; printed: the scan's time, the list's time,
 * RSS after the scan and the peak while listing.
 *   current:  this build.
 *   baseline: another build's out/ folder, given as BASELINE_OUT (e.g. the previous commit built in
 *             a `git worktree`), measured the same way in the same run.
 * Target: the list of all 10,000 in under 1 s and 200 MB. Numbers only; never part of the test run.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { LibraryHost as Host } from '../server/src/libraryHost';
import type { NodeFileSystem as NodeFs } from '../server/src/node/nodeFileSystem';
import type { DEFAULT_SETTINGS as Defaults } from '../server/src/service';
import type { loraPickList as PickList } from '../server/src/service/features/extensionRequests';

const COUNT = Number(process.env.LORA_COUNT ?? 10000);

/** A kohya SD1.5 LoRA header: 96 module pairs and training metadata (~25 KB), the data section left sparse. */
function loraHeader(index: number): Buffer {
  const header: Record<string, unknown> = {
    __metadata__: {
      ss_output_name: `style_${index}`,
      ss_base_model_version: 'sd_v1',
      ss_network_dim: '32',
      ss_network_alpha: '16',
      ss_tag_frequency: JSON.stringify({ img: Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`tag number ${i}`, 60 - i])) }),
    },
  };
  let offset = 0;
  for (let b = 0; b < 96; b++) {
    const base = `lora_unet_down_blocks_${b % 3}_attentions_${b % 2}_transformer_blocks_0_attn${(b % 2) + 1}_to_${'qkv'[b % 3]}_${b}`;
    for (const [suffix, shape] of [['lora_down.weight', [32, 768]], ['lora_up.weight', [320, 32]]] as const) {
      const bytes = shape[0] * shape[1] * 2;
      header[`${base}.${suffix}`] = { dtype: 'F16', shape, data_offsets: [offset, offset + bytes] };
      offset += bytes;
    }
  }
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([prefix, json]);
}

function generate(root: string): void {
  const folder = path.join(root, 'loras');
  fs.mkdirSync(folder);
  for (let i = 0; i < COUNT; i++) {
    const bytes = loraHeader(i);
    const fd = fs.openSync(path.join(folder, `style_${i}.safetensors`), 'w');
    fs.writeSync(fd, bytes);
    fs.ftruncateSync(fd, bytes.length + 96 * (32 * 768 + 320 * 32) * 2);
    fs.closeSync(fd);
    fs.writeFileSync(path.join(folder, `style_${i}.json`), JSON.stringify({ 'activation text': `style ${i}, soft light`, 'preferred weight': 0.7 }));
    if (i % 2 === 0) fs.writeFileSync(path.join(folder, `style_${i}.preview.png`), '');
  }
}

/** One build (its out/ folder), in this process: scan, then list; prints one line of JSON. */
async function measure(outDir: string, root: string): Promise<void> {
  const { LibraryHost } = require(path.join(outDir, 'server/src/libraryHost')) as { LibraryHost: typeof Host };
  const { NodeFileSystem } = require(path.join(outDir, 'server/src/node/nodeFileSystem')) as { NodeFileSystem: typeof NodeFs };
  const { DEFAULT_SETTINGS } = require(path.join(outDir, 'server/src/service')) as { DEFAULT_SETTINGS: typeof Defaults };
  const { loraPickList } = require(path.join(outDir, 'server/src/service/features/extensionRequests')) as { loraPickList: typeof PickList };
  const host = new LibraryHost(new NodeFileSystem(), () => false, () => undefined);
  const settings = { ...DEFAULT_SETTINGS, lora: { ...DEFAULT_SETTINGS.lora, directories: [path.join(root, 'loras')] } };
  const s0 = process.hrtime.bigint();
  await host.configure(settings);
  const scanMs = Number(process.hrtime.bigint() - s0) / 1e6;
  global.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  const t0 = process.hrtime.bigint();
  const list = await loraPickList(host.library, settings);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  clearInterval(sample);
  peak = Math.max(peak, process.memoryUsage().rss);
  const withTriggers = list.filter((l) => l.triggerWords.length > 0).length;
  const withPreview = list.filter((l) => l.previewPath).length;
  const digest = require('crypto').createHash('sha256').update(JSON.stringify(list)).digest('hex').slice(0, 12);
  host.dispose();
  console.log(JSON.stringify({ cards: list.length, withTriggers, withPreview, digest, scanMs, ms, peakMiB: peak / (1 << 20), rssBeforeMiB: before / (1 << 20) }));
}

type Result = { cards: number; withTriggers: number; withPreview: number; digest: string; scanMs: number; ms: number; peakMiB: number; rssBeforeMiB: number };

function run(outDir: string, root: string): Result {
  const out = cp.execFileSync(process.execPath, ['--expose-gc', __filename, 'measure', outDir, root], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out.trim().split('\n').at(-1)!);
}

async function main(): Promise<void> {
  const [mode, outDir, root] = process.argv.slice(2);
  if (mode === 'measure') return measure(outDir, root);
  const builds: [string, string][] = [['current', path.resolve(__dirname, '..')]];
  if (process.env.BASELINE_OUT) builds.push(['baseline', path.resolve(process.env.BASELINE_OUT)]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-prompt-loralist-'));
  try {
    const g0 = Date.now();
    generate(dir);
    console.log(`generated ${COUNT} LoRAs with sidecars in one folder in ${Date.now() - g0} ms; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    // Twice each, alternating, so both meet a warm page cache and the same load.
    for (let round = 0; round < 2; round++) {
      for (const [name, out] of builds) {
        const r = run(out, dir);
        console.log(
          `${name.padEnd(8)} scan ${r.scanMs.toFixed(0)} ms; list of ${r.cards} (${r.withTriggers} with trigger words, ${r.withPreview} with a preview, digest ${r.digest}) in ${r.ms.toFixed(0)} ms; RSS ${r.rssBeforeMiB.toFixed(0)} MiB after the scan, peak ${r.peakMiB.toFixed(0)} MiB while listing`,
        );
      }
    }
    if (builds.length === 1) console.log('(set BASELINE_OUT to another build\'s out/ folder to measure it in the same run)');
    console.log('target: the list of 10,000 in under 1000 ms and 200 MiB');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main();
