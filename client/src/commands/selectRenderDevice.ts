import { QuickPickItem, window } from 'vscode';
import { DEVICE_SETTINGS, DeviceSetting } from '../../../server/src/render/model/devices';
import { renderSettings, updateUserSetting } from '../settings';

const DESCRIPTIONS: Record<DeviceSetting, string> = {
  auto: 'CUDA (Linux), DirectML (Windows) or CoreML (macOS), then WebGPU, then the CPU; says which ran',
  webgpu: 'the GPU through WebGPU (Vulkan, Direct3D 12, Metal); ships with the extension',
  cuda: 'NVIDIA GPUs on Linux; needs the CUDA 12 libraries',
  dml: 'DirectML: any Direct3D 12 GPU on Windows',
  coreml: 'CoreML on macOS',
  cpu: 'always available, slowest',
};

/** Select Render Device: a picker over `sdPrompt.render.device`, saved in the user settings. */
export async function selectRenderDevice(): Promise<DeviceSetting | undefined> {
  const current = renderSettings().device;
  const items: (QuickPickItem & { device: DeviceSetting })[] = DEVICE_SETTINGS.map((device) => ({
    label: device,
    description: device === current ? `${DESCRIPTIONS[device]} (current)` : DESCRIPTIONS[device],
    picked: device === current,
    device,
  }));
  const chosen = await window.showQuickPick(items, { title: 'Render Device', placeHolder: `Where images are rendered (now: ${current})` });
  if (!chosen) return undefined;
  await updateUserSetting('render.device', chosen.device);
  return chosen.device;
}
