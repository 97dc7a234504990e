import { CompletionItem, CompletionItemKind } from 'vscode-languageserver-types';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { WildcardLibrary } from '../dynamic/wildcardLibrary';

/** Most wildcard names offered at once. */
export const MAX_WILDCARD_ITEMS = 200;

/**
 * Completion of wildcard names after an open `__` on the line: names that start with what is
 * typed first, then names that contain it, each with its value count; the closing `__` is
 * added unless it follows already.
 */
export function wildcardCompletions(document: TextDocument, offset: number, wildcards: WildcardLibrary): CompletionItem[] {
  const position = document.positionAt(offset);
  const lineStart = document.offsetAt({ line: position.line, character: 0 });
  const text = document.getText();
  const before = text.slice(lineStart, offset);
  const open = /__([~!@]?)([^_{}|#$()\s]*(?:_[^_{}|#$()\s]+)*)$/.exec(before);
  if (!open) return [];
  // An even number of `__` before this one means it opens a wildcard, not closes one.
  const opens = before.slice(0, open.index).split('__').length - 1;
  if (opens % 2 === 1) return [];
  const typed = open[2].toLowerCase();
  const closeFollows = text.startsWith('__', offset);
  const names = wildcards.names();
  const starts = names.filter((n) => n.toLowerCase().startsWith(typed));
  const contains = names.filter((n) => !n.toLowerCase().startsWith(typed) && n.toLowerCase().includes(typed));
  const range = { start: document.positionAt(offset - open[2].length), end: position };
  return [...starts.sort(), ...contains.sort()].slice(0, MAX_WILDCARD_ITEMS).map((name, i) => {
    const count = wildcards.values(name).length;
    return {
      label: name,
      kind: CompletionItemKind.File,
      detail: `${count} value${count === 1 ? '' : 's'}`,
      sortText: String(i).padStart(4, '0'),
      textEdit: { range, newText: closeFollows ? name : `${name}__` },
    };
  });
}
