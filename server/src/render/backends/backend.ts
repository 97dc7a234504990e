/**
 * A render on the user's own webui (A1111/Forge, ComfyUI, SwarmUI) instead of the local engine.
 * Each backend takes the `.prompt` text and gives what the local engine gives: PNG bytes with the
 * infotext in a `parameters` chunk, progress with step/total and previews, cancellation through
 * an AbortSignal, and a summary of what ran where.
 */

export type BackendKind = 'a1111' | 'comfyui' | 'swarmui';
export const BACKEND_KINDS: readonly BackendKind[] = ['a1111', 'comfyui', 'swarmui'];

export interface ServerConnection {
  /** The server's base URL, e.g. `http://127.0.0.1:7860`. */
  url: string;
  user?: string;
  password?: string;
  /** Longest wait for one HTTP answer or one socket message (ms); a render may take longer overall. */
  timeoutMs?: number;
  /** Largest response body accepted (bytes). */
  maxResponseBytes?: number;
  /**
   * Longest silence during a render (ms): no progress, no socket message, no answer to the
   * render request. A model load may be slow, so this is longer than `timeoutMs`.
   */
  idleTimeoutMs?: number;
  /** How often to poll progress where the protocol has no push (A1111), in ms. */
  pollMs?: number;
}

export interface BackendRenderRequest {
  /** The whole `.prompt` text: prompt, `Negative prompt:` and the parameter line. */
  promptText: string;
  /** Options over the file's own parameters, as the CLI's --steps/--seed/... give them. */
  overrides?: { steps?: number; seed?: number; sampler?: string; cfg?: number; width?: number; height?: number };
  /** Images of the same prompt sent together (a batch), so the server may spread them over its GPUs. */
  images?: number;
}

export interface BackendProgress {
  step: number;
  steps: number;
  /** A live preview as the server encodes it (JPEG or PNG bytes), when it sends one. */
  preview?: { mime: string; bytes: Uint8Array };
  /** Which image of a batch this progress is for. */
  image?: number;
}

export interface BackendResult {
  /** PNG bytes of the first image, with the infotext in its `parameters` chunk. */
  png: Uint8Array;
  /** Every image the server returned, in batch order (png[0] is `png`). */
  pngs: Uint8Array[];
  infotext: string;
  backend: BackendKind;
  server: string;
  seed?: number;
  steps: number;
  sampler: string;
  width: number;
  height: number;
  /** The checkpoint the server rendered with, as it names it. */
  model?: string;
  /** Things the user should know about this backend's reading of the prompt. */
  notes: string[];
}

export interface RenderCallbacks {
  onProgress?: (p: BackendProgress) => void;
  signal?: AbortSignal;
}

export interface ServerLora {
  name: string;
  alias?: string;
  path?: string;
}

export interface RenderBackend {
  readonly kind: BackendKind;
  render(request: BackendRenderRequest, callbacks?: RenderCallbacks): Promise<BackendResult>;
  /** The LoRAs the server has (for the language server's library: a LoRA missing there is a diagnostic). */
  listLoras(signal?: AbortSignal): Promise<ServerLora[]>;
}

export type BackendErrorKind = 'unreachable' | 'auth' | 'missing-model' | 'missing-lora' | 'server' | 'dropped' | 'timeout' | 'too-large' | 'cancelled' | 'bad-input' | 'protocol';

/** One clear message per fault; `kind` lets the caller decide (a retry, a settings link). */
export class BackendError extends Error {
  constructor(readonly kind: BackendErrorKind, message: string) {
    super(message);
    this.name = 'BackendError';
  }
}
