/**
 * The Insert LoRA list (`sdPrompt/loraList`) over a large library (issue 13 item 13):
 * `node out/bench/loraList.bench.js`. 10,000 LoRA files in one folder on disk (kohya headers with
 * training metadata, a sidecar `.json` each, a preview for every other: 25,000 names), scanned by
 * the LibraryHost as the server does, then every card read for the picker. Each way runs in its own
 * process so its memory is its own; printed: time and peak RSS.
 *   current:  `loraPickList` as the server answers the request.
 *   baseline: the way before this change (kept below): every card at once, each listing its folder.
 *             Every card lists all 25,000 names, so it reads only the first BASELINE_CARDS (200) cards
 *             (2,000 took 460 s and a 6.3 GB peak on the loaded 2-core dev VM).
 * Target: all 10,000 in under 1 s and 200 MB. Numbers only; never part of the test run.
 */
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { LibraryHost } from '../server/src/libraryHost';
import { NodeFileSystem } from '../server/src/node/nodeFileSystem';
import { DEFAULT_SETTINGS } from '../server/src/service';
import { loraPickList } from '../server/src/service/features/extensionRequests';
import { loadLoraCard } from '../server/src/service/library/loraCard';
import { SafetensorsCache } from '../server/src/service/library/safetensors';

const COUNT = Number(process.env.LORA_COUNT ?? 10000);
const BASELINE_CARDS = Number(process.env.BASELINE_CARDS ?? 200);

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

/** One way, in this process: scan, then read the cards; prints one line of JSON. */
async function measure(mode: 'current' | 'baseline', root: string): Promise<void> {
  const nodeFs = new NodeFileSystem();
  const host = new LibraryHost(nodeFs, () => false, () => undefined);
  const settings = { ...DEFAULT_SETTINGS, lora: { ...DEFAULT_SETTINGS.lora, directories: [path.join(root, 'loras')] } };
  await host.configure(settings);
  global.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  const t0 = process.hrtime.bigint();
  let cards = 0;
  let withTriggers = 0;
  if (mode === 'current') {
    const list = await loraPickList(host.library, settings);
    cards = list.length;
    withTriggers = list.filter((l) => l.triggerWords.length > 0).length;
  } else {
    // Before: LibraryHost.loadCard read each card with no listing to share, all of them at once.
    const headers = new SafetensorsCache();
    const entries = host.catalog.list('lora').slice(0, BASELINE_CARDS);
    const read = await Promise.all(entries.map((e) => loadLoraCard(nodeFs, e.path, headers)));
    cards = read.length;
    withTriggers = read.filter((c) => 'triggerWords' in c && c.triggerWords.length > 0).length;
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  clearInterval(sample);
  peak = Math.max(peak, process.memoryUsage().rss);
  host.dispose();
  console.log(JSON.stringify({ mode, cards, withTriggers, ms, peakMiB: peak / (1 << 20), rssBeforeMiB: before / (1 << 20) }));
}

function run(mode: string, root: string): { cards: number; withTriggers: number; ms: number; peakMiB: number; rssBeforeMiB: number } {
  const out = cp.execFileSync(process.execPath, ['--expose-gc', __filename, mode, root], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out.trim().split('\n').at(-1)!);
}

async function main(): Promise<void> {
  const [mode, root] = process.argv.slice(2);
  if (mode === 'current' || mode === 'baseline') return measure(mode, root);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-prompt-loralist-'));
  try {
    const g0 = Date.now();
    generate(dir);
    console.log(`generated ${COUNT} LoRAs with sidecars in one folder in ${Date.now() - g0} ms`);
    for (const m of ['current', 'baseline']) {
      const r = run(m, dir);
      console.log(
        `${m.padEnd(8)} ${r.cards} cards (${r.withTriggers} with trigger words) in ${r.ms.toFixed(0)} ms; RSS ${r.rssBeforeMiB.toFixed(0)} MiB after the scan, peak ${r.peakMiB.toFixed(0)} MiB while reading cards`,
      );
    }
    console.log('target: 10,000 cards in under 1000 ms and 200 MiB');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main();
