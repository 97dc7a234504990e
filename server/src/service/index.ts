import {
  CodeAction,
  CompletionItem,
  CompletionList,
  Diagnostic,
  DocumentLink,
  DocumentSymbol,
  FoldingRange,
  Hover,
  InlayHint,
  MarkupKind,
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
import { chunkInlayHints, sectionAt, summary, TokenCountSummary, tokensAt } from './features/tokens';
import { EmbeddingLookup } from './tokens/chunks';
import { countTokens, SectionTokens } from './tokens/tokenCount';
import { PromptTokenizer } from './tokens/tokenizer';
export type { TokenCountSummary } from './features/tokens';
export type { MergeReport, LoraMergeOutcome } from './features/checks/mergeChecks';
import { findProblems, toDiagnostic } from './features/diagnostics';
import { MergeReport } from './features/checks/mergeChecks';
import { formatDocument } from './features/formatting';
import { hoverAt } from './features/hover';
import { semanticTokens, SEMANTIC_TOKEN_MODIFIERS, SEMANTIC_TOKEN_TYPES } from './features/semanticTokens';
import { documentSymbols, foldingRanges } from './features/symbols';
import { scheduleStepsOf } from './semantics/samplerSteps';
import { PromptSettings } from './settings';
import { parsePromptDocument, PromptDocument } from './syntax/document';
import { TagIndex } from './tags/tagIndex';
import { WildcardLibrary } from './dynamic/wildcardLibrary';
import { dynamicHoverAt } from './features/dynamicHover';
import { wildcardCompletions } from './features/wildcardCompletion';
import { ServerLoraList } from './library/serverLoras';

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
  /** The webui token counter for the part of the file at `position` (undefined on the parameter line). */
  tokenCount(document: TextDocument, position: Position, settings: PromptSettings): TokenCountSummary | undefined;
  /** Marks where each 75-token chunk after the first starts. */
  inlayHints(document: TextDocument, range: Range | undefined, settings: PromptSettings): InlayHint[];
  /** Both parts' tokens and chunks (undefined without a tokenizer). */
  tokens(document: TextDocument, settings: PromptSettings): SectionTokens[] | undefined;
  /** What the last preview render merged for the document's LoRA tags (undefined clears it); shown as diagnostics. */
  setMergeReport(uri: string, report: MergeReport | undefined): void;
  /** Forget a closed document. */
  forget(uri: string): void;
}

export interface ServiceOptions {
  /** The user's library as it stands now (it changes as folders change). */
  library?: () => PromptLibrary | undefined;
  /** A1111's short hash of a file when known; starting its computation in the background otherwise. */
  shortHash?: (path: string) => string | undefined;
  /** The CLIP tokenizer in use (exact, or approximate when no files were found). */
  tokenizer?: () => PromptTokenizer | undefined;
  /** Textual-inversion embeddings by the token ids of their names. */
  embeddings?: () => EmbeddingLookup | undefined;
  /** The tagcomplete tag lists in use, for tag completion and `tag-parens-unescaped`. */
  tags?: () => TagIndex | undefined;
  /** The sd-dynamic-prompts wildcard files in use, for `wildcard-unknown`, wildcard hovers and completion. */
  wildcards?: () => WildcardLibrary | undefined;
  /** The render server's LoRA list while a server backend is in use (`lora-missing-on-server`). */
  serverLoras?: () => ServerLoraList | undefined;
}

export function createPromptLanguageService(options: ServiceOptions = {}): PromptLanguageService {
  const library = () => options.library?.();
  const tokenCache = new WeakMap<PromptDocument, { key: string; sections: SectionTokens[] }>();
  const tokens = (document: TextDocument, settings: PromptSettings): SectionTokens[] | undefined => {
    const tokenizer = options.tokenizer?.();
    if (!tokenizer) return undefined;
    const doc = parse(document);
    const embeddings = options.embeddings?.();
    const steps = scheduleStepsOf(doc, settings.steps);
    const key = `${steps}`;
    const hit = tokenCache.get(doc);
    if (hit && hit.key === key && tokenizerOf.get(hit) === tokenizer && embeddingsOf.get(hit) === embeddings) return hit.sections;
    const sections = (['positive', 'negative'] as const)
      .map((kind) => countTokens(doc, kind, tokenizer, { baseSteps: steps }, embeddings))
      .filter((s): s is SectionTokens => s !== undefined);
    const entry = { key, sections };
    tokenizerOf.set(entry, tokenizer);
    embeddingsOf.set(entry, embeddings);
    tokenCache.set(doc, entry);
    return sections;
  };
  const tokenizerOf = new WeakMap<object, PromptTokenizer>();
  const embeddingsOf = new WeakMap<object, EmbeddingLookup | undefined>();
  const triggerWords = (doc: PromptDocument): string[] => {
    const lib = library();
    if (!lib?.catalog.ready) return [];
    return doc.positive.tags.flatMap((t) => {
      const entry = t.positional[0] !== undefined ? lib.catalog.resolveLora(t.positional[0]) : undefined;
      return entry ? (lib.card(entry)?.triggerWords.map((w) => w.word) ?? []) : [];
    });
  };
  const cache = new Map<string, { version: number; text: string; doc: PromptDocument }>();
  const mergeReports = new Map<string, MergeReport>();
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
      const doc = parse(document);
      const sections = tokens(document, settings);
      const tokenInfo = sections ? { sections, triggerWords: triggerWords(doc) } : undefined;
      return findProblems(doc, settings, library(), tokenInfo, mergeReports.get(document.uri), options.tags?.(), options.wildcards?.(), options.serverLoras?.()).map((p) => toDiagnostic(document, p));
    },
    hover: async (document, position, settings) => {
      const doc = parse(document);
      const offset = document.offsetAt(position);
      // A variant or wildcard under the cursor (when dynamic prompts are read) says what it expands to.
      const dynamic = settings.dynamicPrompts.enable ? dynamicHoverAt(document, doc, offset, options.wildcards?.()) : null;
      const hover = dynamic ?? (await hoverAt(document, doc, offset, scheduleStepsOf(doc, settings.steps), library(), options.shortHash));
      const tokenizer = options.tokenizer?.();
      const sections = tokens(document, settings);
      const line = tokenizer && sections ? tokensAt(sections, offset, tokenizer) : undefined;
      if (!line) return hover;
      if (!hover) {
        const word = wordRange(sections!, offset);
        return {
          contents: { kind: MarkupKind.Markdown, value: line },
          range: word && { start: document.positionAt(word.start), end: document.positionAt(word.end) },
        };
      }
      const value = (hover.contents as { value: string }).value;
      return { ...hover, contents: { kind: MarkupKind.Markdown, value: `${value}\n\n${line}` } };
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
    completion: async (document, position, settings) => {
      const offset = document.offsetAt(position);
      const wildcards = settings.dynamicPrompts.enable ? options.wildcards?.() : undefined;
      const names = wildcards ? wildcardCompletions(document, offset, wildcards) : [];
      // After an open `__` only wildcard names make sense.
      if (names.length) return { isIncomplete: false, items: names };
      return completions(document, parse(document), offset, settings, library(), options.tags?.());
    },
    resolveCompletion: (item) => resolveCompletion(item, library()),
    documentLinks: (document) => documentLinks(document, parse(document), library()),
    tokens,
    tokenCount: (document, position, settings) => {
      const section = sectionAt(parse(document), document.offsetAt(position));
      const found = section && tokens(document, settings)?.find((s) => s.kind === section);
      return found ? summary(found) : undefined;
    },
    inlayHints: (document, range, settings) => chunkInlayHints(document, tokens(document, settings) ?? [], range),
    setMergeReport: (uri, report) => {
      if (report) mergeReports.set(uri, report);
      else mergeReports.delete(uri);
    },
    forget: (uri) => {
      cache.delete(uri);
      mergeReports.delete(uri);
    },
  };
}

function wordRange(sections: SectionTokens[], offset: number): { start: number; end: number } | undefined {
  for (const s of sections) for (const c of s.chunks) for (const t of c.tokens) if (offset >= t.start && offset < t.end) return t;
  return undefined;
}
