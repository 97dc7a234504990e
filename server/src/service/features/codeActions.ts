import { CodeAction, CodeActionKind, Diagnostic } from 'vscode-languageserver-types';
import { PromptLibrary } from '../library';
import { PromptDocument } from '../syntax/document';
import { DiagnosticData } from './diagnostics';
import { fileUri } from './loraCardMarkdown';

/** The client command that opens a file given as a URI string (see client/src/extension.ts). */
export const OPEN_FILE_COMMAND = 'sdPrompt.openFile';

/** Quick fixes: the fixes each sd-prompt diagnostic carries in its `data`. */
export function quickFixes(uri: string, diagnostics: Diagnostic[]): CodeAction[] {
  const actions: CodeAction[] = [];
  for (const diagnostic of diagnostics) {
    if (diagnostic.source !== 'sd-prompt') continue;
    const data = diagnostic.data as DiagnosticData | undefined;
    for (const fix of data?.fixes ?? []) {
      actions.push({
        title: fix.title,
        kind: CodeActionKind.QuickFix,
        diagnostics: [diagnostic],
        isPreferred: fix.preferred,
        edit: { changes: { [uri]: fix.edits } },
      });
    }
  }
  return actions;
}

/** "Open LoRA file" on a tag whose name resolves in the library. */
export function openFileActions(doc: PromptDocument, start: number, end: number, library: PromptLibrary | undefined): CodeAction[] {
  const catalog = library?.catalog;
  if (!catalog?.ready) return [];
  const actions: CodeAction[] = [];
  for (const tag of doc.positive.tags) {
    if (tag.span.end < start || tag.span.start > end) continue;
    const name = tag.items[0]?.text ?? '';
    const entry = tag.type === 'lora' || tag.type === 'lyco' ? catalog.resolveLora(name) : tag.type === 'hypernet' ? catalog.resolveHypernet(name) : undefined;
    if (!entry) continue;
    actions.push({
      title: `Open ${entry.name}${entry.extension}`,
      kind: CodeActionKind.Empty,
      command: { title: 'Open file', command: OPEN_FILE_COMMAND, arguments: [fileUri(entry.path)] },
    });
  }
  return actions;
}
