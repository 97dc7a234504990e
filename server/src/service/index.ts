import {
  CodeAction,
  CompletionItem,
  CompletionList,
  Diagnostic,
  DocumentLink,
  DocumentSymbol,
  FoldingRange,
  Hover,
  Position,
  Range,
  TextEdit,
} from 'vscode-languageserver-types';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { openFileActions, quickFixes } from './features/codeActions';
export { OPEN_FILE_COMMAND } from './features/codeActions';
import { completions, resolveCompletion } from './features/completion';
import { documentLinks } from './features/documentLinks';
import { PromptLibrary } from './library';
import { findProblems, toDiagnostic } from './features/diagnostics';
import { formatDocument } from './features/formatting';
import { hoverAt } from './features/hover';
import { semanticTokens, SEMANTIC_TOKEN_MODIFIERS, SEMANTIC_TOKEN_TYPES } from './features/semanticTokens';
import { documentSymbols, foldingRanges } from './features/symbols';
import { stepsOf } from './features/checks/parameterChecks';
import { PromptSettings } from './settings';
import { parsePromptDocument, PromptDocument } from './syntax/document';

export { DEFAULT_SETTINGS, resolveSettings } from './settings';
export type { PromptSettings } from './settings';
export { libraryFolders } from './settings';
export { SEMANTIC_TOKEN_MODIFIERS, SEMANTIC_TOKEN_TYPES };

/**
 * The prompt language service: pure, no LSP transport. Each document is parsed once per
 * version and every feature reads that parse.
 */
export interface PromptLanguageService {
  parse(document: TextDocument): PromptDocument;
  diagnostics(document: TextDocument, settings: PromptSettings): Diagnostic[];
  hover(document: TextDocument, position: Position, settings: PromptSettings): Promise<Hover | null>;
  format(document: TextDocument, range?: Range): TextEdit[];
  documentSymbols(document: TextDocument): DocumentSymbol[];
  foldingRanges(document: TextDocument): FoldingRange[];
  semanticTokens(document: TextDocument): number[];
  codeActions(document: TextDocument, diagnostics: Diagnostic[], range?: Range): CodeAction[];
  completion(document: TextDocument, position: Position, settings: PromptSettings): Promise<CompletionList>;
  resolveCompletion(item: CompletionItem): Promise<CompletionItem>;
  documentLinks(document: TextDocument): DocumentLink[];
  /** Forget a closed document. */
  forget(uri: string): void;
}

export interface ServiceOptions {
  /** The user's library as it stands now (it changes as folders change). */
  library?: () => PromptLibrary | undefined;
  /** A1111's short hash of a file when known; starting its computation in the background otherwise. */
  shortHash?: (path: string) => string | undefined;
}

export function createPromptLanguageService(options: ServiceOptions = {}): PromptLanguageService {
  const library = () => options.library?.();
  const cache = new Map<string, { version: number; text: string; doc: PromptDocument }>();
  const parse = (document: TextDocument): PromptDocument => {
    const hit = cache.get(document.uri);
    if (hit && hit.version === document.version && hit.text.length === document.getText().length) return hit.doc;
    const text = document.getText();
    const doc = parsePromptDocument(text);
    cache.set(document.uri, { version: document.version, text, doc });
    return doc;
  };
  return {
    parse,
    diagnostics: (document, settings) => {
      if (!settings.diagnostics.enable) return [];
      return findProblems(parse(document), settings, library()).map((p) => toDiagnostic(document, p));
    },
    hover: (document, position, settings) => {
      const doc = parse(document);
      return hoverAt(document, doc, document.offsetAt(position), stepsOf(doc) ?? settings.steps, library(), options.shortHash);
    },
    format: (document, range) =>
      formatDocument(document, parse(document), range && { start: document.offsetAt(range.start), end: document.offsetAt(range.end) }),
    documentSymbols: (document) => documentSymbols(document, parse(document)),
    foldingRanges: (document) => foldingRanges(document, parse(document)),
    semanticTokens: (document) => semanticTokens(document, parse(document)),
    codeActions: (document, diagnostics, range) => [
      ...quickFixes(document.uri, diagnostics),
      ...(range ? openFileActions(parse(document), document.offsetAt(range.start), document.offsetAt(range.end), library()) : []),
    ],
    completion: (document, position, settings) => completions(document, parse(document), document.offsetAt(position), settings, library()),
    resolveCompletion: (item) => resolveCompletion(item, library()),
    documentLinks: (document) => documentLinks(document, parse(document), library()),
    forget: (uri) => void cache.delete(uri),
  };
}
