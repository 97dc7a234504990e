import * as path from 'path';
import { commands, Disposable, env, EventEmitter, Uri, ViewColumn, WebviewPanel, window, workspace } from 'vscode';
import { dialogs } from '../dialogs';
import { ErrorReporter } from '../log';
import { previewHtml } from './previewHtml';
import { RenderRecord, RenderService } from './renderService';

export const PREVIEW_VIEW_TYPE = 'sdPrompt.preview';

/** What the page shows; sent whole on every change (and again when the page reloads). */
interface ViewState {
  /** The `.prompt` file (URI string); the page keeps it so a reloaded window can restore the panel. */
  source: string;
  title: string;
  status: 'idle' | 'rendering' | 'done' | 'cancelled' | 'error';
  /** What renders it, while it renders: `AUTOMATIC1111/Forge at http://…`; absent for this computer. */
  target?: string;
  step: number;
  steps: number;
  error?: string;
  /** Newest first; `imageUri` is the PNG as the webview may load it. */
  history: (RenderRecord & { imageUri: string })[];
}

/** What a button of the page did: Copy Image (with the PNG's size), Copy Generation Data, Open in Editor. */
export interface PanelAction {
  action: 'copyImage' | 'copy' | 'open' | 'save';
  id: string;
  bytes?: number;
  /** Save PNG: where it went (URI string). */
  target?: string;
}

type PageMessage =
  | { type: 'ready' }
  | { type: 'rerender' }
  | { type: 'save' | 'copy' | 'open'; id: string }
  | { type: 'shown'; id: string; details?: string }
  | { type: 'copiedImage'; id: string; bytes: number }
  | { type: 'copyImageFailed'; id: string; message: string };

/** What a page message's work was, for the error when it fails. */
const FAILED_WORK: Partial<Record<PageMessage['type'], string>> = {
  save: 'save the PNG',
  copy: 'copy the generation data',
  open: 'open the PNG',
  copiedImage: 'copy the image',
};

/**
 * The render preview of one `.prompt` file: the image as it forms and when done, its parameters,
 * merged LoRAs, device and timings, and the file's earlier renders. The page may load only files of
 * the output folder (`localResourceRoots`).
 */
export class PreviewPanel {
  private readonly disposed = new EventEmitter<void>();
  readonly onDidDispose = this.disposed.event;
  private state: ViewState;
  /** The newest preview frame, sent again when the page reloads: raw RGB (local engine) or an encoded image (a server's). */
  private lastPreview: { type: 'preview'; width: number; height: number; rgb: string } | { type: 'previewImage'; mime: string; data: string } | undefined;
  /** The facts the page shows beside the last image it drew (`Backend: …`, `Seed: …`), one per line. */
  shownDetails: string | undefined;
  private readonly rerenderRequested = new EventEmitter<void>();
  /** The page's Re-render button: the command renders the file again with a new seed. */
  readonly onDidRequestRerender = this.rerenderRequested.event;
  private readonly imageShown = new EventEmitter<string>();
  /** The page has drawn a finished image (the record id). */
  readonly onDidShowImage = this.imageShown.event;
  private readonly actionDone = new EventEmitter<PanelAction>();
  /** A button of the page did its work (the extension-host tests wait on it). */
  readonly onDidRunAction = this.actionDone.event;

  constructor(
    readonly source: Uri,
    private readonly panel: WebviewPanel,
    history: RenderRecord[],
    /** A button whose work failed (a save to a read-only folder, a PNG deleted meanwhile). */
    private readonly onError: (message: string, error: unknown) => void,
  ) {
    this.state = { source: source.toString(), title: path.basename(source.path), status: 'idle', step: 0, steps: 0, history: history.map((r) => this.withImageUri(r)) };
    panel.webview.html = previewHtml(panel.webview);
    panel.webview.onDidReceiveMessage((m: PageMessage) =>
      this.onMessage(m).catch((e: unknown) => this.onError(`Could not ${FAILED_WORK[m.type] ?? m.type}: ${e instanceof Error ? e.message : String(e)}`, e)),
    );
    panel.onDidDispose(() => {
      this.disposed.fire();
      this.disposed.dispose();
      this.rerenderRequested.dispose();
      this.imageShown.dispose();
      this.actionDone.dispose();
    });
  }

  get visible(): boolean {
    return this.panel.visible;
  }

  reveal(): void {
    this.panel.reveal(undefined, true);
  }

  /** A render starts; `target` names the server that runs it (`AUTOMATIC1111/Forge at http://…`), if not this computer. */
  startRender(target?: string): void {
    this.lastPreview = undefined;
    this.update({ status: 'rendering', step: 0, steps: 0, error: undefined, target });
  }

  /** A step done, with the image as it forms: RGB from the local engine, or JPEG/PNG bytes as a server sends them. */
  progress(step: number, steps: number, preview?: { width: number; height: number; rgb: Uint8Array } | { mime: string; bytes: Uint8Array }): void {
    this.update({ step, steps });
    if (!preview) return;
    this.lastPreview =
      'rgb' in preview
        ? { type: 'preview', width: preview.width, height: preview.height, rgb: Buffer.from(preview.rgb).toString('base64') }
        : { type: 'previewImage', mime: preview.mime, data: Buffer.from(preview.bytes).toString('base64') };
    void this.panel.webview.postMessage(this.lastPreview);
  }

  finished(record: RenderRecord): void {
    this.update({ status: 'done', target: undefined, history: [this.withImageUri(record), ...this.state.history] });
  }

  cancelled(): void {
    this.update({ status: 'cancelled', target: undefined });
  }

  failed(message: string): void {
    this.update({ status: 'error', error: message, target: undefined });
  }

  dispose(): void {
    this.panel.dispose();
  }

  private update(change: Partial<ViewState>): void {
    this.state = { ...this.state, ...change };
    void this.panel.webview.postMessage({ type: 'state', state: this.state });
  }

  private withImageUri(record: RenderRecord): RenderRecord & { imageUri: string } {
    return { ...record, imageUri: this.panel.webview.asWebviewUri(Uri.file(record.png)).toString() };
  }

  private async onMessage(m: PageMessage): Promise<void> {
    if (m.type === 'ready') {
      await this.panel.webview.postMessage({ type: 'state', state: this.state });
      if (this.state.status === 'rendering' && this.lastPreview) await this.panel.webview.postMessage(this.lastPreview);
      return;
    }
    if (m.type === 'rerender') {
      this.rerenderRequested.fire();
      return;
    }
    if (m.type === 'shown') {
      this.shownDetails = m.details;
      this.imageShown.fire(m.id);
      return;
    }
    if (m.type === 'copiedImage') {
      window.setStatusBarMessage('$(check) Copied the image', 3000);
      this.actionDone.fire({ action: 'copyImage', id: m.id, bytes: m.bytes });
      return;
    }
    if (m.type === 'copyImageFailed') {
      void window.showWarningMessage(`Could not copy the image: ${m.message}. Save PNG… writes it to a file instead.`);
      return;
    }
    const record = this.state.history.find((r) => r.id === m.id);
    if (!record) return;
    if (m.type === 'copy') {
      await env.clipboard.writeText(record.infotext);
      window.setStatusBarMessage('$(check) Copied the generation data', 3000);
      this.actionDone.fire({ action: 'copy', id: record.id });
    } else if (m.type === 'open') {
      await commands.executeCommand('vscode.open', Uri.file(record.png));
      this.actionDone.fire({ action: 'open', id: record.id });
    } else if (m.type === 'save') {
      // Next to the .prompt file when it is on disk; the PNG already carries the infotext.
      const stem = path.basename(this.source.path).replace(/\.prompt$/i, '');
      const near = this.source.scheme === 'file' ? Uri.file(path.join(path.dirname(this.source.fsPath), `${stem}-${record.seed}.png`)) : undefined;
      const target = await dialogs.saveFile({ defaultUri: near, filters: { 'PNG image': ['png'] }, saveLabel: 'Save PNG' });
      if (!target) return;
      await workspace.fs.copy(Uri.file(record.png), target, { overwrite: true });
      window.setStatusBarMessage(`$(check) Saved ${path.basename(target.path)}`, 3000);
      this.actionDone.fire({ action: 'save', id: record.id, target: target.toString() });
    }
  }
}

/** One preview panel per `.prompt` file, opened beside the editor. */
export class PreviewPanels implements Disposable {
  private readonly panels = new Map<string, PreviewPanel>();
  private readonly imageShown = new EventEmitter<{ source: string; id: string }>();
  /** A panel has drawn a finished image. */
  readonly onDidShowImage = this.imageShown.event;
  private readonly actionDone = new EventEmitter<PanelAction & { source: string }>();
  /** A panel's button did its work. */
  readonly onDidRunAction = this.actionDone.event;

  constructor(
    private readonly service: RenderService,
    private readonly onRerender: (source: Uri) => void,
    private readonly errors: ErrorReporter,
  ) {}

  get(source: Uri): PreviewPanel | undefined {
    return this.panels.get(source.toString());
  }

  async open(source: Uri): Promise<PreviewPanel> {
    const known = this.panels.get(source.toString());
    if (known) {
      if (!known.visible) known.reveal();
      return known;
    }
    const panel = window.createWebviewPanel(
      PREVIEW_VIEW_TYPE,
      `Preview ${path.basename(source.path)}`,
      { viewColumn: ViewColumn.Beside, preserveFocus: true },
      { enableScripts: true, localResourceRoots: [this.service.outputFolder], retainContextWhenHidden: false },
    );
    return this.adopt(source, panel);
  }

  /**
   * A panel VS Code kept across a window reload (the page's saved state names its file): shown again
   * with the file's renders. A state without a file (not ours, or from an old version) closes it.
   */
  async restore(panel: WebviewPanel, state: unknown): Promise<PreviewPanel | undefined> {
    const source = typeof state === 'object' && state !== null && typeof (state as { source?: unknown }).source === 'string' ? (state as { source: string }).source : undefined;
    if (!source || this.panels.has(source)) {
      panel.dispose();
      return undefined;
    }
    panel.webview.options = { enableScripts: true, localResourceRoots: [this.service.outputFolder] };
    return this.adopt(Uri.parse(source), panel);
  }

  private async adopt(source: Uri, panel: WebviewPanel): Promise<PreviewPanel> {
    const preview = new PreviewPanel(source, panel, await this.service.history(source), (message, e) => this.errors.report(message, e instanceof Error ? e.stack : undefined));
    this.panels.set(source.toString(), preview);
    preview.onDidDispose(() => this.panels.delete(source.toString()));
    preview.onDidRequestRerender(() => this.onRerender(source));
    preview.onDidShowImage((id) => this.imageShown.fire({ source: source.toString(), id }));
    preview.onDidRunAction((done) => this.actionDone.fire({ source: source.toString(), ...done }));
    return preview;
  }

  dispose(): void {
    for (const p of [...this.panels.values()]) p.dispose();
    this.panels.clear();
    this.imageShown.dispose();
    this.actionDone.dispose();
  }
}
