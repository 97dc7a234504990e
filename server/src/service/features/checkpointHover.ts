import { PromptLibrary } from '../library';
import { checkpointNames, documentCheckpoint } from '../library/checkpoints';
import { Span } from '../semantics/spans';
import { PromptDocument } from '../syntax/document';
import { markdownCode, markdownText } from './displayText';

const FAMILY_NAMES: Record<string, string> = { sd1: 'SD1', sd2: 'SD2', sdxl: 'SDXL', vae: 'VAE' };

/**
 * Hover on `Model:` / `Model hash:`: the checkpoint of the user's folder that the generation data selects (as
 * A1111 picks it), with what its keys say it is, its size and hashes; or that the folder has none.
 */
export function checkpointHover(doc: PromptDocument, offset: number, library: PromptLibrary | undefined): { span: Span; markdown: string } | undefined {
  const params = doc.sections.parameters?.entries ?? [];
  const under = params.find((e) => (e.key === 'Model' || e.key === 'Model hash') && offset >= e.keySpan.start && offset <= e.valueSpan.end);
  const catalog = library?.catalog;
  if (!under || !catalog?.ready || !catalog.hasFolders('checkpoint')) return undefined;
  const choice = documentCheckpoint(catalog.list('checkpoint'), doc, (e) => library!.sha256?.(e, false));
  const span = { start: under.keySpan.start, end: under.valueSpan.end };
  const entry = choice.entry;
  if (!entry) {
    return { span, markdown: `**Checkpoint** ${markdownCode(under.value)}\n\nNot in your checkpoint folders: A1111 would keep the model it has loaded.` };
  }
  const names = checkpointNames(entry);
  const details = entry.details.model;
  const sha256 = library!.sha256?.(entry);
  const what = details ? `${FAMILY_NAMES[details.family] ?? 'not SD1, SD2 or SDXL'}, ${details.dtype}` : entry.pickle ? 'a Python pickle (never opened)' : 'unread';
  const lines = [
    `**Checkpoint** ${markdownCode(names.nameForExtra)} — ${markdownText(what)}, ${size(entry.size)}`,
    `${markdownCode(names.name)} in ${markdownCode(entry.root)}, chosen by ${markdownText(choice.by ?? '')}`,
    `| short hash | legacy hash |\n|---|---|\n| ${sha256 ? sha256.slice(0, 10) : 'being computed'} | ${details?.legacyHash ?? '—'} |`,
  ];
  const problem = details?.problem ?? entry.details.error;
  if (problem) lines.push(`sd-prompt cannot render it: ${markdownText(problem)}`);
  return { span, markdown: lines.join('\n\n') };
}

function size(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}
