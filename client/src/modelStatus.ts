import * as path from 'path';
import { Disposable, StatusBarAlignment, window, workspace } from 'vscode';
import { renderSettings } from './settings';

/**
 * The status bar item with the model Render Preview uses (`sdPrompt.model`: a checkpoint file or a diffusers
 * folder); clicking it opens Select Model…. Shown in `.prompt` editors, beside the device.
 */
export function startModelStatus(): Disposable {
  const item = window.createStatusBarItem('sdPrompt.model', StatusBarAlignment.Right, 98);
  item.name = 'SD Prompt Model';
  item.command = 'sdPrompt.selectModel';
  const update = () => {
    const model = renderSettings().model;
    const name = model ? path.basename(model).replace(/\.safetensors$/i, '') : 'no model';
    item.text = `$(package) ${name}`;
    item.tooltip = model ? `Model: ${model}. Click to change.` : 'No model is set for Render Preview. Click to choose one.';
    if (window.activeTextEditor?.document.languageId === 'sd-prompt') item.show();
    else item.hide();
  };
  update();
  return Disposable.from(
    item,
    window.onDidChangeActiveTextEditor(update),
    workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('sdPrompt.model')) update();
    }),
  );
}
