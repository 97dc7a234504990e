import { QuickPickItem, QuickPickItemKind, window } from 'vscode';
import { DEVICE_SETTINGS, DeviceSetting } from '../../../common/src/renderDevices';
import { BACKEND_LABELS, normalizeServerUrl } from '../backends/renderTarget';
import { RenderTargetItem, renderTargetItems } from '../backends/renderTargetItems';
import { dialogs } from '../dialogs';
import { announcePicker } from '../pickers';
import { renderSettings, updateUserSetting } from '../settings';

const DESCRIPTIONS: Record<DeviceSetting, string> = {
  auto: 'CUDA (Linux), DirectML (Windows) or CoreML (macOS), then WebGPU, then the CPU; says which ran',
  webgpu: 'the GPU through WebGPU (Vulkan, Direct3D 12, Metal); ships with the extension',
  cuda: 'NVIDIA GPUs on Linux; needs the CUDA 12 libraries',
  dml: 'DirectML: any Direct3D 12 GPU on Windows',
  coreml: 'CoreML on macOS',
  cpu: 'always available, slowest',
};

/** Arguments a keybinding (or a test) may pass: `filter` pre-fills the picker. */
export interface SelectRenderDeviceArgs {
  filter?: string;
}

type PickItem = QuickPickItem & { target?: RenderTargetItem };

/**
 * Select Render Device: a picker over this computer's devices (`sdPrompt.render.device`) and the webui
 * backends (`sdPrompt.render.backend`), starting on the current one, saved in the user settings. A backend
 * without a server asks for its URL. Returns the device or backend chosen, if any.
 */
export async function selectRenderDevice(args: SelectRenderDeviceArgs = {}): Promise<string | undefined> {
  // From a menu the argument is the file's Uri, not arguments.
  const filter = typeof args?.filter === 'string' ? args.filter : undefined;
  const settings = renderSettings();
  const { items, current } = renderTargetItems(DEVICE_SETTINGS, DESCRIPTIONS, settings);
  const picker = window.createQuickPick<PickItem>();
  picker.title = 'Render Device';
  picker.placeholder = `Where images are rendered (now: ${current})`;
  const local = items.filter((i) => i.device !== undefined);
  const servers = items.filter((i) => i.backend !== undefined);
  picker.items = [
    ...local.map((target) => ({ label: target.label, description: target.description, target })),
    { label: 'Your own webui', kind: QuickPickItemKind.Separator },
    ...servers.map((target) => ({ label: target.label, description: target.description, target })),
  ];
  const currentItem = picker.items.find((i) => i.target?.label === current);
  if (currentItem && !filter) picker.activeItems = [currentItem];
  picker.value = filter ?? '';
  let chosen: RenderTargetItem | undefined;
  try {
    chosen = await new Promise<RenderTargetItem | undefined>((resolve) => {
      picker.onDidAccept(() => {
        // Enter with nothing matching the filter keeps the picker open, as showQuickPick does.
        const item = picker.selectedItems[0] ?? picker.activeItems[0];
        if (item?.target) resolve(item.target);
      });
      picker.onDidHide(() => resolve(undefined));
      picker.show();
      announcePicker({ step: 'device', labels: items.map((i) => i.label), active: picker.activeItems[0]?.label });
    });
  } finally {
    picker.dispose();
  }
  if (!chosen) return undefined;
  if (chosen.device !== undefined) {
    await updateUserSetting('render.device', chosen.device);
    if (settings.backend !== 'local') await updateUserSetting('render.backend', 'local');
    return chosen.device;
  }
  if (!normalizeServerUrl(settings.server)) {
    const url = await dialogs.input({
      title: `${BACKEND_LABELS[chosen.backend]} server`,
      prompt: `The URL of your ${BACKEND_LABELS[chosen.backend]} (sdPrompt.render.server)`,
      placeHolder: chosen.backend === 'a1111' ? 'http://127.0.0.1:7860' : chosen.backend === 'comfyui' ? 'http://127.0.0.1:8188' : 'http://127.0.0.1:7801',
      ignoreFocusOut: true,
      validateInput: (v) => (normalizeServerUrl(v) ? undefined : 'A URL starting with http:// or https://'),
    });
    const normalized = url === undefined ? undefined : normalizeServerUrl(url);
    if (!normalized) return undefined;
    await updateUserSetting('render.server', normalized);
  }
  await updateUserSetting('render.backend', chosen.backend);
  return chosen.backend;
}
