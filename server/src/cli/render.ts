import * as fs from 'fs';
import { DEVICE_SETTINGS, DeviceSetting } from '../render/model/devices';
import { openModelFolder } from '../render/model/modelFolder';
import { loadSessions } from '../render/model/sessions';
import { renderTxt2Img } from '../render/pipeline/txt2img';
import { renderParameters } from '../render/parameters';
import { pyFloat, pyInt } from '../service/semantics/pyNumbers';
import { parsePromptDocument } from '../service/syntax/document';

/**
 * `sd-prompt render FILE.prompt --model DIR [--out FILE.png] [--device D] [--steps N] [--seed N]
 * [--sampler NAME] [--cfg X] [--width W] [--height H] [--json]`. Parameters come from the
 * options, then the file's parameter line, then A1111's defaults.
 */
export interface RenderOptions {
  file: string;
  model: string;
  loraDirs: string[];
  out?: string;
  device: DeviceSetting;
  steps?: number;
  seed?: number;
  sampler?: string;
  cfg?: number;
  width?: number;
  height?: number;
  json: boolean;
}

export class RenderUsageError extends Error {}

export function parseRenderArgs(args: string[]): RenderOptions {
  const o: Partial<RenderOptions> & { loraDirs: string[]; json: boolean; device: DeviceSetting } = { loraDirs: [], json: false, device: 'auto' };
  const value = (flag: string, v: string | undefined) => {
    if (v === undefined || v.startsWith('--')) throw new RenderUsageError(`${flag} needs a value`);
    return v;
  };
  const int = (flag: string, v: string | undefined, min: number) => {
    const n = pyInt(value(flag, v));
    if (n === undefined || n < min) throw new RenderUsageError(`${flag} takes a whole number of at least ${min}, not '${v}'`);
    return n;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--model') o.model = value(a, args[++i]);
    else if (a === '--lora-dir') o.loraDirs.push(value(a, args[++i]));
    else if (a === '--out') o.out = value(a, args[++i]);
    else if (a === '--device') {
      const d = value(a, args[++i]) as DeviceSetting;
      if (!DEVICE_SETTINGS.includes(d)) throw new RenderUsageError(`--device takes one of ${DEVICE_SETTINGS.join(', ')}, not '${d}'`);
      o.device = d;
    } else if (a === '--steps') o.steps = int(a, args[++i], 1);
    else if (a === '--seed') o.seed = int(a, args[++i], -1);
    else if (a === '--sampler') o.sampler = value(a, args[++i]);
    else if (a === '--cfg') {
      const v = pyFloat(value(a, args[++i]));
      if (v === undefined || !Number.isFinite(v)) throw new RenderUsageError(`--cfg takes a number, not '${args[i]}'`);
      o.cfg = v;
    } else if (a === '--width') o.width = int(a, args[++i], 8);
    else if (a === '--height') o.height = int(a, args[++i], 8);
    else if (a === '--json') o.json = true;
    else if (a.startsWith('-')) throw new RenderUsageError(`unknown option '${a}'`);
    else if (o.file !== undefined) throw new RenderUsageError('render takes one FILE.prompt');
    else o.file = a;
  }
  if (!o.file) throw new RenderUsageError('render needs a FILE.prompt');
  if (!o.model) throw new RenderUsageError('render needs --model DIR (a diffusers ONNX model folder)');
  return o as RenderOptions;
}

export async function runRender(o: RenderOptions, io: { stdout: (s: string) => void; stderr: (s: string) => void }): Promise<number> {
  const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
  const text = fs.readFileSync(o.file, 'utf8');
  const params = renderParameters(text, o);
  const doc = parsePromptDocument(text);
  const loraTags = doc.positive.tags.filter((t) => t.type === 'lora' || t.type === 'lyco');
  if (loraTags.length) io.stderr(`sd-prompt: LoRA merging is not available yet: ${loraTags.length} LoRA tag(s) rendered without their LoRA.\n`);
  const t0 = Date.now();
  const folder = openModelFolder(o.model);
  const sessions = await loadSessions(folder, o.device, ort);
  const loadMs = Date.now() - t0;
  for (const a of sessions.attempts) io.stderr(`sd-prompt: ${a.device} unavailable (${a.error})\n`);
  try {
    const result = await renderTxt2Img(ort, folder, sessions, params, {
      onProgress: (p) => {
        const width = 30;
        const done = Math.round((p.step / p.steps) * width);
        io.stderr(`\r[${'#'.repeat(done)}${'.'.repeat(width - done)}] step ${p.step}/${p.steps} on ${sessions.device}`);
        if (p.step === p.steps) io.stderr('\n');
      },
    });
    const out = o.out ?? o.file.replace(/\.prompt$/i, '') + '.png';
    fs.writeFileSync(out, result.png);
    const summary = {
      out,
      device: sessions.device,
      seed: params.seed,
      steps: params.steps,
      sampler: params.sampler,
      width: params.width,
      height: params.height,
      timings: { load: loadMs, ...result.timings },
      loras: [] as unknown[],
    };
    io.stdout(o.json ? JSON.stringify(summary) + '\n' : `${out}: ${params.width}x${params.height}, ${params.steps} steps of ${params.sampler}, seed ${params.seed}, on ${sessions.device}\n`);
    return 0;
  } finally {
    await sessions.release();
  }
}
