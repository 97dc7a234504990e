import * as fs from 'fs';
import * as path from 'path';
import { LanguageClient } from 'vscode-languageclient/node';
import { CHECKPOINT_LIST_REQUEST, CheckpointListParams, CheckpointListResult } from '../../common/src/protocol';

/**
 * The model a render uses, as A1111 picks it from pasted generation data: the checkpoint of the webui folder that
 * the file's `Model hash:` (or `Model:`) selects; else `sdPrompt.model`, which may be a checkpoint file, a diffusers
 * folder, or a checkpoint's name in the webui folder (`dreamshaper_8`, `xl/juggernaut.safetensors`). Undefined when
 * nothing is set. `why` says which, for the log.
 */
export async function renderModel(
  client: LanguageClient,
  text: string,
  setting: string,
  workspaceFolder: string,
): Promise<{ model: string; why: string } | undefined> {
  let list: CheckpointListResult | undefined;
  try {
    const params: CheckpointListParams = { text };
    list = await client.sendRequest<CheckpointListResult>(CHECKPOINT_LIST_REQUEST, params);
  } catch {
    list = undefined; // a server without the request: the setting alone decides
  }
  if (list?.chosen) {
    const chosen = list.checkpoints.find((c) => c.path === list!.chosen!.path);
    if (chosen?.renderable !== false) return { model: list.chosen.path, why: `${list.chosen.by} selects ${chosen?.name ?? list.chosen.path}` };
  }
  if (!setting) return undefined;
  const asPath = path.resolve(workspaceFolder, setting);
  if (!fs.existsSync(asPath)) {
    const named = list?.checkpoints.find((c) => c.nameForExtra === setting || c.name === setting);
    if (named) return { model: named.path, why: `sdPrompt.model names ${named.name}` };
  }
  return { model: asPath, why: 'sdPrompt.model' };
}
