/**
 * Why a file cannot be used as a checkpoint, in words for the person who chose it: every message names the file
 * (and the key or offset where that is the reason) and says what to do instead where there is something to do.
 * `code` lets callers (diagnostics, the CLI's exit status) tell the cases apart without parsing the text.
 */
export type CheckpointErrorCode =
  | 'not-a-file'
  | 'unreadable'
  | 'pickle'
  | 'not-safetensors'
  | 'truncated'
  | 'bad-header'
  | 'lora'
  | 'vae-only'
  | 'unsupported-family'
  | 'unknown-family'
  | 'missing-key'
  | 'bad-shape'
  | 'bad-dtype'
  | 'bad-config'
  | 'changed-on-disk';

export class CheckpointError extends Error {
  constructor(readonly code: CheckpointErrorCode, message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}
