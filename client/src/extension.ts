import * as path from 'path';
import { commands, Event, ExtensionContext, Uri, window, workspace } from 'vscode';
import { CloseAction, ErrorAction, LanguageClient, LanguageClientOptions, RevealOutputChannelOn, ServerOptions, TransportKind } from 'vscode-languageclient/node';
import { ServerRestartPolicy } from './serverRestarts';
import { copyGenerationData } from './commands/copyGenerationData';
import { insertLora, InsertLoraArgs } from './commands/insertLora';
import { newPromptFile } from './commands/newPromptFile';
import { openGenerationDataFromImage } from './commands/openGenerationDataFromImage';
import { registerImageDropPaste } from './imageDropPaste';
import { openLoraFolder } from './commands/openLoraFolder';
import { onDidRender, onDidRenderStep, onDidStartRender, renderPreview, RenderPreviewArgs } from './commands/renderPreview';
import { renderGrid, RenderGridArgs } from './commands/renderGrid';
import { selectModelFolder } from './commands/selectModelFolder';
import { selectModel, SelectModelArgs } from './commands/selectModel';
import { startModelStatus } from './modelStatus';
import { selectRenderDevice, SelectRenderDeviceArgs } from './commands/selectRenderDevice';
import { startDeviceStatus } from './deviceStatus';
import { answerDialogs } from './dialogs';
import { ErrorReporter } from './log';
import { onDidShowPicker, PickerShown } from './pickers';
import { PREVIEW_VIEW_TYPE, PreviewPanels } from './preview/previewPanel';
import { RenderService } from './preview/renderService';
import { startTokenStatus } from './tokenStatus';
import { CredentialStore, setRenderServerCredentials } from './backends/credentials';
import { ServerLoraFeed } from './backends/serverLoras';

let client: LanguageClient | undefined;
let renderService: RenderService | undefined;

/** What activate() returns: events the extension-host tests wait on (no feature depends on them). */
export interface SdPromptTestApi {
  onDidShowPicker: Event<PickerShown>;
  onDidStartRender: typeof onDidStartRender;
  onDidRender: typeof onDidRender;
  onDidRenderStep: typeof onDidRenderStep;
  onDidShowImage: PreviewPanels['onDidShowImage'];
  onDidRunPanelAction: PreviewPanels['onDidRunAction'];
  /** What VS Code calls for a preview panel kept across a window reload. */
  restorePreview: PreviewPanels['restore'];
  onDidReportError: Event<string>;
  outputFolder: Uri;
  /** Answers the extension's dialogs (folder, save, modal questions) instead of a person. */
  answerDialogs: typeof answerDialogs;
  /** The facts a file's preview panel showed beside the last image it drew, one `name: value` a line. */
  previewDetails: (source: Uri) => string | undefined;
}

/** Starts the language server for `.prompt` files and registers the commands; each feature lives in its own file. */
export async function activate(context: ExtensionContext): Promise<SdPromptTestApi> {
  const log = window.createOutputChannel('SD Prompt', { log: true });
  const errors = new ErrorReporter(log);
  const restarts = new ServerRestartPolicy();
  context.subscriptions.push(log, errors);

  const serverModule = context.asAbsolutePath(path.join('dist', 'server.js'));
  const serverOptions: ServerOptions = {
    run: { module: serverModule, transport: TransportKind.ipc },
    debug: { module: serverModule, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6009'] } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ language: 'sd-prompt' }],
    synchronize: { configurationSection: 'sdPrompt' },
    outputChannel: log,
    // The server's own error lines go to the log only; a server that stops for good is one notification
    // with Show Log (ErrorReporter), instead of the client's stock messages.
    revealOutputChannelOn: RevealOutputChannelOn.Never,
    errorHandler: {
      error: (error, _message, count) => {
        log.error(`language server connection error ${count ?? ''}: ${error.message}`);
        return { action: count !== undefined && count <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown, handled: true };
      },
      closed: () => {
        const decision = restarts.closed();
        if (decision === 'restart') {
          log.warn('language server connection closed: restarting it');
          return { action: CloseAction.Restart, handled: true };
        }
        errors.report(decision.stop);
        return { action: CloseAction.DoNotRestart, handled: true };
      },
    },
  };
  client = new LanguageClient('sdPrompt', 'SD Prompt', serverOptions, clientOptions);
  const languageClient = client;

  const service = new RenderService(context.asAbsolutePath(path.join('dist', 'renderWorker.js')), Uri.joinPath(context.globalStorageUri, 'renders'), log);
  renderService = service;
  const panels = new PreviewPanels(service, (source) => void commands.executeCommand('sdPrompt.renderPreview', source, { seed: -1 }), errors);
  // Preview panels come back after a window reload with their file's renders.
  context.subscriptions.push(
    window.registerWebviewPanelSerializer(PREVIEW_VIEW_TYPE, { deserializeWebviewPanel: async (panel, state) => void (await panels.restore(panel, state)) }),
  );
  const credentials = new CredentialStore(context.secrets);
  const serverLoras = new ServerLoraFeed(client, credentials, log);
  const renderDeps = { client, service, panels, errors, log, credentials, serverLoras };
  context.subscriptions.push(
    panels,
    // The server's "Open LoRA file" action names files by URI string; VS Code's open needs a Uri.
    commands.registerCommand('sdPrompt.openFile', (uri: string) => commands.executeCommand('vscode.open', Uri.parse(uri))),
    commands.registerCommand('sdPrompt.renderPreview', (target?: Uri, args?: RenderPreviewArgs) =>
      renderPreview(renderDeps, target instanceof Uri ? target : undefined, args),
    ),
    commands.registerCommand('sdPrompt.renderGrid', (target?: Uri, args?: RenderGridArgs) => renderGrid(renderDeps, target instanceof Uri ? target : undefined, args)),
    commands.registerCommand('sdPrompt.insertLora', (args?: InsertLoraArgs) => insertLora(languageClient, args)),
    commands.registerCommand('sdPrompt.selectModelFolder', selectModelFolder),
    commands.registerCommand('sdPrompt.selectModel', (args?: SelectModelArgs) => selectModel(languageClient, args)),
    commands.registerCommand('sdPrompt.selectRenderDevice', (args?: SelectRenderDeviceArgs) => selectRenderDevice(args)),
    credentials,
    serverLoras,
    commands.registerCommand('sdPrompt.setRenderServerCredentials', () => setRenderServerCredentials(credentials)),
    commands.registerCommand('sdPrompt.openLoraFolder', () => openLoraFolder(languageClient)),
    commands.registerCommand('sdPrompt.copyGenerationData', () => copyGenerationData(languageClient)),
    commands.registerCommand('sdPrompt.newPromptFile', newPromptFile),
    commands.registerCommand('sdPrompt.openGenerationDataFromImage', (target?: Uri) => openGenerationDataFromImage(target)),
    registerImageDropPaste(),
    // A new model or device: the loaded sessions are for the old one.
    workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('sdPrompt.model') || e.affectsConfiguration('sdPrompt.render.device')) void service.release();
    }),
    { dispose: () => void client?.stop() },
  );
  await client.start();
  // The render server's LoRAs, for the language server's diagnostics (loras: null when rendering locally).
  void serverLoras.refresh();
  context.subscriptions.push(startTokenStatus(client), startDeviceStatus(), startModelStatus());
  return {
    onDidShowPicker,
    onDidStartRender,
    onDidRender,
    onDidRenderStep,
    onDidShowImage: panels.onDidShowImage,
    onDidRunPanelAction: panels.onDidRunAction,
    restorePreview: (panel, state) => panels.restore(panel, state),
    onDidReportError: errors.onDidReport,
    outputFolder: service.outputFolder,
    answerDialogs,
    previewDetails: (source) => panels.get(source)?.shownDetails,
  };
}

export async function deactivate(): Promise<void> {
  const stopping = [client?.stop(), renderService?.dispose()];
  client = undefined;
  renderService = undefined;
  await Promise.all(stopping);
}
