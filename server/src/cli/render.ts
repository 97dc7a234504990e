import * as fs from 'fs';
import { UsageError } from './usage';
import { BackendOptions, checkBackendOptions, readBackendOption, workerPath } from './engineOptions';
import * as path from 'path';
import { LibraryHost } from '../libraryHost';
import { CatalogEntry, LoraCatalog } from '../service/library/catalog';
import { checkpointNames, documentCheckpoint, findCheckpoint } from '../service/library/checkpoints';
import { documentVae, findVae, sidecarNamed, vaeEntries, vaeName } from '../service/library/vae';
import { DEFAULT_SETTINGS } from '../service/settings';
import { DEVICE_SETTINGS, DeviceSetting } from '../render/onnx/devices';
import { ParameterOverrides } from '../render/parameters';
import { RenderHost } from '../render/renderHost';
import { loraMergeSummary } from '../../../common/src/mergeReport';
import { LoraSpec } from '../render/lora/prepare';
import { NodeFileSystem } from '../node/nodeFileSystem';
import { quickScan } from '../service/library/quickHeader';
import { renderLoras } from '../service/features/extensionRequests';
import { PromptDocument } from '../service/syntax/document';
import { pyFloat, pyInt } from '../service/semantics/pyNumbers';
import { parsePromptDocument } from '../service/syntax/document';
import { StagedFile } from './stagedOutput';
import { runServerRender } from './renderOnServer';

/**
 * `sd-prompt render FILE.prompt --model DIR [--out FILE.png] [--device D] [--steps N] [--seed N]
 * [--sampler NAME] [--cfg X] [--width W] [--height H] [--clip-skip N] [--vae FILE|NAME|None] [--json]`. Parameters come from the
 * options, then the file's parameter line, then A1111's defaults.
 */
export interface RenderOptions extends ParameterOverrides, BackendOptions {
  file: string;
  loraDirs: string[];
  out?: string;
  device: DeviceSetting;
  json: boolean;
  /** `--webui` (or SD_WEBUI_PATH): its models/Stable-diffusion checkpoints, picked by the file's Model hash:/Model: or by --model NAME. */
  webui?: string;
  /** `--vae`: a VAE file, a name in the webui's models/VAE, or `None` (the checkpoint's own); over the file's `VAE:`. */
  vae?: string;
}


export function parseRenderArgs(args: string[]): RenderOptions {
  const o: Partial<RenderOptions> & { loraDirs: string[]; json: boolean; device: DeviceSetting } = { loraDirs: [], json: false, device: 'auto' };
  const value = (flag: string, v: string | undefined) => {
    if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  const int = (flag: string, v: string | undefined, min: number) => {
    const n = pyInt(value(flag, v));
    if (n === undefined || n < min) throw new UsageError(`${flag} takes a whole number of at least ${min}, not '${v}'`);
    return n;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--model') o.model = value(a, args[++i]);
    else if (a === '--lora-dir') o.loraDirs.push(value(a, args[++i]));
    else if (a === '--webui') o.webui = value(a, args[++i]);
    else if (a === '--out') o.out = value(a, args[++i]);
    else if (a === '--device') {
      const d = value(a, args[++i]) as DeviceSetting;
      if (!DEVICE_SETTINGS.includes(d)) throw new UsageError(`--device takes one of ${DEVICE_SETTINGS.join(', ')}, not '${d}'`);
      o.device = d;
    } else if (a === '--steps') o.steps = int(a, args[++i], 1);
    else if (a === '--seed') o.seed = int(a, args[++i], -1);
    else if (a === '--sampler') o.sampler = value(a, args[++i]);
    else if (a === '--cfg') {
      const v = pyFloat(value(a, args[++i]));
      if (v === undefined || !Number.isFinite(v)) throw new UsageError(`--cfg takes a number, not '${args[i]}'`);
      o.cfg = v;
    } else if (a === '--width') o.width = int(a, args[++i], 8);
    else if (a === '--height') o.height = int(a, args[++i], 8);
    else if (a === '--clip-skip') o.clipSkip = int(a, args[++i], 1);
    else if (a === '--vae') o.vae = value(a, args[++i]);
    else if (a === '--json') o.json = true;
    else if (readBackendOption(o, args, i, value) !== undefined) i++;
    else if (a.startsWith('-')) throw new UsageError(`unknown option '${a}'`);
    else if (o.file !== undefined) throw new UsageError('render takes one FILE.prompt');
    else o.file = a;
  }
  if (!o.file) throw new UsageError('render needs a FILE.prompt');
  checkBackendOptions(o);
  o.webui ??= process.env.SD_WEBUI_PATH || undefined;
  if (!o.model && !o.backend && !o.webui) throw new UsageError('render needs --model DIR (a diffusers ONNX model folder), --model FILE.safetensors (a checkpoint), or --webui DIR');
  return o as RenderOptions;
}

export async function runRender(o: RenderOptions, io: { stdout: (s: string) => void; stderr: (s: string) => void; readInput: (file: string) => string }): Promise<number> {
  if (o.backend) return runServerRender(o, io);
  const text = io.readInput(o.file);
  const doc = parsePromptDocument(text);
  // Checked before the render: an unwritable --out was found only after it, as a raw errno.
  const out = o.out ?? o.file.replace(/\.prompt$/i, '') + '.png';
  const staged = StagedFile.create(out, [{ path: o.file, what: 'the prompt file itself' }]);
  const host = new RenderHost(workerPath());
  try {
    const loras = await resolveLoraTags(doc, o.loraDirs, io);
    const model = await chooseModel(o, doc, io);
    const { steps, seed, sampler, cfg, width, height, clipSkip } = o;
    const vae = await chooseVae(o, doc, model, io);
    const result = await host.render(
      { promptText: text, model, device: o.device, overrides: { steps, seed, sampler, cfg, width, height, clipSkip }, loras, idleReleaseMs: 0, ...(vae !== undefined ? { vae } : {}) },
      {
        onProgress: (p) => {
          const bar = 30;
          const done = Math.round((p.step / p.steps) * bar);
          io.stderr(`\r[${'#'.repeat(done)}${'.'.repeat(bar - done)}] step ${p.step}/${p.steps}`);
          if (p.step === p.steps) io.stderr('\n');
        },
      },
    );
    for (const a of result.attempts) io.stderr(`sd-prompt: ${a.device} unavailable (${a.error})\n`);
    staged.commit(new Uint8Array(result.png));
    const { device, width: w, height: h, timings } = result;
    for (const l of result.loras) {
      if (l.error || l.unmatched.length || l.mismatched.length) io.stderr(`sd-prompt: LoRA ${loraMergeSummary(l)}\n`);
    }
    for (const note of result.notes) io.stderr(`sd-prompt: ${note}\n`);
    const summary = { out, device, seed: result.seed, steps: result.steps, sampler: result.sampler, width: w, height: h, timings, loras: result.loras, notes: result.notes };
    io.stdout(o.json ? JSON.stringify(summary) + '\n' : `${out}: ${w}x${h}, ${result.steps} steps of ${result.sampler}, seed ${result.seed}, on ${device}\n`);
    return 0;
  } catch (e) {
    staged.abandon();
    throw e;
  } finally {
    await host.dispose();
  }
}

/**
 * The prompt's LoRA tags as A1111 resolves them, in the LoRA folders given (the editor's Render
 * Preview resolves them the same way, through the language server's library): renderLoras.
 */
async function resolveLoraTags(doc: PromptDocument, folders: string[], io: { stderr: (s: string) => void }): Promise<LoraSpec[]> {
  let catalog: LoraCatalog | undefined;
  if (folders.length && doc.positive.tags.some((t) => t.type === 'lora' || t.type === 'lyco')) {
    const fileSystem = new NodeFileSystem();
    catalog = new LoraCatalog(fileSystem, (e) => quickScan(fileSystem, e.path, e.size));
    await catalog.setRoots({ lora: folders.map((f) => path.resolve(f)), embedding: [], hypernet: [] });
    catalog.dispose();
  }
  const { loras, warnings } = renderLoras(doc, catalog);
  for (const w of warnings) io.stderr(`sd-prompt: ${w}${catalog || w.includes('A1111 applies no LoRA') ? '' : ' (no --lora-dir)'}\n`);
  return loras;
}

/**
 * The VAE to decode with, as A1111 resolves it (service/library/vae.ts): `--vae` (a file, `None`, or a name in the
 * webui's models/VAE) over the file's `VAE hash:`/`VAE:`, which need `--webui` to be looked up; undefined leaves
 * the Automatic rule to the engine (`NAME.vae.safetensors` beside the checkpoint, else its own VAE).
 */
async function chooseVae(o: RenderOptions, doc: PromptDocument, model: string, io: { stderr: (s: string) => void }): Promise<string | null | undefined> {
  const params = doc.sections.parameters?.entries ?? [];
  const named = params.find((e) => e.key === 'VAE')?.value;
  const byHash = params.find((e) => e.key === 'VAE hash')?.value;
  if (o.vae === 'None') return null;
  if (o.vae && fs.existsSync(o.vae) && fs.statSync(o.vae).isFile()) return path.resolve(o.vae);
  if (!o.webui) {
    if (o.vae) throw new UsageError(`--vae ${o.vae}: no such file (a VAE's name is looked up in --webui DIR's models/VAE)`);
    if (named || byHash) io.stderr(`sd-prompt: the file's VAE${named ? `: ${named}` : ` hash: ${byHash}`} is looked up in --webui DIR's models/VAE; without it the checkpoint's own VAE (or its NAME.vae.safetensors) decodes\n`);
    return undefined;
  }
  const host = new LibraryHost(new NodeFileSystem(), (p) => fs.existsSync(p), () => undefined);
  try {
    await host.configure({ ...DEFAULT_SETTINGS, webuiPath: path.resolve(o.webui) });
    const entries = vaeEntries(host.catalog.list('vae'), host.catalog.list('checkpoint'));
    const known = (e: CatalogEntry) => host.library.sha256?.(e, false);
    if (o.vae) {
      const entry = findVae(entries, o.vae) ?? sidecarNamed(host.catalog.list('checkpoint'), o.vae);
      if (!entry) throw new UsageError(`--vae ${o.vae}: no such VAE in ${o.webui}'s models/VAE (${entries.map(vaeName).join(', ') || 'it has none'})`);
      return typeof entry === 'string' ? entry : entry.path;
    }
    const choice = documentVae(entries, doc, known, { setting: '', checkpoint: model, checkpoints: host.catalog.list('checkpoint') });
    if (choice.unknown) {
      io.stderr(`sd-prompt: VAE ${choice.unknown.name}: no such VAE in ${o.webui}'s models/VAE; A1111 then decodes with the checkpoint's own VAE, and so does this render\n`);
    } else if (choice.file) io.stderr(`sd-prompt: ${choice.by} selects the VAE ${path.basename(choice.file)}\n`);
    return choice.file;
  } finally {
    host.dispose();
  }
}

/**
 * The model to render with: with a webui folder, the checkpoint the file's `Model hash:` / `Model:` select there
 * (as A1111's paste does), or the one `--model NAME` names; else `--model` as a path.
 */
async function chooseModel(o: RenderOptions, doc: PromptDocument, io: { stderr: (s: string) => void }): Promise<string> {
  if (!o.webui || (o.model && fs.existsSync(o.model))) {
    if (!o.model) throw new UsageError('render needs --model');
    return o.model;
  }
  if (!fs.existsSync(o.webui) || !fs.statSync(o.webui).isDirectory()) throw new UsageError(`--webui ${o.webui} is not a folder`);
  const host = new LibraryHost(new NodeFileSystem(), (p) => fs.existsSync(p), () => undefined);
  try {
    await host.configure({ ...DEFAULT_SETTINGS, webuiPath: path.resolve(o.webui) });
    const entries = host.catalog.list('checkpoint');
    const known = (e: CatalogEntry) => host.library.sha256?.(e, false);
    if (o.model) {
      const named = findCheckpoint(entries, o.model, known);
      if (!named) throw new UsageError(`--model ${o.model}: no such checkpoint in ${o.webui}'s models folder (${entries.map((e) => checkpointNames(e).nameForExtra).join(', ') || 'it has none'})`);
      return named.path;
    }
    const choice = documentCheckpoint(entries, doc, known);
    if (!choice.entry) throw new UsageError(`${o.file}'s Model hash:/Model: select no checkpoint in ${o.webui}'s models folder: give --model NAME`);
    io.stderr(`sd-prompt: ${choice.by} selects ${checkpointNames(choice.entry).name}\n`);
    return choice.entry.path;
  } finally {
    host.dispose();
  }
}
