import { PromptDocument } from '../../syntax/document';
import { ServerLoraList } from '../../library/serverLoras';
import { MAX_PROBLEMS_PER_CODE, Problem } from './problem';
import { closestName } from './suggest';

const LORA_TYPES = new Set(['lora', 'lyco']);

const BACKEND_NAMES: Record<string, string> = { a1111: 'A1111', comfyui: 'ComfyUI', swarmui: 'SwarmUI' };

/**
 * `lora-missing-on-server`: with a server backend, the server's LoRA list decides whether a tag's LoRA is
 * there to render (the local folders only give hovers then). A tag the server lacks is a warning naming
 * the server, with the closest name it does list. Tags in the negative prompt are text to A1111, so they
 * are not looked up.
 */
export function checkServerLoras(doc: PromptDocument, server: ServerLoraList, out: Problem[]): void {
  const backend = BACKEND_NAMES[server.backend] ?? server.backend;
  let reported = 0;
  for (const tag of doc.positive.tags) {
    if (!LORA_TYPES.has(tag.type) || tag.positional.length === 0) continue;
    const nameItem = tag.items.find((i) => i.key === undefined);
    if (!nameItem) continue;
    const name = nameItem.text;
    // A name with spaces around it or none at all is reported by the syntax checks.
    if (name.trim() !== name || name === '' || server.has(name)) continue;
    if (reported++ >= MAX_PROBLEMS_PER_CODE) break;
    const folderless = server.byName && /[\\/]/.test(name) ? name.split(/[\\/]/).pop()! : undefined;
    const suggestion = folderless && server.has(folderless) ? folderless : closestName(name, server.suggestions);
    const why = folderless ? ` (${backend} names LoRAs by file name, without folders)` : '';
    out.push({
      code: 'lora-missing-on-server',
      severity: 'warning',
      span: nameItem.span,
      message: `The render server ${server.server} (${backend}) has no LoRA '${name}'${why}: a render there stops before it starts.${suggestion ? ` Did you mean '${suggestion}'?` : ''}`,
      fixes: suggestion ? [{ title: `Change to '${suggestion}'`, edits: [{ span: nameItem.span, newText: suggestion }], preferred: true }] : undefined,
    });
  }
}
