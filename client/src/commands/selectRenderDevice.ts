import { QuickPickItem, window } from 'vscode';
import { DEVICE_SETTINGS, DeviceSetting } from '../../../common/src/renderDevices';
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

/**
 * Select Render Device: a picker over `sdPrompt.render.device` that starts on the current one, saved in
 * the user settings. Returns the device chosen, if any.
 */
export async function selectRenderDevice(args: SelectRenderDeviceArgs = {}): Promise<DeviceSetting | undefined> {
  // From a menu the argument is the file's Uri, not arguments.
  const filter = typeof args?.filter === 'string' ? args.filter : undefined;
  const current = renderSettings().device;
  const picker = window.createQuickPick<QuickPickItem & { device: DeviceSetting }>();
  picker.title = 'Render Device';
  picker.placeholder = `Where images are rendered (now: ${current})`;
  picker.items = DEVICE_SETTINGS.map((device) => ({
    label: device,
    description: device === current ? `${DESCRIPTIONS[device]} (current)` : DESCRIPTIONS[device],
    device,
  }));
  const currentItem = picker.items.find((i) => i.device === current);
  if (currentItem && !filter) picker.activeItems = [currentItem];
  picker.value = filter ?? '';
  try {
    const chosen = await new Promise<DeviceSetting | undefined>((resolve) => {
      picker.onDidAccept(() => {
        // Enter with nothing matching the filter keeps the picker open, as showQuickPick does.
        const item = picker.selectedItems[0] ?? picker.activeItems[0];
        if (item) resolve(item.device);
      });
      picker.onDidHide(() => resolve(undefined));
      picker.show();
      announcePicker({ step: 'device', labels: picker.items.map((i) => i.label), active: picker.activeItems[0]?.label });
    });
    if (!chosen) return undefined;
    await updateUserSetting('render.device', chosen);
    return chosen;
  } finally {
    picker.dispose();
  }
}
