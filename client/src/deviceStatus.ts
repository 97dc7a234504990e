import { Disposable, StatusBarAlignment, window, workspace } from 'vscode';
import { onDidRender } from './commands/renderPreview';
import { deviceStatusText, LastRun } from './deviceStatusText';
import { renderSettings } from './settings';

/**
 * The status bar item with where renders run: the render device (`sdPrompt.render.device`, and after a
 * render the device that really ran, which `auto` chooses), or the backend and its server
 * (`sdPrompt.render.backend`); after a render, the one that ran it. Clicking it opens Select Render
 * Device. Shown in `.prompt` editors, like the token counter beside it.
 */
export function startDeviceStatus(): Disposable {
  const item = window.createStatusBarItem('sdPrompt.device', StatusBarAlignment.Right, 99);
  item.name = 'SD Prompt Render Device';
  item.command = 'sdPrompt.selectRenderDevice';
  /** What ran the last render: a device, or a backend with its server. */
  let ran: LastRun | undefined;

  const update = () => {
    const { text, tooltip } = deviceStatusText(renderSettings(), ran);
    item.text = text;
    item.tooltip = tooltip;
    if (window.activeTextEditor?.document.languageId === 'sd-prompt') item.show();
    else item.hide();
  };
  update();
  return Disposable.from(
    item,
    window.onDidChangeActiveTextEditor(update),
    workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration('sdPrompt.render.device') && !e.affectsConfiguration('sdPrompt.render.backend') && !e.affectsConfiguration('sdPrompt.render.server')) return;
      ran = undefined;
      update();
    }),
    onDidRender((outcome) => {
      if (outcome.status !== 'done') return;
      ran = { device: outcome.record.device, server: outcome.record.backend?.server };
      update();
    }),
  );
}
