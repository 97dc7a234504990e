import { Disposable, StatusBarAlignment, window, workspace } from 'vscode';
import { onDidRender } from './commands/renderPreview';
import { renderSettings } from './settings';

/**
 * The status bar item with the render device (`sdPrompt.render.device`, and after a render the
 * device that really ran, which `auto` chooses); clicking it opens Select Render Device. Shown in
 * `.prompt` editors, like the token counter beside it.
 */
export function startDeviceStatus(): Disposable {
  const item = window.createStatusBarItem('sdPrompt.device', StatusBarAlignment.Right, 99);
  item.name = 'SD Prompt Render Device';
  item.command = 'sdPrompt.selectRenderDevice';
  let ran: string | undefined;

  const update = () => {
    const setting = renderSettings().device;
    item.text = `$(chip) ${ran && ran !== setting ? `${setting}: ${ran}` : setting}`;
    item.tooltip = `Render device: ${setting}${ran ? ` (the last render ran on ${ran})` : ''}. Click to change.`;
    if (window.activeTextEditor?.document.languageId === 'sd-prompt') item.show();
    else item.hide();
  };
  update();
  return Disposable.from(
    item,
    window.onDidChangeActiveTextEditor(update),
    workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration('sdPrompt.render.device')) return;
      ran = undefined;
      update();
    }),
    onDidRender((outcome) => {
      if (outcome.status !== 'done') return;
      ran = outcome.record.device;
      update();
    }),
  );
}
