import * as fs from 'fs';
import * as path from 'path';
import { workspace } from 'vscode';
import { LanguageClient } from 'vscode-languageclient/node';
import { CHECKPOINT_LIST_REQUEST, CheckpointListParams, CheckpointListResult } from '../../common/src/protocol';

/**
 * The model a render uses, as A1111 picks it from pasted generation data: the checkpoint of the webui folder that
 * the file's `Model hash:` (or `Model:`) selects; else `sdPrompt.model`, which may be a checkpoint file, a diffusers
 * folder, or a checkpoint's name in the webui folder (`dreamshaper_8`, `xl/juggernaut.safetensors`). Undefined when
 * nothing is set. `why` says which, for the log.
 *
 * `vae` is the VAE for the render's RenderRequest, as A1111 picks it (`VAE hash:` / `VAE:` in the file, then
 * `sdPrompt.vae`, then Automatic): a file, null for the checkpoint's own, absent for Automatic (the engine then
 * takes `NAME.vae.safetensors` beside the checkpoint).
 */
export async function renderModel(
  client: LanguageClient,
  text: string,
  setting: string,
  workspaceFolder: string,
  vaeSetting: string = workspace.getConfiguration('sdPrompt').get<string>('vae', ''),
): Promise<{ model: string; why: string; vae?: string | null } | undefined> {
  const picked = await pickModel(client, text, setting, workspaceFolder, vaeSetting);
  return picked && { ...picked.choice, ...vaeFor(picked.list, vaeSetting, workspaceFolder) };
}

/** The list's VAE; without a list (no language server, no webui catalog) the setting alone, as a path or None. */
function vaeFor(list: CheckpointListResult | undefined, setting: string, workspaceFolder: string): { vae?: string | null } {
  if (list?.chosenVae) return { vae: list.chosenVae.path };
  const value = setting.trim();
  if (value === 'None') return { vae: null };
  if (!value || value === 'Automatic') return {};
  const asPath = path.resolve(workspaceFolder, value);
  return fs.existsSync(asPath) ? { vae: asPath } : {};
}

async function pickModel(
  client: LanguageClient,
  text: string,
  setting: string,
  workspaceFolder: string,
  vaeSetting: string,
): Promise<{ choice: { model: string; why: string }; list: CheckpointListResult | undefined } | undefined> {
  let list: CheckpointListResult | undefined;
  // A setting naming a file goes to the server as its absolute path; a name is looked up in the webui's models/VAE.
  const vaePath = vaeSetting.trim() && path.resolve(workspaceFolder, vaeSetting.trim());
  const vae = vaePath && fs.existsSync(vaePath) ? vaePath : vaeSetting.trim();
  try {
    const params: CheckpointListParams = { text, ...(vae ? { vae } : {}) };
    list = await client.sendRequest<CheckpointListResult>(CHECKPOINT_LIST_REQUEST, params);
  } catch {
    list = undefined; // a server without the request: the setting alone decides
  }
  if (list?.chosen) {
    const chosen = list.checkpoints.find((c) => c.path === list!.chosen!.path);
    if (chosen?.renderable !== false) return { choice: { model: list.chosen.path, why: `${list.chosen.by} selects ${chosen?.name ?? list.chosen.path}` }, list };
  }
  if (!setting) return undefined;
  const asPath = path.resolve(workspaceFolder, setting);
  if (!fs.existsSync(asPath)) {
    const named = list?.checkpoints.find((c) => c.nameForExtra === setting || c.name === setting);
    if (named) return { choice: { model: named.path, why: `sdPrompt.model names ${named.name}` }, list };
  }
  return { choice: { model: asPath, why: 'sdPrompt.model' }, list };
}
