import * as path from 'path';
import { Disposable, EventEmitter, Uri, ViewColumn, WebviewPanel, window } from 'vscode';
import type { GridCellOutcome, GridPlan } from '../../../server/src/render/api';
import { gridHtml } from './gridHtml';

export const GRID_VIEW_TYPE = 'sdPrompt.grid';

/** What the page may ask: stop the run, open a cell's prompt, open the saved grid image. */
type GridPageMessage = { type: 'cancel' } | { type: 'openCell'; index: number } | { type: 'openGrid' };

/**
 * The "Render X/Y/Z Plot" panel for one run: the grid's cells fill in as they finish; Cancel (or closing
 * the panel) stops the run; a click on a cell asks for its prompt (the command opens it as a `.prompt`).
 */
export class GridPanel {
  private readonly cancelled = new EventEmitter<void>();
  /** Cancel pressed or the panel closed. */
  readonly onDidCancel = this.cancelled.event;
  private readonly openCell = new EventEmitter<number>();
  /** A cell clicked: its index in the plan. */
  readonly onDidOpenCell = this.openCell.event;
  private readonly openGrid = new EventEmitter<void>();
  readonly onDidOpenGrid = this.openGrid.event;
  private disposed = false;
  private readonly disposables: Disposable[] = [];

  private constructor(
    private readonly panel: WebviewPanel,
    private readonly plan: GridPlan,
  ) {
    this.disposables.push(
      panel.webview.onDidReceiveMessage((m: unknown) => this.receive(m)),
      panel.onDidDispose(() => {
        this.disposed = true;
        this.cancelled.fire();
        for (const d of this.disposables) d.dispose();
      }),
    );
  }

  static open(source: Uri, plan: GridPlan, target: string): GridPanel {
    const title = `X/Y/Z Plot ${path.basename(source.path)}`;
    const panel = window.createWebviewPanel(GRID_VIEW_TYPE, title, { viewColumn: ViewColumn.Beside, preserveFocus: true }, { enableScripts: true, localResourceRoots: [] });
    panel.webview.html = gridHtml(plan, title, target);
    return new GridPanel(panel, plan);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  progress(index: number, step: number, steps: number): void {
    this.post({ type: 'progress', index, step, steps });
  }

  cell(outcome: GridCellOutcome): void {
    const label = this.labelOf(outcome.index);
    if (outcome.result) this.post({ type: 'cell', index: outcome.index, label, image: `data:image/png;base64,${Buffer.from(outcome.result.png).toString('base64')}` });
    else this.post({ type: 'cell', index: outcome.index, label, error: outcome.error ?? 'failed' });
  }

  finished(summary: string, gridSaved: boolean): void {
    this.post({ type: 'finished', summary, gridSaved });
  }

  dispose(): void {
    this.panel.dispose();
  }

  /** The cell's place as its labels say it (`Seed: 2, 0.8`). */
  labelOf(index: number): string {
    const c = this.plan.cells[index];
    return [this.plan.x.labels[c.x], this.plan.y?.labels[c.y], this.plan.z?.labels[c.z]].filter((l) => l !== undefined).join(', ');
  }

  private post(message: unknown): void {
    if (!this.disposed) void this.panel.webview.postMessage(message);
  }

  /** The page is not trusted: only the three known messages, with an index inside the plan, are acted on. */
  private receive(m: unknown): void {
    const message = m as Partial<GridPageMessage>;
    if (message?.type === 'cancel') this.cancelled.fire();
    else if (message?.type === 'openGrid') this.openGrid.fire();
    else if (message?.type === 'openCell') {
      const index = (message as { index?: unknown }).index;
      if (typeof index === 'number' && Number.isInteger(index) && index >= 0 && index < this.plan.cells.length) this.openCell.fire(index);
    }
  }
}
