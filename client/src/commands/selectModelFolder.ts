import * as fs from 'fs';
import * as path from 'path';
import { Uri } from 'vscode';
import { dialogs } from '../dialogs';
import { renderSettings, updateUserSetting } from '../settings';

/**
 * Select Model Folder: a folder dialog for `sdPrompt.model` (saved in the user settings). A folder
 * without `model_index.json` or `unet/model.onnx` is not a diffusers ONNX model: it is only taken
 * when the person insists. Returns the folder set, if any.
 */
export async function selectModelFolder(): Promise<string | undefined> {
  const current = renderSettings().model;
  const picked = await dialogs.pickFolder({
    title: 'Select a diffusers ONNX model folder',
    openLabel: 'Use as Model Folder',
    defaultUri: current ? Uri.file(current) : undefined,
  });
  const folder = picked?.fsPath;
  if (!folder) return undefined;
  const looksLikeModel = ['model_index.json', path.join('unet', 'model.onnx')].some((f) => fs.existsSync(path.join(folder, f)));
  if (!looksLikeModel) {
    const useAnyway = await dialogs.confirm(
      `${folder} has no model_index.json or unet/model.onnx: it does not look like a diffusers ONNX model folder.`,
      undefined,
      'Use Anyway',
    );
    if (!useAnyway) return undefined;
  }
  await updateUserSetting('model', folder);
  return folder;
}
