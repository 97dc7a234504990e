import { DocumentLink } from 'vscode-languageserver-types';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { PromptLibrary } from '../library';
import { PromptDocument } from '../syntax/document';
import { fileUri } from './loraCardMarkdown';

/** Links from each resolved LoRA or hypernetwork name to its file. */
export function documentLinks(document: TextDocument, doc: PromptDocument, library: PromptLibrary | undefined): DocumentLink[] {
  const catalog = library?.catalog;
  if (!catalog?.ready) return [];
  const links: DocumentLink[] = [];
  for (const tag of doc.positive.tags) {
    const item = tag.items[0];
    if (!item || item.key !== undefined) continue;
    const entry =
      tag.type === 'lora' || tag.type === 'lyco' ? catalog.resolveLora(item.text) : tag.type === 'hypernet' ? catalog.resolveHypernet(item.text) : undefined;
    if (!entry) continue;
    links.push({
      range: { start: document.positionAt(item.span.start), end: document.positionAt(item.span.end) },
      target: fileUri(entry.path),
      tooltip: `Open ${entry.path}`,
    });
  }
  return links;
}
