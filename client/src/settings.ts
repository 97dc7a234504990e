import { ConfigurationTarget, Uri, workspace } from 'vscode';
import type { DeviceSetting } from '../../common/src/renderDevices';
import type { ParameterDefaults } from '../../server/src/render/api';

/**
 * The `sdPrompt` settings the extension side reads. In an untrusted workspace VS Code leaves out the
 * workspace values of the settings listed in package.json's `restrictedConfigurations` (model and
 * library paths) by itself; nothing here has to.
 */
export interface RenderSettings {
  model: string;
  device: DeviceSetting;
  defaults: ParameterDefaults;
  releaseAfterSeconds: number;
  loraDefaultWeight: number;
  /** `sdPrompt.render.backend`: `local` or the webui kind (`a1111`, `comfyui`, `swarmui`). */
  backend: string;
  /** `sdPrompt.render.server`: the webui's URL, as written. */
  server: string;
}

export function renderSettings(scope?: Uri): RenderSettings {
  const c = workspace.getConfiguration('sdPrompt', scope);
  return {
    model: c.get<string>('model', '').trim(),
    device: c.get<DeviceSetting>('render.device', 'auto'),
    defaults: {
      steps: c.get<number>('render.steps'),
      sampler: c.get<string>('render.sampler'),
      cfgScale: c.get<number>('render.cfgScale'),
      width: c.get<number>('render.width'),
      height: c.get<number>('render.height'),
      rngSource: c.get<'GPU' | 'CPU' | 'NV'>('render.rngSource'),
      clipSkip: c.get<number>('render.clipSkip'),
    },
    releaseAfterSeconds: c.get<number>('render.releaseAfterSeconds', 300),
    loraDefaultWeight: c.get<number>('lora.defaultWeight', 0.8),
    backend: c.get<string>('render.backend', 'local'),
    server: c.get<string>('render.server', '').trim(),
  };
}

/**
 * Machine settings (model folder, device) chosen through a command go to the user settings:
 * they describe this computer, and an untrusted workspace's values would be ignored anyway.
 */
export function updateUserSetting(key: string, value: unknown): Thenable<void> {
  return workspace.getConfiguration('sdPrompt').update(key, value, ConfigurationTarget.Global);
}
