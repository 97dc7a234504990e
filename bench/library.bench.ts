/**
 * The LoRA library at scale (`npm run bench`): 10,000 generated LoRA files with headers of
 * realistic size in a temp folder on disk. Prints the cold scan (all headers read), completion
 * latency (p50/p95 over 200 requests), the time from a new file to updated diagnostics, and
 * peak memory. Targets (issue 3): scan < 2 s, completion p95 < 20 ms, update < 500 ms.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { LibraryHost } from '../server/src/libraryHost';
import { NodeFileSystem } from '../server/src/node/nodeFileSystem';
import { createPromptLanguageService, DEFAULT_SETTINGS } from '../server/src/service';

const COUNT = Number(process.env.LORA_COUNT ?? 10000);

/** A kohya SD1.5 LoRA header like real ones: ~200 module pairs plus training metadata (~60 KB). */
function realisticLora(index: number): Buffer {
  const header: Record<string, unknown> = {
    __metadata__: {
      ss_output_name: `style_${index}`,
      ss_base_model_version: 'sd_v1',
      ss_network_dim: '32',
      ss_network_alpha: '16',
      ss_tag_frequency: JSON.stringify({ img: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`tag number ${i}`, 200 - i])) }),
      ss_sd_model_name: 'v1-5-pruned-emaonly.safetensors',
    },
  };
  let offset = 0;
  for (let b = 0; b < 96; b++) {
    const base = `lora_unet_down_blocks_${b % 3}_attentions_${b % 2}_transformer_blocks_0_attn${(b % 2) + 1}_to_${'qkv'[b % 3]}_${b}`;
    for (const [suffix, shape] of [['lora_down.weight', [32, 768]], ['lora_up.weight', [320, 32]], ['alpha', []]] as const) {
      const bytes = (shape as readonly number[]).reduce((a, c) => a * c, 1) * 2;
      header[`${base}.${suffix}`] = { dtype: 'F16', shape, data_offsets: [offset, offset + bytes] };
      offset += bytes;
    }
  }
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  // Only the header is written; the data section is a sparse hole of the right length.
  return Buffer.concat([prefix, json]);
}

async function main() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-prompt-bench-'));
  let peak = process.memoryUsage().rss;
  const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  try {
    const started = Date.now();
    for (let i = 0; i < COUNT; i++) {
      const folder = path.join(root, `group_${i % 50}`);
      if (i < 50) fs.mkdirSync(folder);
      const file = path.join(folder, `lora_${i}.safetensors`);
      const bytes = realisticLora(i);
      const fd = fs.openSync(file, 'w');
      fs.writeSync(fd, bytes);
      fs.ftruncateSync(fd, bytes.length + 96 * (32 * 768 + 320 * 32 + 1) * 2);
      fs.closeSync(fd);
    }
    console.log(`generated ${COUNT} files (${(realisticLora(0).length / 1024).toFixed(0)} KiB headers) in ${Date.now() - started} ms`);

    const host = new LibraryHost(new NodeFileSystem(), () => false, () => undefined);
    const settings = { ...DEFAULT_SETTINGS, lora: { ...DEFAULT_SETTINGS.lora, directories: [root] } };
    const t0 = process.hrtime.bigint();
    await host.configure(settings);
    const scanMs = Number(process.hrtime.bigint() - t0) / 1e6;
    console.log(`cold scan, all headers read: ${scanMs.toFixed(0)} ms for ${host.catalog.list().length} LoRAs (target < 2000 ms)`);

    const service = createPromptLanguageService({ library: () => host.library });
    const text = 'masterpiece, <lora:';
    const doc = TextDocument.create('file:///bench.prompt', 'sd-prompt', 1, text);
    const times: number[] = [];
    for (let i = 0; i < 200; i++) {
      const c0 = process.hrtime.bigint();
      const list = service.completion(doc, doc.positionAt(text.length), settings);
      JSON.stringify(list); // what the server then sends
      times.push(Number(process.hrtime.bigint() - c0) / 1e6);
    }
    times.sort((a, b) => a - b);
    console.log(`completion after '<lora:' (${2 * COUNT} items): p50 ${times[100].toFixed(2)} ms, p95 ${times[190].toFixed(2)} ms (target p95 < 20 ms)`);

    const open = TextDocument.create('file:///open.prompt', 'sd-prompt', 1, '<lora:brand_new:0.5>');
    const unknownBefore = service.diagnostics(open, settings).some((d) => d.code === 'lora-unknown');
    const updated = new Promise<number>((resolve) => {
      const stop = host.catalog.onDidChange(() => {
        if (service.diagnostics(open, settings).some((d) => d.code === 'lora-unknown')) return;
        stop();
        resolve(Date.now());
      });
    });
    const a0 = Date.now();
    fs.writeFileSync(path.join(root, 'group_7', 'brand_new.safetensors'), realisticLora(COUNT));
    const a1 = await updated;
    console.log(`new file → diagnostics updated: ${a1 - a0} ms (unknown before: ${unknownBefore}; target < 500 ms)`);
    host.dispose();
  } finally {
    clearInterval(sample);
    console.log(`peak memory (RSS): ${(peak / (1 << 20)).toFixed(0)} MiB`);
    fs.rmSync(root, { recursive: true, force: true });
  }
}

void main();
