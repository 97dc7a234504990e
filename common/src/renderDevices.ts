/**
 * The render-device setting (`sdPrompt.render.device`): the client offers these in Select Render
 * Device and the render engine runs on the one chosen. Shared so the picker cannot list a device
 * the engine does not know.
 */
export type DeviceSetting = 'auto' | 'webgpu' | 'cuda' | 'dml' | 'coreml' | 'cpu';

export const DEVICE_SETTINGS: readonly DeviceSetting[] = ['auto', 'webgpu', 'cuda', 'dml', 'coreml', 'cpu'];
