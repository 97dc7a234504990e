import { Selection, window, workspace } from 'vscode';
import { renderSettings } from '../settings';

/**
 * New Prompt File: an untitled `.prompt` document laid out as A1111 writes generation data, with the
 * parameters from the `sdPrompt.render.*` settings, and the cursor where the prompt goes.
 */
export async function newPromptFile(): Promise<void> {
  const { defaults } = renderSettings();
  const parameters = [
    `Steps: ${defaults.steps ?? 20}`,
    `Sampler: ${defaults.sampler ?? 'Euler a'}`,
    `CFG scale: ${defaults.cfgScale ?? 7}`,
    `Size: ${defaults.width ?? 512}x${defaults.height ?? 512}`,
  ].join(', ');
  const content = `masterpiece, best quality, \nNegative prompt: lowres, bad anatomy, bad hands\n${parameters}\n`;
  const document = await workspace.openTextDocument({ language: 'sd-prompt', content });
  const editor = await window.showTextDocument(document);
  const end = document.lineAt(0).range.end;
  editor.selection = new Selection(end, end);
}
