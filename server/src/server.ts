import {
  CancellationToken,
  CodeActionRequest,
  CompletionRequest,
  Connection,
  DidChangeConfigurationNotification,
  DocumentDiagnosticReportKind,
  DocumentDiagnosticRequest,
  DocumentFormattingRequest,
  DocumentLinkRequest,
  DocumentRangeFormattingRequest,
  DocumentSymbolRequest,
  ErrorCodes,
  FoldingRangeRequest,
  HoverRequest,
  InlayHintRequest,
  ResponseError,
  SemanticTokensRequest,
  TextDocumentSyncKind,
  TextDocuments,
} from 'vscode-languageserver';
import { TextDocument } from 'vscode-languageserver-textdocument';
import {
  createPromptLanguageService,
  DEFAULT_SETTINGS,
  libraryFolders,
  PromptSettings,
  resolveSettings,
  SEMANTIC_TOKEN_MODIFIERS,
  SEMANTIC_TOKEN_TYPES,
} from './service';
import { LibraryFileSystem } from './service/library/fileSystem';
import { LibraryHost } from './libraryHost';
import {
  GENERATION_DATA_REQUEST,
  GenerationDataResult,
  LORA_LIST_REQUEST,
  CHECKPOINT_LIST_REQUEST,
  CheckpointListResult,
  LoraListResult,
  MERGE_REPORT_NOTIFICATION,
  RENDER_LORAS_REQUEST,
  RenderLorasResult,
  SELECTION_PROMPT_REQUEST,
  SelectionPromptResult,
  SERVER_LORAS_NOTIFICATION,
  RENDER_PROMPT_REQUEST,
  RenderPromptResult,
  TOKEN_COUNT_REQUEST,
  TokenCountResult,
} from '../../common/src/protocol';
import { CheckedParams, checkParams } from './messageShapes';
import { runSafe } from './runSafe';
import { checkpointList } from './service/features/checkpointList';
import { generationData, loraPickList, renderLoras, selectionPromptText } from './service/features/extensionRequests';
import { parsePromptDocument } from './service/syntax/document';
import { TokenizerHost } from './tokenizerHost';
import { TagHost } from './tagHost';
import { WildcardWatcher } from './service/dynamic/wildcardWatcher';
import { dynamicPromptsEnabled } from './service/dynamic/wildcardFolders';
import { ServerLoraList } from './service/library/serverLoras';
import { renderPrompt } from './service/features/renderPrompt';
import { imageLinkHover } from './service/features/imageLinkHover';
import { WildcardLibrary } from './service/dynamic/wildcardLibrary';

export interface ServerOptions {
  /** File access for the LoRA library (the Node entry passes the real disk). */
  fileSystem?: LibraryFileSystem;
  /** Whether a folder exists (for the webui layouts); defaults to asking nothing. */
  exists?: (path: string) => boolean;
  /** The user's home folder (where the Hugging Face cache lives). */
  home?: string;
  /** The CLIP tokenizer files shipped with the extension (`resources/clip/`). */
  bundledTokenizer?: string;
}

/** A1111's default Steps, for a render whose file and settings name none. */
const DEFAULT_RENDER_STEPS = 20;

/** How long typing pauses before diagnostics are pushed. */
const DIAGNOSTICS_DELAY_MS = 200;

/**
 * LSP glue: capabilities, settings through `workspace/configuration`, routing to the pure
 * service, push and pull diagnostics, cancellation. Knows nothing about prompts itself.
 */
export function startServer(connection: Connection, options: ServerOptions = {}): void {
  const documents = new TextDocuments(TextDocument);
  const host = options.fileSystem
    ? new LibraryHost(options.fileSystem, options.exists ?? (() => false), (m) => connection.console.log(m))
    : undefined;
  const tokenizerHost = options.fileSystem ? new TokenizerHost(options.fileSystem, options.home ?? '', (m) => connection.console.log(m), options.bundledTokenizer) : undefined;
  const tagHost = options.fileSystem ? new TagHost(options.fileSystem, (m) => connection.console.log(m), () => refreshAll()) : undefined;
  const wildcards = options.fileSystem ? new WildcardWatcher(options.fileSystem) : undefined;
  wildcards?.onDidChange(() => refreshAll());
  const exists = options.exists ?? (() => false);
  /** The settings as the service reads them: dynamic prompts are on when the setting says so or the webui has the extension. */
  const effective = (settings: PromptSettings): PromptSettings => {
    const enable = dynamicPromptsEnabled(settings, exists);
    return enable === settings.dynamicPrompts.enable ? settings : { ...settings, dynamicPrompts: { ...settings.dynamicPrompts, enable } };
  };
  /** The render server's LoRAs while a server backend is in use and its list is known (`sdPrompt/serverLoras`). */
  let serverLoras: ServerLoraList | undefined;
  const service = createPromptLanguageService({
    serverLoras: () => serverLoras,
    tags: () => tagHost?.index,
    wildcards: () => wildcards?.library,
    library: () => host?.library,
    shortHash: (path) => host?.shortHash(path),
    tokenizer: () => tokenizerHost?.tokenizer,
    embeddings: () => {
      const tokenizer = tokenizerHost?.tokenizer;
      if (!host || !tokenizer || tokenizer.approximate) return undefined;
      return host.embeddingLookup((text) => tokenizer.encodeWithOffsets(text).ids, tokenizer);
    },
  });
  const settingsCache = new Map<string, Promise<PromptSettings>>();
  const pending = new Map<string, NodeJS.Timeout>();
  let configurationCapability = false;
  let dynamicConfigurationChange = false;
  let pullDiagnostics = false;
  let diagnosticsRefresh = false;
  let semanticTokensRefresh = false;
  let inlayHintRefresh = false;

  connection.onInitialize((params) => {
    const caps = params.capabilities;
    configurationCapability = !!caps.workspace?.configuration;
    dynamicConfigurationChange = !!caps.workspace?.didChangeConfiguration?.dynamicRegistration;
    pullDiagnostics = !!caps.textDocument?.diagnostic;
    diagnosticsRefresh = !!caps.workspace?.diagnostics?.refreshSupport;
    semanticTokensRefresh = !!caps.workspace?.semanticTokens?.refreshSupport;
    inlayHintRefresh = !!caps.workspace?.inlayHint?.refreshSupport;
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        hoverProvider: true,
        documentSymbolProvider: true,
        foldingRangeProvider: true,
        documentFormattingProvider: true,
        documentRangeFormattingProvider: true,
        completionProvider: { triggerCharacters: ['<', ':'], resolveProvider: true },
        documentLinkProvider: { resolveProvider: false },
        inlayHintProvider: true,
        codeActionProvider: { codeActionKinds: ['quickfix'] },
        semanticTokensProvider: {
          legend: { tokenTypes: [...SEMANTIC_TOKEN_TYPES], tokenModifiers: [...SEMANTIC_TOKEN_MODIFIERS] },
          full: true,
        },
        diagnosticProvider: { interFileDependencies: false, workspaceDiagnostics: false },
      },
      serverInfo: { name: 'sd-prompt' },
    };
  });

  /** The library follows the window-level settings; a change of folders rescans once. */
  const configureLibraryNow = async () => {
    if (!host) return;
    const settings = await windowSettings();
    if (await tokenizerHost?.configure(settings)) {
      refreshAll();
      if (inlayHintRefresh) connection.languages.inlayHint.refresh().catch(() => undefined);
    }
    // Tag lists load beside the LoRA scan (a 200,000-line list takes a while to index); nothing waits for them.
    void tagHost?.configure(settings).then(
      (changed) => changed && refreshAll(),
      (e) => connection.console.error(`tag lists failed to load: ${e}`),
    );
    void wildcards?.configure(settings, exists).catch((e) => connection.console.error(`wildcard files failed to load: ${e}`));
    await host.configure(settings);
  };
  const windowSettings = async () =>
    configurationCapability
      ? effective(resolveSettings(await connection.workspace.getConfiguration('sdPrompt').then(undefined, () => undefined)))
      : DEFAULT_SETTINGS;
  /**
   * Configurations run one after the other, so a request that awaits `configureLibrary()` sees the
   * library of the settings as they are now, scanned to the end.
   */
  let libraryConfigured: Promise<void> = Promise.resolve();
  const configureLibrary = () => (libraryConfigured = libraryConfigured.catch(() => undefined).then(configureLibraryNow));

  const refreshAll = () => {
    if (pullDiagnostics) {
      if (diagnosticsRefresh) connection.languages.diagnostics.refresh().catch((e) => connection.console.warn(`diagnostics refresh failed: ${e}`));
    } else for (const d of documents.all()) scheduleDiagnostics(d, 0);
  };
  host?.catalog.onDidChange(refreshAll);

  connection.onInitialized(() => {
    void configureLibrary().catch((e) => connection.console.error(`library scan failed: ${e}`));
    if (configurationCapability && dynamicConfigurationChange) {
      // A client that refuses the registration still works: settings are read per request.
      connection.client
        .register(DidChangeConfigurationNotification.type, { section: 'sdPrompt' })
        .catch((e) => connection.console.warn(`could not register for settings changes: ${e}`));
    }
  });

  const settingsFor = (uri: string): Promise<PromptSettings> => {
    if (!configurationCapability) return Promise.resolve(DEFAULT_SETTINGS);
    let s = settingsCache.get(uri);
    if (!s) {
      s = connection.workspace
        .getConfiguration({ scopeUri: uri, section: 'sdPrompt' })
        .then((raw) => effective(resolveSettings(raw)), () => DEFAULT_SETTINGS);
      settingsCache.set(uri, s);
    }
    return s;
  };

  connection.onDidChangeConfiguration(() => {
    // Settings changed: re-read them lazily and refresh every open document's diagnostics.
    settingsCache.clear();
    refreshAll();
    if (semanticTokensRefresh) {
      connection.languages.semanticTokens.refresh().catch((e) => connection.console.warn(`semantic tokens refresh failed: ${e}`));
    }
    void configureLibrary().catch((e) => connection.console.error(`library scan failed: ${e}`));
  });

  const pushDiagnostics = async (document: TextDocument) => {
    const settings = await settingsFor(document.uri);
    const current = documents.get(document.uri);
    if (!current || current.version !== document.version) return;
    await connection.sendDiagnostics({ uri: document.uri, version: document.version, diagnostics: service.diagnostics(document, settings) });
  };

  const scheduleDiagnostics = (document: TextDocument, delay = DIAGNOSTICS_DELAY_MS) => {
    if (pullDiagnostics) return;
    clearTimeout(pending.get(document.uri));
    pending.set(
      document.uri,
      setTimeout(() => {
        pending.delete(document.uri);
        void pushDiagnostics(document).catch((e) => connection.console.error(`diagnostics failed: ${e}`));
      }, delay),
    );
  };

  documents.onDidOpen((e) => scheduleDiagnostics(e.document, 0));
  documents.onDidChangeContent((e) => scheduleDiagnostics(e.document));
  documents.onDidClose((e) => {
    clearTimeout(pending.get(e.document.uri));
    pending.delete(e.document.uri);
    settingsCache.delete(e.document.uri);
    service.forget(e.document.uri);
    if (!pullDiagnostics) void connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] });
  });

  /** Runs a request (named in the log if it fails), honouring cancellation before and after the work. */
  const safely = <T>(request: string, token: CancellationToken, empty: T, work: () => Promise<T>) =>
    runSafe(request, token, empty, work, (message) => connection.console.error(message));

  /** Runs a request against an open document, honouring cancellation before and after the work. */
  const withDocument = <T>(request: string, uri: string, token: CancellationToken, empty: T, work: (d: TextDocument) => T | Promise<T>) =>
    safely(request, token, empty, async () => {
      const document = documents.get(uri);
      return document ? work(document) : empty;
    });

  /**
   * The extension's own requests: params that do not fit the message's shape are refused with
   * InvalidParams and a line naming the message and the field, before any work sees them.
   * `empty` is the answer when the work fails.
   */
  const onExtensionRequest = <M extends keyof CheckedParams, R>(
    method: M,
    empty: (params: CheckedParams[M]) => R,
    work: (params: CheckedParams[M], token: CancellationToken) => Promise<R>,
  ) =>
    connection.onRequest(method, (params: unknown, token) => {
      const checked = checkParams(method, params);
      if ('problem' in checked) {
        connection.console.error(`refused ${checked.problem}`);
        return new ResponseError(ErrorCodes.InvalidParams, checked.problem);
      }
      return safely(method, token, empty(checked.params), () => work(checked.params, token));
    });

  connection.languages.diagnostics.on((params, token) =>
    withDocument(DocumentDiagnosticRequest.method, params.textDocument.uri, token, { kind: DocumentDiagnosticReportKind.Full, items: [] }, async (d) => ({
      kind: DocumentDiagnosticReportKind.Full,
      items: service.diagnostics(d, await settingsFor(d.uri)),
    })),
  );
  connection.onHover((params, token) =>
    withDocument(HoverRequest.method, params.textDocument.uri, token, null, async (d) => {
      // An image path under the cursor shows that image's generation data (read from disk, size-capped).
      const image = options.fileSystem ? await imageLinkHover(d, d.offsetAt(params.position), options.fileSystem) : null;
      return image ?? service.hover(d, params.position, await settingsFor(d.uri));
    }),
  );
  connection.onDocumentSymbol((params, token) => withDocument(DocumentSymbolRequest.method, params.textDocument.uri, token, [], (d) => service.documentSymbols(d)));
  connection.onFoldingRanges((params, token) => withDocument(FoldingRangeRequest.method, params.textDocument.uri, token, [], (d) => service.foldingRanges(d)));
  connection.onDocumentFormatting((params, token) => withDocument(DocumentFormattingRequest.method, params.textDocument.uri, token, [], (d) => service.format(d)));
  connection.onDocumentRangeFormatting((params, token) =>
    withDocument(DocumentRangeFormattingRequest.method, params.textDocument.uri, token, [], (d) => service.format(d, params.range)),
  );
  connection.onCodeAction((params, token) =>
    withDocument(CodeActionRequest.method, params.textDocument.uri, token, [], (d) => service.codeActions(d, params.context.diagnostics, params.range)),
  );
  connection.onCompletion((params, token) =>
    withDocument(CompletionRequest.method, params.textDocument.uri, token, null, async (d) => service.completion(d, params.position, await settingsFor(d.uri))),
  );
  connection.onCompletionResolve((item) => service.resolveCompletion(item));
  connection.onDocumentLinks((params, token) => withDocument(DocumentLinkRequest.method, params.textDocument.uri, token, [], (d) => service.documentLinks(d)));
  connection.languages.inlayHint.on((params, token) =>
    withDocument(InlayHintRequest.method, params.textDocument.uri, token, [], async (d) => service.inlayHints(d, params.range, await settingsFor(d.uri))),
  );
  onExtensionRequest(TOKEN_COUNT_REQUEST, (): TokenCountResult | null => null, async (params) => {
    const document = documents.get(params.textDocument.uri);
    if (!document) return null;
    const count = service.tokenCount(document, params.position, await settingsFor(document.uri));
    return count ? { ...count, tokenizer: tokenizerHost?.source ?? '' } : null;
  });
  // The extension's commands (Insert LoRA, Render Preview, Copy as Generation Data).
  onExtensionRequest(LORA_LIST_REQUEST, (): LoraListResult => ({ folders: [], loras: [] }), async (params) => {
    await configureLibrary();
    const settings = params.textDocument ? await settingsFor(params.textDocument.uri) : await windowSettings();
    const folders = libraryFolders(await windowSettings(), options.exists ?? (() => false)).lora;
    return { folders, loras: await loraPickList(host?.library, settings) };
  });
  onExtensionRequest(CHECKPOINT_LIST_REQUEST, (): CheckpointListResult => ({ folders: [], checkpoints: [] }), async (params) => {
    await configureLibrary();
    const folders = libraryFolders(await windowSettings(), options.exists ?? (() => false)).checkpoint;
    return checkpointList(host?.library, folders, params.text !== undefined ? parsePromptDocument(params.text) : undefined, params.vae);
  });
  onExtensionRequest(RENDER_LORAS_REQUEST, (): RenderLorasResult => ({ loras: [], warnings: [] }), async (params) => {
    await configureLibrary();
    return renderLoras(parsePromptDocument(params.text), host?.catalog);
  });
  onExtensionRequest(GENERATION_DATA_REQUEST, (): GenerationDataResult => ({ infotext: '' }), async (params) => ({
    infotext: generationData(parsePromptDocument(params.text)),
  }));
  // Should the work fail, the selection is rendered as it is.
  onExtensionRequest(SELECTION_PROMPT_REQUEST, (params): SelectionPromptResult => ({ promptText: params.selected }), async (params) => ({
    promptText: selectionPromptText(parsePromptDocument(params.text), params.selected),
  }));
  // Should the work fail, the text is rendered as it is.
  onExtensionRequest(RENDER_PROMPT_REQUEST, (params): RenderPromptResult => ({ promptText: params.text }), async (params) => {
    const settings = await windowSettings();
    // The wildcard files as the settings name them, loaded to the end, so the variant is the one the webui picks.
    await wildcards?.configure(settings, exists);
    const raw = configurationCapability ? await connection.workspace.getConfiguration('sdPrompt').then(undefined, () => undefined) : undefined;
    const steps = Number((raw as { render?: { steps?: unknown } } | undefined)?.render?.steps);
    return renderPrompt(params.text, {
      enabled: settings.dynamicPrompts.enable,
      wildcards: wildcards?.library ?? new WildcardLibrary(new Map()),
      seed: params.seed,
      defaultSteps: Number.isInteger(steps) && steps >= 1 ? steps : DEFAULT_RENDER_STEPS,
    });
  });
  connection.onNotification(MERGE_REPORT_NOTIFICATION, (raw: unknown) => {
    // A report that does not fit is dropped whole: the file keeps the report it had, and nothing else notices.
    const checked = checkParams(MERGE_REPORT_NOTIFICATION, raw);
    if ('problem' in checked) {
      connection.console.error(`ignored ${checked.problem}`);
      return;
    }
    const params = checked.params;
    service.setMergeReport(params.textDocument.uri, { model: params.model, loras: params.loras });
    const document = documents.get(params.textDocument.uri);
    if (!document) return;
    if (pullDiagnostics) {
      if (diagnosticsRefresh) connection.languages.diagnostics.refresh().catch((e) => connection.console.warn(`diagnostics refresh failed: ${e}`));
    } else scheduleDiagnostics(document, 0);
  });
  connection.onNotification(SERVER_LORAS_NOTIFICATION, (raw: unknown) => {
    // A list that does not fit is dropped whole: the list known before stays, and nothing else notices.
    const checked = checkParams(SERVER_LORAS_NOTIFICATION, raw);
    if ('problem' in checked) {
      connection.console.error(`ignored ${checked.problem}`);
      return;
    }
    const { backend, server, loras, error } = checked.params;
    if (error) connection.console.warn(`the LoRA list of ${server} is not known: ${error}`);
    serverLoras = loras ? new ServerLoraList(backend, server, loras) : undefined;
    refreshAll();
  });
  connection.languages.semanticTokens.on((params, token) =>
    withDocument(SemanticTokensRequest.method, params.textDocument.uri, token, { data: [] }, (d) => ({ data: service.semanticTokens(d) })),
  );

  connection.onShutdown(() => {
    host?.dispose();
    tagHost?.dispose();
    wildcards?.dispose();
  });
  documents.listen(connection);
  connection.listen();
}
