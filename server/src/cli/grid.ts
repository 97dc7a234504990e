import * as fs from 'fs';
import * as path from 'path';
import { UsageError } from './usage';
import { BackendOptions, checkBackendOptions, readBackendOption, workerPath } from './engineOptions';
import { LibraryHost } from '../libraryHost';
import { CatalogEntry, LoraCatalog } from '../service/library/catalog';
import { checkpointNames, documentCheckpoint, findCheckpoint } from '../service/library/checkpoints';
import { DEFAULT_SETTINGS } from '../service/settings';
import { DEVICE_SETTINGS, DeviceSetting } from '../render/onnx/devices';
import { RenderHost } from '../render/renderHost';
import { LoraSpec } from '../render/lora/prepare';
import { NodeFileSystem } from '../node/nodeFileSystem';
import { quickScan } from '../service/library/quickHeader';
import { renderLoras } from '../service/features/extensionRequests';
import { parsePromptDocument } from '../service/syntax/document';
import { planGrid, GridSpecError } from '../service/xyz';
import type { GridCellPlan, GridPlan, GridPlanContext } from '../service/xyz';
import { BackendError, ServerConnection } from '../render/backends/backend';
import { createBackend } from '../render/backends/createBackend';
import { SERVER_PASSWORD_VARIABLE } from './renderOnServer';
import { GridCellOutcome, runGrid } from '../render/grid/gridRunner';
import { backendCellRenderer, CellProgress, localCellRenderer } from '../render/grid/gridCellRenderers';
import { drawGrid, drawZGrid } from '../render/grid/gridImage';
import { decodePng, gridPng } from '../render/grid/gridImagePng';
import type { RgbImage } from '../render/grid/gridImageTypes';
import { StagedFile } from './stagedOutput';

/** How long the worker keeps sessions between two cells: longer than any cell takes (the grid disposes the host when done). */
const KEEP_SESSIONS_MS = 24 * 60 * 60_000;

/**
 * `sd-prompt grid FILE.prompt --x "Type: values" [--y ...] [--z ...] (--model M | --webui DIR [--model NAME] |
 * --backend K --server URL) [--lora-dir DIR]... [--out GRID.png] [--device D] [--json]`: A1111's X/Y/Z plot.
 * Each cell's PNG (with its own infotext) is written as soon as it finishes, into `GRID-cells/`, so a
 * cancelled or half-failed grid keeps what was rendered; the grid images are written at the end.
 */
export interface GridOptions extends BackendOptions {
  file: string;
  x: string;
  y?: string;
  z?: string;
  model?: string;
  webui?: string;
  loraDirs: string[];
  out?: string;
  device: DeviceSetting;
  json: boolean;
}

export function parseGridArgs(args: string[]): GridOptions {
  const o: Partial<GridOptions> & { loraDirs: string[]; json: boolean; device: DeviceSetting } = { loraDirs: [], json: false, device: 'auto' };
  const value = (flag: string, v: string | undefined) => {
    if (v === undefined || (v.startsWith('--') && flag !== '--x' && flag !== '--y' && flag !== '--z')) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--x' || a === '--y' || a === '--z') o[a.slice(2) as 'x' | 'y' | 'z'] = value(a, args[++i]);
    else if (a === '--model') o.model = value(a, args[++i]);
    else if (a === '--webui') o.webui = value(a, args[++i]);
    else if (a === '--lora-dir') o.loraDirs.push(value(a, args[++i]));
    else if (a === '--out') o.out = value(a, args[++i]);
    else if (a === '--device') {
      const d = value(a, args[++i]) as DeviceSetting;
      if (!DEVICE_SETTINGS.includes(d)) throw new UsageError(`--device takes one of ${DEVICE_SETTINGS.join(', ')}, not '${d}'`);
      o.device = d;
    } else if (a === '--json') o.json = true;
    else if (readBackendOption(o, args, i, value) !== undefined) i++;
    else if (a.startsWith('-')) throw new UsageError(`unknown option '${a}'`);
    else if (o.file !== undefined) throw new UsageError('grid takes one FILE.prompt');
    else o.file = a;
  }
  if (!o.file) throw new UsageError('grid needs a FILE.prompt');
  if (o.x === undefined) throw new UsageError('grid needs --x "Type: values" (e.g. --x "Seed: 1-4")');
  checkBackendOptions(o);
  o.webui ??= process.env.SD_WEBUI_PATH || undefined;
  if (!o.model && !o.backend && !o.webui) throw new UsageError('grid needs --model DIR|FILE.safetensors, --webui DIR, or --backend K --server URL');
  return o as GridOptions;
}


/** Where a grid's files go: the grid (or the Z grid), one grid per Z value, and the cells' folder. */
export function gridFiles(out: string, plan: GridPlan): { grid: string; zGrids: string[]; cellsFolder: string; cell: (c: GridCellPlan) => string } {
  const stem = out.replace(/\.png$/i, '');
  const zCount = plan.z?.values.length ?? 0;
  const cellsFolder = `${stem}-cells`;
  return {
    grid: out,
    zGrids: zCount ? Array.from({ length: zCount }, (_, i) => `${stem}-z${i + 1}.png`) : [],
    cellsFolder,
    // 1-based, as the user counts columns and rows; z only when there is a Z axis.
    cell: (c) => path.join(cellsFolder, `x${c.x + 1}-y${c.y + 1}${plan.z ? `-z${c.z + 1}` : ''}.png`),
  };
}

/** The labels that place a cell: its X, Y and Z values as A1111 draws them. */
function cellLabels(plan: GridPlan, c: GridCellPlan): string[] {
  return [plan.x.labels[c.x], plan.y?.labels[c.y], plan.z?.labels[c.z]].filter((l): l is string => l !== undefined);
}

type GridIo = { stdout: (s: string) => void; stderr: (s: string) => void; readInput: (file: string) => string };

export async function runGridCommand(o: GridOptions, io: GridIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const text = io.readInput(o.file);
  const library = o.webui ? await openWebui(o.webui) : undefined;
  try {
    const checkpoints = library?.catalog.list('checkpoint');
    const context: GridPlanContext = checkpoints ? { checkpoints: checkpoints.map((e) => checkpointNames(e).name) } : {};
    let plan: GridPlan;
    try {
      plan = planGrid(text, { x: o.x, y: o.y, z: o.z }, context);
    } catch (e) {
      if (e instanceof GridSpecError) throw new UsageError(e.message);
      throw e;
    }
    if (!o.backend && !library && plan.cells.some((c) => c.checkpoint !== undefined)) {
      throw new UsageError('a Checkpoint name axis needs --webui DIR (its checkpoints are looked up in the webui\'s models folder)');
    }
    // Every cell would fail alike on a model that is not there: say it once, before anything is written.
    if (!o.backend && !library && !fs.existsSync(o.model!)) throw new UsageError(`--model ${o.model}: no such file or folder`);
    const out = o.out ?? o.file.replace(/\.prompt$/i, '') + '-grid.png';
    const files = gridFiles(out, plan);
    // Checked before any render: an unwritable --out is found now, not after the whole grid.
    const keep = [{ path: o.file, what: 'the prompt file itself' }];
    // Staged again once the cells are done: a staged file removes itself and re-raises on Ctrl-C, which here must
    // instead stop the grid and keep what is done.
    for (const f of [files.grid, ...files.zGrids]) StagedFile.create(f, keep).abandon();
    try {
      fs.mkdirSync(files.cellsFolder, { recursive: true });
    } catch (e) {
      throw new Error(`cannot create ${files.cellsFolder}: ${(e as Error).message}`);
    }

    const abort = new AbortController();
    // The first Ctrl-C stops between cells and keeps what is done; a second one quits at once.
    const onInterrupt = () => {
      if (abort.signal.aborted) process.exit(130);
      io.stderr('\nsd-prompt: stopping: the finished cells and the grid are written (Ctrl-C again to quit now)\n');
      abort.abort();
    };
    process.on('SIGINT', onInterrupt);
    const total = plan.cells.length;
    let finished = 0;
    let barShown = false;
    const onProgress = (p: CellProgress) => {
      if (p.steps <= 0) return;
      barShown = true;
      const bar = 30;
      const done = Math.round((Math.min(p.step, p.steps) / p.steps) * bar);
      io.stderr(`\r[${'#'.repeat(done)}${'.'.repeat(bar - done)}] cell ${finished + 1}/${total} step ${Math.min(p.step, p.steps)}/${p.steps}`);
    };
    const written = new Map<number, string>();
    const onCell = (c: GridCellOutcome) => {
      finished++;
      if (c.result) {
        const file = files.cell(c.cell);
        try {
          // Written whole or not at all: a Ctrl-C between the write and the rename leaves only the .part.
          fs.writeFileSync(file + '.part', c.result.png);
          fs.renameSync(file + '.part', file);
          written.set(c.index, file);
        } catch (e) {
          // The grid goes on (the image is still in the grid): one line, not a lost run.
          fs.rmSync(file + '.part', { force: true });
          io.stderr(`${barShown ? '\n' : ''}sd-prompt: cannot write ${file}: ${(e as Error).message}\n`);
          barShown = false;
        }
      }
      if (barShown) io.stderr('\n');
      barShown = false;
      io.stderr(`sd-prompt: cell ${finished}/${total} (${cellLabels(plan, c.cell).join(', ')}): ${c.error ? `failed: ${c.error}` : 'done'}\n`);
    };
    const host = o.backend ? undefined : new RenderHost(workerPath());
    let run;
    try {
      if (o.backend) {
        const conn: ServerConnection = { url: o.server!, user: o.user, password: o.password ?? env[SERVER_PASSWORD_VARIABLE] };
        const cells = backendCellRenderer(createBackend(o.backend, conn), total, { onProgress });
        run = await runGrid(plan, cells.renderCell, { signal: abort.signal, onCell, concurrency: cells.concurrency });
      } else {
        const baseModel = await chooseBaseModel(o, text, checkpoints, library, io);
        const loras = await loraResolver(o.loraDirs, plan, io);
        const renderCell = localCellRenderer({
          host: host!,
          // Sessions and LoRA deltas are kept from cell to cell (a seed change loads nothing, a weight change re-merges);
          // 0 would release them after every cell, between one cell's end and the next one's request. dispose() frees them.
          request: { device: o.device, idleReleaseMs: KEEP_SESSIONS_MS },
          model: (cell) => (cell.checkpoint !== undefined ? cellCheckpoint(cell.checkpoint, checkpoints!, library!) : baseModel()),
          loras,
          onProgress,
        });
        run = await runGrid(plan, renderCell, { signal: abort.signal, onCell });
      }
    } finally {
      process.removeListener('SIGINT', onInterrupt);
      await host?.dispose();
    }

    // The grids, with grey tiles where a cell failed or was never rendered.
    const images = new Map<number, RgbImage>();
    for (const c of run.done) if (c.result) images.set(c.index, decodePng(c.result.png, `cell ${files.cell(c.cell)}`));
    const cellAt = new Map(plan.cells.map((c, i) => [`${c.x},${c.y},${c.z}`, i]));
    const first = run.done.find((c) => c.result)?.result;
    const someImage = first ? { width: first.width, height: first.height } : sizeOf(text);
    const xLabels = plan.x.labels;
    const yLabels = plan.y?.labels ?? [''];
    const zCount = plan.z?.values.length ?? 1;
    const grids: RgbImage[] = [];
    for (let z = 0; z < zCount; z++) {
      const rows = yLabels.map((_, y) => xLabels.map((_, x) => images.get(cellAt.get(`${x},${y},${z}`)!)));
      grids.push(drawGrid(rows, xLabels, plan.y ? yLabels : [''], { cellSize: someImage }));
    }
    const infotext = first?.infotext;
    const staged = [files.grid, ...files.zGrids].map((f) => StagedFile.create(f, keep));
    try {
      if (plan.z) {
        staged[0].commit(gridPng(drawZGrid(grids, plan.z.labels), infotext));
        grids.forEach((g, z) => staged[z + 1].commit(gridPng(g, infotext)));
      } else staged[0].commit(gridPng(grids[0], infotext));
    } catch (e) {
      for (const s of staged) s.abandon();
      throw e;
    }

    const failed = run.done.filter((c) => c.error);
    const cellsJson = plan.cells.map((c, i) => {
      const outcome = run.done.find((d) => d.index === i);
      return {
        file: written.get(i) ?? null,
        x: c.x,
        y: c.y,
        z: c.z,
        labels: cellLabels(plan, c),
        seed: outcome?.result?.seed ?? null,
        error: outcome?.error ?? (outcome ? null : 'not rendered (cancelled)'),
      };
    });
    const gridFilesWritten = [files.grid, ...files.zGrids];
    if (o.json) io.stdout(JSON.stringify({ grids: gridFilesWritten, cellsFolder: files.cellsFolder, cells: cellsJson, cancelled: run.cancelled }) + '\n');
    else {
      const rendered = run.done.length - failed.length;
      io.stdout(`${gridFilesWritten.join(', ')}: ${rendered} of ${total} cells rendered${failed.length ? `, ${failed.length} failed` : ''}${run.missing.length ? `, ${run.missing.length} not rendered (cancelled)` : ''}; cells in ${files.cellsFolder}\n`);
    }
    if (run.cancelled) {
      io.stderr('sd-prompt: grid cancelled: the finished cells and a grid with grey gaps were written\n');
      return 130;
    }
    return failed.length ? 1 : 0;
  } catch (e) {
    if (e instanceof BackendError) throw new Error(`grid on ${o.backend} failed: ${e.message}`);
    throw e;
  } finally {
    library?.dispose();
  }
}

/** The file's Size, for the grey tiles of a grid none of whose cells rendered. */
function sizeOf(text: string): { width: number; height: number } {
  const size = parsePromptDocument(text).sections.parameters?.entries.find((e) => e.key === 'Size')?.value;
  const m = /^(\d+)x(\d+)$/.exec(size?.trim() ?? '');
  return m ? { width: Number(m[1]), height: Number(m[2]) } : { width: 512, height: 512 };
}

async function openWebui(folder: string): Promise<LibraryHost> {
  if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory()) throw new UsageError(`--webui ${folder} is not a folder`);
  const host = new LibraryHost(new NodeFileSystem(), (p) => fs.existsSync(p), () => undefined);
  await host.configure({ ...DEFAULT_SETTINGS, webuiPath: path.resolve(folder) });
  return host;
}

/**
 * The model for cells that keep the file's checkpoint, chosen once (on first use, so a grid whose every cell
 * names its own checkpoint needs none): `--model` as a path, else what `--model NAME` or the file's
 * `Model hash:` / `Model:` select in the webui's folder, as `render` chooses.
 */
function chooseBaseModel(o: GridOptions, text: string, entries: CatalogEntry[] | undefined, library: LibraryHost | undefined, io: { stderr: (s: string) => void }): () => string {
  let chosen: string | undefined;
  return () => {
    if (chosen) return chosen;
    if (!library || !entries || (o.model && fs.existsSync(o.model))) return (chosen = o.model!);
    const known = (e: CatalogEntry) => library.library.sha256?.(e, false);
    if (o.model) {
      const named = findCheckpoint(entries, o.model, known);
      if (!named) throw new Error(`--model ${o.model}: no such checkpoint in ${o.webui}'s models folder (${entries.map((e) => checkpointNames(e).nameForExtra).join(', ') || 'it has none'})`);
      return (chosen = named.path);
    }
    const choice = documentCheckpoint(entries, parsePromptDocument(text), known);
    if (!choice.entry) throw new Error(`${o.file}'s Model hash:/Model: select no checkpoint in ${o.webui}'s models folder: give --model NAME`);
    io.stderr(`sd-prompt: ${choice.by} selects ${checkpointNames(choice.entry).name}\n`);
    return (chosen = choice.entry.path);
  };
}

function cellCheckpoint(name: string, entries: CatalogEntry[], library: LibraryHost): string {
  const entry = findCheckpoint(entries, name, (e) => library.library.sha256?.(e, false)) ?? entries.find((e) => checkpointNames(e).name === name);
  if (!entry) throw new Error(`Checkpoint name '${name}': no such checkpoint in the webui's models folder`);
  return entry.path;
}

/**
 * Each cell's LoRA tags resolved as `render` resolves them (one catalog scan for the whole grid); a warning
 * (a LoRA not found) is printed once, not once per cell.
 */
async function loraResolver(folders: string[], plan: GridPlan, io: { stderr: (s: string) => void }): Promise<(cell: GridCellPlan) => LoraSpec[]> {
  const docs = plan.cells.map((c) => parsePromptDocument(c.promptText));
  let catalog: LoraCatalog | undefined;
  if (folders.length && docs.some((d) => d.positive.tags.some((t) => t.type === 'lora' || t.type === 'lyco'))) {
    const fileSystem = new NodeFileSystem();
    catalog = new LoraCatalog(fileSystem, (e) => quickScan(fileSystem, e.path, e.size));
    await catalog.setRoots({ lora: folders.map((f) => path.resolve(f)), embedding: [], hypernet: [] });
    catalog.dispose();
  }
  const warned = new Set<string>();
  return (cell) => {
    const { loras, warnings } = renderLoras(docs[plan.cells.indexOf(cell)] ?? parsePromptDocument(cell.promptText), catalog);
    for (const w of warnings) {
      if (warned.has(w)) continue;
      warned.add(w);
      io.stderr(`sd-prompt: ${w}${catalog || w.includes('A1111 applies no LoRA') ? '' : ' (no --lora-dir)'}\n`);
    }
    return loras;
  };
}
