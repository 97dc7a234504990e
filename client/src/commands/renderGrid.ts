import * as fs from 'fs';
import * as path from 'path';
import { commands, EventEmitter, LogOutputChannel, ProgressLocation, TextDocument, Uri, window, workspace } from 'vscode';
import { LanguageClient } from 'vscode-languageclient/node';
import { CHECKPOINT_LIST_REQUEST, CheckpointListParams, CheckpointListResult, RENDER_LORAS_REQUEST, RenderLorasParams, RenderLorasResult } from '../../../common/src/protocol';
import {
  backendCellRenderer,
  decodePng,
  drawGrid,
  drawZGrid,
  GridCellOutcome,
  GridPlan,
  GridSpecError,
  gridPng,
  localCellRenderer,
  parseAxisSpec,
  planGrid,
  RenderCell,
  suggestAxisSpec,
  runGrid,
  XYZ_AXIS_TYPES,
  XyzAxisName,
  XyzAxisType,
} from '../../../server/src/render/api';
import type { RgbImage } from '../../../server/src/render/api';
import { CredentialStore } from '../backends/credentials';
import { describeTarget, renderTarget } from '../backends/renderTarget';
import { serverBackend } from '../backends/serverBackend';
import { dialogs } from '../dialogs';
import { ErrorReporter } from '../log';
import { GridPanel } from '../preview/gridPanel';
import { promptToRender } from '../preview/renderPrompt';
import { RenderService } from '../preview/renderService';
import { renderModel } from '../renderModel';
import { renderSettings } from '../settings';

export interface RenderGridDeps {
  client: LanguageClient;
  service: RenderService;
  errors: ErrorReporter;
  log: LogOutputChannel;
  credentials: CredentialStore;
}

/** The axes as specs (`Seed: 1-4`), for a caller that has them (a test, a keybinding's args): no questions asked. */
export interface RenderGridArgs {
  x?: string;
  y?: string;
  z?: string;
}

export type GridOutcome =
  | { status: 'done' | 'cancelled'; rendered: number; failed: number; missing: number; folder: string }
  | { status: 'declined' | 'failed'; message: string };

const finishedGrid = new EventEmitter<GridOutcome & { source: string }>();
/** Fires when a grid run ends (the extension-host tests wait on it). */
export const onDidRenderGrid = finishedGrid.event;

/** The choice that ends the axis questions (Y and Z are optional). */
const NO_MORE_AXES = '(none: render the grid)';

/**
 * Render X/Y/Z Plot…: A1111's X/Y/Z plot for the active `.prompt` file. Asks for each axis (its type, then its
 * values with the file's current value filled in, checked as typed), renders the cells on this computer or on
 * `sdPrompt.render.backend`'s server, fills the panel in as cells finish, and saves the grid and each cell's PNG
 * in the render output folder. Cancel stops between cells and keeps what is done.
 */
export async function renderGrid(deps: RenderGridDeps, target?: Uri, args: RenderGridArgs = {}): Promise<GridOutcome> {
  const document: TextDocument | undefined = target
    ? workspace.textDocuments.find((d) => d.uri.toString() === target.toString()) ?? (await workspace.openTextDocument(target))
    : window.activeTextEditor?.document;
  const source = document?.uri.toString() ?? '';
  const end = (outcome: GridOutcome): GridOutcome => {
    finishedGrid.fire({ ...outcome, source });
    return outcome;
  };
  if (!document || document.languageId !== 'sd-prompt') {
    void window.showInformationMessage('Render X/Y/Z Plot works on a .prompt file: open one first.');
    return end({ status: 'declined', message: 'no .prompt file' });
  }
  const text = document.getText();
  const settings = renderSettings(document.uri);
  const renderOn = renderTarget(settings.backend, settings.server);
  if ('problem' in renderOn) {
    void window.showWarningMessage(`Cannot render: ${renderOn.problem}.`);
    return end({ status: 'declined', message: renderOn.problem });
  }
  if (!workspace.isTrusted) {
    const agreed = await dialogs.confirm(
      'Render an X/Y/Z plot of this prompt in a workspace you have not trusted?',
      `Rendering runs on ${describeTarget(renderOn, settings.device)}, from your user settings; the workspace's render settings are ignored until you trust the workspace.`,
      'Render',
    );
    if (!agreed) return end({ status: 'declined', message: 'untrusted workspace' });
  }

  const specs = args.x !== undefined ? args : await askAxes(text);
  if (!specs) return end({ status: 'declined', message: 'no axes' });
  let plan: GridPlan;
  try {
    plan = planGrid(text, specs, await webuiCheckpoints(deps.client));
  } catch (e) {
    const message = e instanceof GridSpecError ? e.message : `cannot plan the grid: ${(e as Error).message}`;
    void window.showErrorMessage(message);
    return end({ status: 'declined', message });
  }
  // With sd-dynamic-prompts, A1111 expands each cell's prompt for that cell's seed (the extension runs inside every
  // cell's processing), so each cell renders the variant Render Preview would; a Prompt variant axis has chosen already.
  if (![plan.x, plan.y, plan.z].some((axis) => axis?.type === 'Prompt variant')) {
    const cells = await Promise.all(plan.cells.map(async (cell) => ({ ...cell, promptText: (await promptToRender(deps.client, cell.promptText, undefined)).promptText })));
    plan = { ...plan, cells };
  }

  let renderCell: RenderCell;
  let concurrency = 1;
  // The panel opens once the engine is ready (a missing model declines first); progress comes only after.
  let panel: GridPanel | undefined;
  const onProgress = (p: { cell: GridPlan['cells'][number]; step: number; steps: number }) => panel?.progress(plan.cells.indexOf(p.cell), p.step, p.steps);
  if (renderOn.kind === 'local') {
    const workspaceFolder = workspace.getWorkspaceFolder(document.uri)?.uri.fsPath ?? '';
    const picked = await renderModel(deps.client, text, settings.model, workspaceFolder);
    if (!picked) {
      const choose = await dialogs.offer('No model folder is set (sdPrompt.model): choose a diffusers ONNX model folder to render with.', 'Select Model Folder', 'warning');
      if (choose) await commands.executeCommand('sdPrompt.selectModelFolder');
      return end({ status: 'declined', message: 'no model folder' });
    }
    const warned = new Set<string>();
    renderCell = localCellRenderer({
      host: deps.service,
      request: { device: settings.device, defaults: settings.defaults, idleReleaseMs: settings.releaseAfterSeconds * 1000 },
      // A Checkpoint name cell carries `Model:` in its text: the checkpoint list picks it as Render Preview would.
      model: async (cell) => (cell.checkpoint === undefined ? picked.model : (await renderModel(deps.client, cell.promptText, settings.model, workspaceFolder))?.model ?? picked.model),
      loras: async (cell) => {
        const params: RenderLorasParams = { text: cell.promptText };
        const { loras, warnings } = await deps.client.sendRequest<RenderLorasResult>(RENDER_LORAS_REQUEST, params);
        for (const w of warnings.filter((w) => !warned.has(w))) {
          warned.add(w);
          deps.log.warn(`grid: ${w}`);
        }
        return loras;
      },
      onProgress,
    });
  } else {
    const cells = backendCellRenderer(await serverBackend(renderOn, deps.credentials), plan.cells.length, { onProgress });
    renderCell = cells.renderCell;
    concurrency = cells.concurrency;
  }

  const where = describeTarget(renderOn, settings.device);
  const name = path.basename(document.uri.path);
  panel = GridPanel.open(document.uri, plan, where);
  const abort = new AbortController();
  panel.onDidCancel(() => abort.abort());
  panel.onDidOpenCell((index) => void openCellPrompt(plan.cells[index].promptText));
  const folder = gridFolder(deps.service.outputFolder.fsPath, document.uri);
  const gridFile = path.join(folder, 'grid.png');
  panel.onDidOpenGrid(() => void commands.executeCommand('vscode.open', Uri.file(gridFile)));
  deps.log.info(`grid: ${name}, ${plan.cells.length} cells on ${where}; X ${specs.x}${specs.y ? `; Y ${specs.y}` : ''}${specs.z ? `; Z ${specs.z}` : ''}`);
  try {
    await fs.promises.mkdir(folder, { recursive: true });
    let finished = 0;
    const writes: Promise<void>[] = [];
    const run = await window.withProgress(
      { location: ProgressLocation.Notification, title: `X/Y/Z plot of ${name}`, cancellable: true },
      (progress, token) => {
        token.onCancellationRequested(() => abort.abort());
        return runGrid(plan, renderCell, {
          signal: abort.signal,
          concurrency,
          onCell: (outcome: GridCellOutcome) => {
            finished++;
            progress.report({ increment: 100 / plan.cells.length, message: `${finished} of ${plan.cells.length} cells` });
            panel.cell(outcome);
            if (outcome.result) {
              const file = path.join(folder, cellFileName(plan, outcome.index));
              writes.push(fs.promises.writeFile(file, outcome.result.png).catch((e: Error) => deps.log.error(`grid: cannot save ${file}: ${e.message}`)));
            } else deps.log.warn(`grid: cell ${panel.labelOf(outcome.index)} failed: ${outcome.error}`);
          },
        });
      },
    );
    await Promise.all(writes);
    const failed = run.done.filter((c) => c.error).length;
    const rendered = run.done.length - failed;
    const gridProblem = rendered > 0 ? saveGrid(plan, run.done, gridFile) : 'no cell rendered';
    if (gridProblem && rendered > 0) deps.log.warn(`grid: the grid image could not be made (${gridProblem}); the cells are saved`);
    const gridSaved = gridProblem === undefined;
    const summary = `${rendered} of ${plan.cells.length} cells rendered${failed ? `, ${failed} failed` : ''}${run.missing.length ? `, ${run.missing.length} not rendered (cancelled)` : ''}; saved in ${folder}`;
    deps.log.info(`grid: ${name}: ${summary}`);
    panel.finished(summary, gridSaved);
    return end({ status: run.cancelled ? 'cancelled' : 'done', rendered, failed, missing: run.missing.length, folder });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    panel.finished(`Failed: ${message}`, false);
    deps.errors.report(`X/Y/Z plot failed: ${message}`, e instanceof Error ? e.stack : undefined);
    return end({ status: 'failed', message });
  }
}

/** Each axis in turn: its type, then its values (pre-filled, checked as typed). Undefined when X is left unanswered. */
async function askAxes(text: string): Promise<RenderGridArgs | undefined> {
  const specs: RenderGridArgs = {};
  for (const axis of ['x', 'y', 'z'] as const) {
    const types = XYZ_AXIS_TYPES.map((t) => t.type);
    const type = (await dialogs.choose(`${axis.toUpperCase()} axis type`, axis === 'x' ? types : [NO_MORE_AXES, ...types])) as XyzAxisType | typeof NO_MORE_AXES | undefined;
    if (type === undefined) return axis === 'x' ? undefined : specs;
    if (type === NO_MORE_AXES) break;
    const values = await askValues(axis, type, text);
    if (values === undefined) return axis === 'x' ? undefined : specs;
    specs[axis] = `${type}: ${values}`;
  }
  return specs;
}

function askValues(axis: XyzAxisName, type: XyzAxisType, text: string): Thenable<string | undefined> {
  const info = XYZ_AXIS_TYPES.find((t) => t.type === type);
  const prefix = `${type}: `;
  // The planner's suggestion from the file's own values (its seed and the next three, its LoRA at other weights...).
  const suggested = suggestAxisSpec(text, type);
  const start = suggested.startsWith(prefix) ? suggested.slice(prefix.length) : '';
  return dialogs.input({
    title: `${axis.toUpperCase()} axis: ${type}`,
    prompt: `${info?.description ?? ''} — e.g. ${info?.example.slice(prefix.length) ?? ''}`,
    value: start,
    validateInput: (value) => {
      try {
        parseAxisSpec(axis, prefix + value);
        return undefined;
      } catch (e) {
        // The spec's column counts from the type's name; the box shows only the values.
        if (e instanceof GridSpecError) return `column ${Math.max(1, e.column - prefix.length + 1)}: ${e.reason}`;
        return (e as Error).message;
      }
    },
  });
}

async function openCellPrompt(promptText: string): Promise<void> {
  const doc = await workspace.openTextDocument({ language: 'sd-prompt', content: promptText });
  await window.showTextDocument(doc, { preview: false });
}

/** A folder per run in the output folder: `grids/<file>-<time>/`. */
function gridFolder(outputFolder: string, source: Uri): string {
  const stem = path.basename(source.path).replace(/\.prompt$/i, '').replace(/[^\w.-]+/g, '_').slice(0, 60) || 'untitled';
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return path.join(outputFolder, 'grids', `${stem}-${stamp}-${Date.now() % 1000}`);
}

/** `x1-y2-z1.png`, 1-based as `sd-prompt grid` names them. */
function cellFileName(plan: GridPlan, index: number): string {
  const c = plan.cells[index];
  return `x${c.x + 1}-y${c.y + 1}${plan.z ? `-z${c.z + 1}` : ''}.png`;
}

/** Writes the grid image as `sd-prompt grid` does (grey where a cell has no image); why not, when it could not. */
function saveGrid(plan: GridPlan, done: GridCellOutcome[], file: string): string | undefined {
  try {
    const images = new Map<number, RgbImage>();
    for (const c of done) if (c.result) images.set(c.index, decodePng(c.result.png, `cell ${c.index + 1}`));
    const first = done.find((c) => c.result)?.result;
    const cellAt = new Map(plan.cells.map((c, i) => [`${c.x},${c.y},${c.z}`, i]));
    const yLabels = plan.y?.labels ?? [''];
    const grids = (plan.z?.labels ?? ['']).map((_, z) =>
      drawGrid(
        yLabels.map((_, y) => plan.x.labels.map((_, x) => images.get(cellAt.get(`${x},${y},${z}`)!))),
        plan.x.labels,
        yLabels,
        first ? { cellSize: { width: first.width, height: first.height } } : {},
      ),
    );
    fs.writeFileSync(file, gridPng(plan.z ? drawZGrid(grids, plan.z.labels) : grids[0], first?.infotext));
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * The webui's checkpoint names, so a Checkpoint name value is matched as A1111 matches it (and a typo is refused with
 * did-you-mean before any cell renders, as the CLI does with --webui); no list: names are taken as written.
 */
async function webuiCheckpoints(client: LanguageClient): Promise<{ checkpoints?: string[] }> {
  try {
    const params: CheckpointListParams = {};
    const list = await client.sendRequest<CheckpointListResult>(CHECKPOINT_LIST_REQUEST, params);
    return list.checkpoints.length ? { checkpoints: list.checkpoints.map((c) => c.name) } : {};
  } catch {
    return {};
  }
}
