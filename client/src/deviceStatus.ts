import { Disposable, StatusBarAlignment, window, workspace } from 'vscode';
import { onDidRender } from './commands/renderPreview';
import { BACKEND_LABELS, describeTarget, renderTarget } from './backends/renderTarget';
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
  let ran: { device: string; server?: string } | undefined;

  const update = () => {
    const settings = renderSettings();
    const target = renderTarget(settings.backend, settings.server);
    if ('problem' in target) {
      item.text = `$(warning) ${settings.backend}`;
      item.tooltip = `Render backend: ${target.problem}. Click to change.`;
    } else if (target.kind !== 'local') {
      item.text = `$(cloud) ${target.kind}`;
      const last = ran?.server ? ` (the last render ran on ${BACKEND_LABELS[ran.device as keyof typeof BACKEND_LABELS] ?? ran.device} at ${ran.server})` : '';
      item.tooltip = `Renders on ${describeTarget(target, settings.device)}${last}. Click to change.`;
    } else {
      const setting = settings.device;
      item.text = `$(chip) ${ran && !ran.server && ran.device !== setting ? `${setting}: ${ran.device}` : setting}`;
      item.tooltip = `Render device: ${setting}${ran ? ` (the last render ran on ${ran.server ? `${ran.device} at ${ran.server}` : ran.device})` : ''}. Click to change.`;
    }
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
