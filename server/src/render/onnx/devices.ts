import * as fs from 'fs';
import * as path from 'path';
import { DEVICE_SETTINGS, type DeviceSetting } from '../../../../common/src/renderDevices';

/**
 * Which onnxruntime execution provider runs the model. `auto` tries the best one this
 * platform offers and falls back, saying which ran; a device the user named explicitly is
 * never silently replaced by the CPU (design §4: asking for an EP that cannot load throws).
 */
export type ExecutionProvider = Exclude<DeviceSetting, 'auto'>;
// The setting's values are shared with the client's device picker (common/); the engine's modules import them from here.
export { DEVICE_SETTINGS, type DeviceSetting };

/**
 * The order `auto` tries, best first, per platform (CUDA needs the separately downloaded libraries).
 * On Linux without a GPU device node, WebGPU could only be a software adapter (Mesa's lavapipe, often
 * installed with the Vulkan drivers), which is an order of magnitude slower than the CPU provider, so
 * `auto` skips it there.
 */
export function autoOrder(platform: NodeJS.Platform, gpu: boolean = hasGpuDevice(platform)): ExecutionProvider[] {
  if (platform === 'win32') return ['dml', 'webgpu', 'cpu'];
  if (platform === 'darwin') return ['coreml', 'webgpu', 'cpu'];
  return gpu ? ['cuda', 'webgpu', 'cpu'] : ['cuda', 'cpu'];
}

/** Whether this Linux machine has a GPU: a DRM render node, an NVIDIA device or WSL's GPU device. */
export function hasGpuDevice(platform: NodeJS.Platform = process.platform): boolean {
  if (platform !== 'linux') return true;
  try {
    if (fs.readdirSync('/dev/dri').some((n) => n.startsWith('renderD'))) return true;
  } catch {
    // No /dev/dri.
  }
  return fs.existsSync('/dev/nvidia0') || fs.existsSync('/dev/dxg');
}

/**
 * The libraries onnxruntime loads (from the folder of its own library) to run a provider that is not built
 * into it. onnxruntime-node's package carries the CPU, WebGPU, DirectML and CoreML providers; CUDA's come
 * from its install script (12 MB + 400 MB, skipped by ONNXRUNTIME_NODE_INSTALL=skip or offline).
 */
export function providerLibraries(device: ExecutionProvider, platform: NodeJS.Platform): string[] {
  if (device !== 'cuda') return [];
  if (platform === 'win32') return ['onnxruntime_providers_shared.dll', 'onnxruntime_providers_cuda.dll'];
  return ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'];
}

/** Where onnxruntime-node's native libraries for this platform are (undefined when it cannot be found). */
export function onnxruntimeBinDir(platform: NodeJS.Platform = process.platform, arch: string = process.arch): string | undefined {
  try {
    return path.join(path.dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', platform, arch);
  } catch {
    return undefined;
  }
}

/**
 * Why `device` cannot run here without asking onnxruntime, or undefined when onnxruntime has to be asked.
 * Asking it for CUDA without the provider library prints two red "Failed to load library" lines on the
 * process's stderr (onnxruntime's own logger, before any session option can quiet it), and then fails anyway.
 */
export function unavailableDevice(
  device: ExecutionProvider,
  platform: NodeJS.Platform = process.platform,
  binDir: string | undefined = onnxruntimeBinDir(platform),
  exists: (file: string) => boolean = fs.existsSync,
): string | undefined {
  if (device === 'cuda' && platform === 'darwin') return 'onnxruntime-node has no CUDA provider on macOS';
  if (!binDir) return undefined;
  const missing = providerLibraries(device, platform).filter((lib) => !exists(path.join(binDir, lib)));
  if (missing.length === 0) return undefined;
  return `${missing.join(' and ')} not installed in ${binDir} (onnxruntime-node's install script downloads them for CUDA 12 unless ONNXRUNTIME_NODE_INSTALL=skip)`;
}

export interface DeviceAttempt {
  device: ExecutionProvider;
  error: string;
}

export class DeviceError extends Error {
  constructor(
    message: string,
    readonly attempts: DeviceAttempt[],
  ) {
    super(message);
  }
}

/**
 * Creates something (a session) on the first device that works. Returns it with the device
 * that ran and the devices that failed before it. A device `unavailable` gives a reason for is
 * not tried: it counts as failed with that reason.
 */
export async function onFirstWorkingDevice<T>(
  setting: DeviceSetting,
  platform: NodeJS.Platform,
  create: (device: ExecutionProvider) => Promise<T>,
  gpu?: boolean,
  unavailable: (device: ExecutionProvider) => string | undefined = () => undefined,
): Promise<{ value: T; device: ExecutionProvider; attempts: DeviceAttempt[] }> {
  if (!DEVICE_SETTINGS.includes(setting)) {
    throw new DeviceError(`Unknown device '${setting}'. Known: ${DEVICE_SETTINGS.join(', ')}.`, []);
  }
  const order = setting === 'auto' ? autoOrder(platform, gpu) : [setting];
  const attempts: DeviceAttempt[] = [];
  for (const device of order) {
    const reason = unavailable(device);
    if (reason) {
      attempts.push({ device, error: reason });
      continue;
    }
    try {
      return { value: await create(device), device, attempts };
    } catch (e) {
      attempts.push({ device, error: (e as Error).message.split('\n')[0] });
    }
  }
  const tried = attempts.map((a) => `${a.device}: ${a.error}`).join('; ');
  throw new DeviceError(
    setting === 'auto'
      ? `No device could run the model (${tried}).`
      : `The ${setting} device could not run the model (${tried}). Choose another in sdPrompt.render.device, or 'auto'.`,
    attempts,
  );
}

