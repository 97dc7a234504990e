import * as path from 'path';
import { CancellationToken, commands, EventEmitter, LogOutputChannel, ProgressLocation, TextDocument, Uri, window, workspace } from 'vscode';
import { LanguageClient } from 'vscode-languageclient/node';
import { loraMergeSummary } from '../../../common/src/mergeReport';
import {
  MERGE_REPORT_NOTIFICATION,
  MergeReportParams,
  RENDER_LORAS_REQUEST,
  RenderLorasParams,
  RenderLorasResult,
  SELECTION_PROMPT_REQUEST,
  SelectionPromptParams,
  SelectionPromptResult,
} from '../../../common/src/protocol';
import { BackendError, RenderError, RenderRequest } from '../../../server/src/render/api';
import { BackendFault, backendFault } from '../backends/backendFault';
import { CredentialStore } from '../backends/credentials';
import { describeTarget, RenderTarget, renderTarget } from '../backends/renderTarget';
import { serverBackend } from '../backends/serverBackend';
import { ServerLoraFeed } from '../backends/serverLoras';
import { dialogs } from '../dialogs';
import { renderModel } from '../renderModel';
import { ErrorReporter } from '../log';
import { PreviewPanel, PreviewPanels } from '../preview/previewPanel';
import { newSeed, promptToRender } from '../preview/renderPrompt';
import { RenderRecord, RenderService } from '../preview/renderService';
import { renderSettings } from '../settings';

export interface RenderPreviewArgs {
  /** Overrides the file's seed (`-1`: a new random seed, as Re-render does). */
  seed?: number;
}

export interface RenderPreviewDeps {
  client: LanguageClient;
  service: RenderService;
  panels: PreviewPanels;
  errors: ErrorReporter;
  log: LogOutputChannel;
  /** Render server credentials (SecretStorage), for `sdPrompt.render.backend` other than `local`. */
  credentials: CredentialStore;
  /** Told after each render on a server, so the language server's list of its LoRAs stays current. */
  serverLoras: ServerLoraFeed;
}

/** Fires when a render ends: the record, or why not ('cancelled', 'failed', 'declined'). */
export type RenderOutcome = { status: 'done'; record: RenderRecord } | { status: 'cancelled' | 'failed' | 'declined'; message?: string };
const rendered = new EventEmitter<RenderOutcome & { source: string }>();
export const onDidRender = rendered.event;
/** Fires when a render has started (the tests cancel it from here). */
const started = new EventEmitter<{ source: string; cancel: () => void }>();
export const onDidStartRender = started.event;
/** Fires after each denoising step of a render. */
const stepped = new EventEmitter<{ source: string; step: number; steps: number }>();
export const onDidRenderStep = stepped.event;

/** Renders in flight, by source URI: a new render of the same file replaces the running one. */
const running = new Map<string, AbortController>();
/** An untrusted workspace's file is rendered only after the person agreed once in this session. */
let untrustedRenderAllowed = false;

/**
 * Render Preview: the active `.prompt` file (or its selection) rendered with `sdPrompt.model` on
 * `sdPrompt.render.device`, its LoRA tags resolved by the language server as A1111 resolves them; or,
 * with `sdPrompt.render.backend` set, sent as written to the user's webui at `sdPrompt.render.server`.
 * A file with dynamic prompts renders the first image's variant for the render's seed.
 * Progress (with Cancel) in a notification, the image as it forms and when done in the preview panel,
 * the PNG written to the output folder. Resolves with how it ended.
 */
export async function renderPreview(deps: RenderPreviewDeps, target?: Uri, args: RenderPreviewArgs = {}): Promise<RenderOutcome> {
  const editor = window.activeTextEditor;
  const document: TextDocument | undefined = target
    ? workspace.textDocuments.find((d) => d.uri.toString() === target.toString()) ?? (await workspace.openTextDocument(target))
    : editor?.document;
  if (!document || document.languageId !== 'sd-prompt') {
    void window.showInformationMessage('Render Preview works on a .prompt file: open one first.');
    return { status: 'declined', message: 'no .prompt file' };
  }
  // The palette on a selection renders the selection; the title-bar button (which passes the file) the file.
  const selection = !target && editor && editor.document === document && !editor.selection.isEmpty ? editor.selection : undefined;
  let promptText = document.getText();

  let settings = renderSettings(document.uri);
  const renderOn = renderTarget(settings.backend, settings.server);
  if ('problem' in renderOn) {
    deps.log.warn(`render: ${renderOn.problem}`);
    void offerFix({ message: `Cannot render: ${renderOn.problem}.`, action: 'Open Settings' });
    return { status: 'declined', message: renderOn.problem };
  }

  if (!workspace.isTrusted && !untrustedRenderAllowed) {
    const agreed = await dialogs.confirm(
      'Render this prompt in a workspace you have not trusted?',
      renderOn.kind === 'local'
        ? 'Rendering runs the model from your user settings on this computer; workspace settings for the model and LoRA folders are ignored until you trust the workspace.'
        : `Rendering sends the prompt to ${describeTarget(renderOn, settings.device)}, from your user settings; the workspace's render settings are ignored until you trust the workspace.`,
      'Render',
    );
    if (!agreed) return { status: 'declined', message: 'untrusted workspace' };
    untrustedRenderAllowed = true;
  }

  // A server renders with its own checkpoints (the file's Model: / Model hash: choose there): no local model.
  let model = '';
  /** The VAE renderModel picked (A1111's choice from `VAE:`/`VAE hash:`, sdPrompt.vae); undefined: Automatic. */
  let vae: string | null | undefined;
  if (renderOn.kind === 'local') {
    const workspaceFolder = workspace.getWorkspaceFolder(document.uri)?.uri.fsPath ?? '';
    let picked = await renderModel(deps.client, document.getText(), settings.model, workspaceFolder);
    if (!picked) {
      deps.log.info('render: no model folder is set (sdPrompt.model); asking for one');
      const choose = await dialogs.offer('No model folder is set (sdPrompt.model): choose a diffusers ONNX model folder to render with.', 'Select Model Folder', 'warning');
      if (choose) await commands.executeCommand('sdPrompt.selectModelFolder');
      settings = renderSettings(document.uri);
      picked = await renderModel(deps.client, document.getText(), settings.model, workspaceFolder);
      if (!picked) return { status: 'declined', message: 'no model folder' };
    }
    model = picked.model;
    vae = picked.vae;
    if (picked.why !== 'sdPrompt.model') deps.log.info(`render: ${picked.why}`);
  }
  // Re-render's new seed is picked here, so the dynamic-prompt variant and the render use the same one.
  const seed = args.seed === -1 ? newSeed() : args.seed;

  const source = document.uri.toString();
  running.get(source)?.abort();
  const abort = new AbortController();
  running.set(source, abort);
  const end = (outcome: RenderOutcome): RenderOutcome => {
    if (running.get(source) === abort) running.delete(source);
    rendered.fire({ ...outcome, source });
    return outcome;
  };

  const panel = await deps.panels.open(document.uri);
  panel.startRender(renderOn.kind === 'local' ? undefined : describeTarget(renderOn, settings.device));
  try {
    if (selection) {
      // The selection as the positive prompt, with the file's negative prompt and parameters.
      const params: SelectionPromptParams = { text: document.getText(), selected: document.getText(selection) };
      promptText = (await deps.client.sendRequest<SelectionPromptResult>(SELECTION_PROMPT_REQUEST, params)).promptText;
    }
    const dynamic = await promptToRender(deps.client, promptText, seed);
    if (dynamic.unresolved) deps.log.debug(`render: dynamic prompts not resolved (${dynamic.unresolved}): the text is rendered as written`);
    if (dynamic.variant) deps.log.info(`render: ${dynamic.variant}`);
    promptText = dynamic.promptText;
    if (renderOn.kind !== 'local') {
      const record = await renderOnServer(deps, document, renderOn, panel, promptText, { seed, variant: dynamic.variant, abort, source });
      return end({ status: 'done', record });
    }
    const lorasParams: RenderLorasParams = { text: promptText };
    const { loras, warnings, skipped = [] } = await deps.client.sendRequest<RenderLorasResult>(RENDER_LORAS_REQUEST, lorasParams);
    for (const w of warnings) deps.log.warn(`render: ${w}`);
    const request: RenderRequest = {
      promptText,
      model,
      device: settings.device,
      overrides: seed !== undefined ? { seed } : undefined,
      defaults: settings.defaults,
      previewEvery: 1,
      loras,
      ...(vae !== undefined ? { vae } : {}),
      idleReleaseMs: settings.releaseAfterSeconds * 1000,
    };
    deps.log.info(`render: ${path.basename(document.uri.path)} with ${model}${vae ? `, VAE ${path.basename(vae)}` : vae === null ? ", the checkpoint's own VAE" : ''} on ${settings.device}${loras.length ? `, LoRAs ${loras.map((l) => l.name).join(', ')}` : ''}`);
    started.fire({ source, cancel: () => abort.abort() });
    const result = await window.withProgress(
      { location: ProgressLocation.Notification, title: `Rendering ${path.basename(document.uri.path)}`, cancellable: true },
      (progress, token: CancellationToken) => {
        token.onCancellationRequested(() => abort.abort());
        let reported = 0;
        return deps.service.render(request, {
          signal: abort.signal,
          onProgress: (p) => {
            const percent = (p.step / p.steps) * 100;
            progress.report({ increment: percent - reported, message: `step ${p.step} of ${p.steps}` });
            reported = percent;
            panel.progress(p.step, p.steps, p.preview);
            stepped.fire({ source, step: p.step, steps: p.steps });
          },
        });
      },
    );
    // One line for what `auto` (or a named device) tried before the one that ran.
    if (result.attempts.length) deps.log.warn(`render: ran on ${result.device}; ${result.attempts.map((a) => `${a.device} unavailable: ${a.error}`).join('; ')}`);
    // What the merge did shows on the file's LoRA tags (modules that matched nothing, files not merged).
    const report: MergeReportParams = {
      textDocument: { uri: document.uri.toString() },
      model: path.basename(model),
      loras: result.loras.map(({ name, matched, unmatched, mismatched, error, code }) => ({ name, matched, unmatched, mismatched, error, code })),
    };
    void deps.client.sendNotification(MERGE_REPORT_NOTIFICATION, report);
    for (const l of result.loras) {
      if (l.error || l.unmatched.length || l.mismatched.length) deps.log.warn(`render: LoRA ${loraMergeSummary(l)}`);
    }
    const record = await deps.service.save(document.uri, result, skipped, dynamic.variant);
    const t = result.timings;
    deps.log.info(
      `render: ${record.png}: ${result.width}x${result.height}, ${result.steps} steps of ${result.sampler}, seed ${result.seed}, on ${result.device} (load ${t.load} ms, encode ${t.encode} ms, denoise ${t.denoise} ms, decode ${t.decode} ms)`,
    );
    panel.finished(record);
    return end({ status: 'done', record });
  } catch (e) {
    if ((e instanceof RenderError && e.cancelled) || (e instanceof BackendError && e.kind === 'cancelled')) {
      deps.log.info(`render: ${path.basename(document.uri.path)} cancelled`);
      panel.cancelled();
      return end({ status: 'cancelled' });
    }
    if (e instanceof BackendError && renderOn.kind !== 'local') {
      // One message, with Set Credentials / Open Settings where that is the fix.
      const fault = backendFault(renderOn.kind, e);
      panel.failed(e.message);
      if (fault.action) {
        deps.log.error(fault.message);
        void offerFix(fault);
      } else {
        deps.errors.report(fault.message);
      }
      return end({ status: 'failed', message: fault.message });
    }
    const message = e instanceof Error ? e.message : String(e);
    panel.failed(message);
    deps.errors.report(`Render failed: ${message}`, e instanceof Error && !(e instanceof RenderError) ? e.stack : undefined);
    return end({ status: 'failed', message });
  }
}

/**
 * The render on the user's webui: the text as written (the server parses it), the file's seed unless
 * overridden, progress and the server's preview frames in the panel, Cancel telling the server to stop,
 * and the PNG (with the server's infotext) saved in the output folder with its record.
 */
async function renderOnServer(
  deps: RenderPreviewDeps,
  document: TextDocument,
  target: Exclude<RenderTarget, { kind: 'local' }>,
  panel: PreviewPanel,
  promptText: string,
  run: { seed?: number; variant?: string; abort: AbortController; source: string },
): Promise<RenderRecord> {
  const name = path.basename(document.uri.path);
  const where = describeTarget(target, '');
  const backend = await serverBackend(target, deps.credentials);
  deps.log.info(`render: ${name} on ${where}`);
  started.fire({ source: run.source, cancel: () => run.abort.abort() });
  const began = Date.now();
  const result = await window.withProgress(
    { location: ProgressLocation.Notification, title: `Rendering ${name} on ${where}`, cancellable: true },
    (progress, token: CancellationToken) => {
      token.onCancellationRequested(() => run.abort.abort());
      let reported = 0;
      return backend.render(
        { promptText, overrides: run.seed !== undefined ? { seed: run.seed } : undefined },
        {
          signal: run.abort.signal,
          onProgress: (p) => {
            if (p.steps > 0) {
              const percent = (Math.min(p.step, p.steps) / p.steps) * 100;
              progress.report({ increment: percent - reported, message: `step ${p.step} of ${p.steps}` });
              reported = percent;
            }
            panel.progress(p.step, p.steps, p.preview);
            stepped.fire({ source: run.source, step: p.step, steps: p.steps });
          },
        },
      );
    },
  );
  const elapsed = Date.now() - began;
  for (const note of result.notes) deps.log.info(`render: note from ${target.kind}: ${note}`);
  const record = await deps.service.saveFromBackend(document.uri, result, elapsed, run.variant);
  deps.log.info(`render: ${record.png}: ${result.width}x${result.height}, ${result.steps} steps of ${result.sampler}, seed ${record.seed}, on ${where}${result.model ? ` with ${result.model}` : ''} (${elapsed} ms)`);
  panel.finished(record);
  // A LoRA added to the webui since the last list: the diagnostics catch up.
  void deps.serverLoras.refresh();
  return record;
}

/** A fault's message with the action that fixes it; the action runs when the person chooses it. */
async function offerFix(fault: BackendFault): Promise<void> {
  if (!fault.action) return;
  const chosen = await dialogs.offer(fault.message, fault.action, 'warning');
  if (!chosen) return;
  if (fault.action === 'Set Credentials') await commands.executeCommand('sdPrompt.setRenderServerCredentials');
  else await commands.executeCommand('workbench.action.openSettings', 'sdPrompt.render');
}
