import {
  CancellationToken,
  Connection,
  DidChangeConfigurationNotification,
  DocumentDiagnosticReportKind,
  ResponseError,
  LSPErrorCodes,
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
  GenerationDataParams,
  GenerationDataResult,
  LORA_LIST_REQUEST,
  LoraListParams,
  LoraListResult,
  MERGE_REPORT_NOTIFICATION,
  MergeReportParams,
  RENDER_LORAS_REQUEST,
  RenderLorasParams,
  RenderLorasResult,
  SELECTION_PROMPT_REQUEST,
  SelectionPromptParams,
  SelectionPromptResult,
  TOKEN_COUNT_REQUEST,
  TokenCountParams,
  TokenCountResult,
} from '../../common/src/protocol';
import { generationData, loraPickList, renderLoras, selectionPromptText } from './service/features/extensionRequests';
import { parsePromptDocument } from './service/syntax/document';
import { TokenizerHost } from './tokenizerHost';

export interface ServerOptions {
  /** File access for the LoRA library (the Node entry passes the real disk). */
  fileSystem?: LibraryFileSystem;
  /** Whether a folder exists (for the webui layouts); defaults to asking nothing. */
  exists?: (path: string) => boolean;
  /** The user's home folder (where the Hugging Face cache lives). */
  home?: string;
}

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
  const tokenizerHost = options.fileSystem ? new TokenizerHost(options.fileSystem, options.home ?? '', (m) => connection.console.log(m)) : undefined;
  const service = createPromptLanguageService({
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
    await host.configure(settings);
  };
  const windowSettings = async () =>
    configurationCapability
      ? resolveSettings(await connection.workspace.getConfiguration('sdPrompt').then(undefined, () => undefined))
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
        .then(resolveSettings, () => DEFAULT_SETTINGS);
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

  /** Runs a request against an open document, honouring cancellation before and after the work. */
  const withDocument = <T>(uri: string, token: CancellationToken, empty: T, work: (d: TextDocument) => T | Promise<T>) =>
    runSafe(token, empty, async () => {
      const document = documents.get(uri);
      return document ? work(document) : empty;
    });

  connection.languages.diagnostics.on((params, token) =>
    withDocument(params.textDocument.uri, token, { kind: DocumentDiagnosticReportKind.Full, items: [] }, async (d) => ({
      kind: DocumentDiagnosticReportKind.Full,
      items: service.diagnostics(d, await settingsFor(d.uri)),
    })),
  );
  connection.onHover((params, token) =>
    withDocument(params.textDocument.uri, token, null, async (d) => service.hover(d, params.position, await settingsFor(d.uri))),
  );
  connection.onDocumentSymbol((params, token) => withDocument(params.textDocument.uri, token, [], (d) => service.documentSymbols(d)));
  connection.onFoldingRanges((params, token) => withDocument(params.textDocument.uri, token, [], (d) => service.foldingRanges(d)));
  connection.onDocumentFormatting((params, token) => withDocument(params.textDocument.uri, token, [], (d) => service.format(d)));
  connection.onDocumentRangeFormatting((params, token) =>
    withDocument(params.textDocument.uri, token, [], (d) => service.format(d, params.range)),
  );
  connection.onCodeAction((params, token) =>
    withDocument(params.textDocument.uri, token, [], (d) => service.codeActions(d, params.context.diagnostics, params.range)),
  );
  connection.onCompletion((params, token) =>
    withDocument(params.textDocument.uri, token, null, async (d) => service.completion(d, params.position, await settingsFor(d.uri))),
  );
  connection.onCompletionResolve((item) => service.resolveCompletion(item));
  connection.onDocumentLinks((params, token) => withDocument(params.textDocument.uri, token, [], (d) => service.documentLinks(d)));
  connection.languages.inlayHint.on((params, token) =>
    withDocument(params.textDocument.uri, token, [], async (d) => service.inlayHints(d, params.range, await settingsFor(d.uri))),
  );
  connection.onRequest(TOKEN_COUNT_REQUEST, (params: TokenCountParams, token) =>
    withDocument<TokenCountResult | null>(params.textDocument.uri, token, null, async (d) => {
      const count = service.tokenCount(d, params.position, await settingsFor(d.uri));
      return count ? { ...count, tokenizer: tokenizerHost?.source ?? '' } : null;
    }),
  );
  // The extension's commands (Insert LoRA, Render Preview, Copy as Generation Data).
  connection.onRequest(LORA_LIST_REQUEST, (params: LoraListParams, token) =>
    runSafe<LoraListResult>(token, { folders: [], loras: [] }, async () => {
      await configureLibrary();
      const settings = params.textDocument ? await settingsFor(params.textDocument.uri) : await windowSettings();
      const folders = libraryFolders(await windowSettings(), options.exists ?? (() => false)).lora;
      return { folders, loras: await loraPickList(host?.library, settings) };
    }),
  );
  connection.onRequest(RENDER_LORAS_REQUEST, (params: RenderLorasParams, token) =>
    runSafe<RenderLorasResult>(token, { loras: [], warnings: [] }, async () => {
      await configureLibrary();
      return renderLoras(parsePromptDocument(params.text), host?.catalog);
    }),
  );
  connection.onRequest(GENERATION_DATA_REQUEST, (params: GenerationDataParams, token) =>
    runSafe<GenerationDataResult>(token, { infotext: '' }, async () => ({ infotext: generationData(parsePromptDocument(params.text)) })),
  );
  connection.onRequest(SELECTION_PROMPT_REQUEST, (params: SelectionPromptParams, token) =>
    runSafe<SelectionPromptResult>(token, { promptText: params.selected }, async () => ({
      promptText: selectionPromptText(parsePromptDocument(params.text), params.selected),
    })),
  );
  connection.onNotification(MERGE_REPORT_NOTIFICATION, (params: MergeReportParams) => {
    service.setMergeReport(params.textDocument.uri, { model: params.model, loras: params.loras });
    const document = documents.get(params.textDocument.uri);
    if (!document) return;
    if (pullDiagnostics) {
      if (diagnosticsRefresh) connection.languages.diagnostics.refresh().catch((e) => connection.console.warn(`diagnostics refresh failed: ${e}`));
    } else scheduleDiagnostics(document, 0);
  });
  connection.languages.semanticTokens.on((params, token) =>
    withDocument(params.textDocument.uri, token, { data: [] }, (d) => ({ data: service.semanticTokens(d) })),
  );

  connection.onShutdown(() => host?.dispose());
  documents.listen(connection);
  connection.listen();
}

/** Cancelled requests answer RequestCancelled; a failure in a feature is logged, never fatal. */
async function runSafe<T>(token: CancellationToken, empty: T, work: () => Promise<T>): Promise<T | ResponseError<any>> {
  if (token.isCancellationRequested) return new ResponseError(LSPErrorCodes.RequestCancelled, 'cancelled');
  try {
    const result = await work();
    if (token.isCancellationRequested) return new ResponseError(LSPErrorCodes.RequestCancelled, 'cancelled');
    return result;
  } catch (e) {
    console.error(`sd-prompt: request failed: ${(e as Error).stack ?? e}`);
    return empty;
  }
}
