import { CodeAction, CodeActionKind, Diagnostic } from 'vscode-languageserver-types';
import { DiagnosticData } from './diagnostics';

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
