import { ExecutionProvider, DeviceSetting } from './onnx/devices';
import type { ParameterDefaults } from './parameters';
import type { LoraSpec } from './lora/prepare';
import type { LoraMergeReport } from '../../../common/src/mergeReport';

/** Messages between the render host (in the extension host, or the CLI's process) and its worker thread. */
export interface RenderRequest {
  /** The whole .prompt text (prompt, negative prompt, parameter line). */
  promptText: string;
  model: string;
  device: DeviceSetting;
  overrides?: { steps?: number; seed?: number; sampler?: string; cfg?: number; width?: number; height?: number; clipSkip?: number };
  /**
   * The VAE that decodes a checkpoint's render, as A1111 resolved it (`VAE hash:`/`VAE:`, sdPrompt.vae, the sidecar):
   * a file; null for the checkpoint's own (A1111's "None"); absent for "Automatic" (`NAME.vae.safetensors` beside it,
   * else its own). A diffusers folder always decodes with its own vae_decoder (a note says so when a file was given).
   */
  vae?: string | null;
  /** Settings used where the file says nothing (`sdPrompt.render.*`). */
  defaults?: ParameterDefaults;
  previewEvery?: number;
  /** The prompt's LoRAs, resolved to files with their tag's multipliers (merged into the model). */
  loras?: LoraSpec[];
  /** Release the sessions after this long without a render (default 5 minutes). */
  idleReleaseMs?: number;
}

export interface RenderResult {
  png: ArrayBuffer;
  infotext: string;
  device: ExecutionProvider;
  attempts: { device: ExecutionProvider; error: string }[];
  seed: number;
  steps: number;
  sampler: string;
  width: number;
  height: number;
  timings: { load: number; encode: number; denoise: number; decode: number };
  loras: LoraMergeReport[];
  /** What the render did differently from A1111 and why (a Hires. fix it could not run); empty when nothing. */
  notes: string[];
  /**
   * Graphs (relative to the model folder) whose sessions were kept from the previous render while the
   * others were made anew (a LoRA weight change); empty when nothing was loaded or everything was.
   */
  reused: string[];
}

export type RenderMessage =
  /** `cancel`: a shared Int32 flag the host sets to 1; the worker reads it before every step. */
  | { type: 'render'; id: number; request: RenderRequest; cancel: SharedArrayBuffer }
  | { type: 'cancel'; id: number }
  | { type: 'release' };

export type WorkerMessage =
  | { type: 'progress'; id: number; step: number; steps: number; preview?: { width: number; height: number; rgb: Uint8Array } }
  | { type: 'done'; id: number; result: RenderResult }
  | { type: 'error'; id: number; message: string; cancelled: boolean }
  | { type: 'released' };
