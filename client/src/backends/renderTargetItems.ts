import { BACKEND_KINDS, BackendKind } from '../../../server/src/render/api';
import type { DeviceSetting } from '../../../common/src/renderDevices';
import { BACKEND_LABELS } from './renderTarget';

/** One choice of Select Render Device: a device of this computer, or a backend (with its server, once set). */
export type RenderTargetItem = { label: string; description: string; device: DeviceSetting; backend?: undefined } | { label: string; description: string; backend: BackendKind; device?: undefined };

const BACKEND_DESCRIPTIONS: Record<BackendKind, string> = {
  a1111: "your webui started with --api: its checkpoints, LoRAs and reading of the prompt",
  comfyui: 'your ComfyUI server: a graph built from the file (weighs (x:1.2) its own way)',
  swarmui: 'your SwarmUI: spreads batches over its backends',
};

/**
 * The picker's items: the devices of this computer first (the local engine), then each backend, named with
 * the server it would use (`AUTOMATIC1111/Forge at http://…`), or with `…` when no server is set yet (the
 * picker then asks for its URL). `current` marks what renders now.
 */
export function renderTargetItems(
  devices: readonly DeviceSetting[],
  deviceDescriptions: Record<DeviceSetting, string>,
  settings: { device: DeviceSetting; backend: string; server: string },
): { items: RenderTargetItem[]; current: string } {
  const local = settings.backend === 'local' || !(BACKEND_KINDS as readonly string[]).includes(settings.backend);
  const server = settings.server.trim();
  const items: RenderTargetItem[] = [
    ...devices.map((device) => ({
      label: device,
      description: local && device === settings.device ? `${deviceDescriptions[device]} (current)` : deviceDescriptions[device],
      device,
    })),
    ...BACKEND_KINDS.map((backend) => ({
      label: server ? `${BACKEND_LABELS[backend]} at ${server}` : `${BACKEND_LABELS[backend]}…`,
      description: !local && backend === settings.backend ? `${BACKEND_DESCRIPTIONS[backend]} (current)` : BACKEND_DESCRIPTIONS[backend],
      backend,
    })),
  ];
  const current = local ? settings.device : items.find((i) => i.backend === settings.backend)!.label;
  return { items, current };
}
