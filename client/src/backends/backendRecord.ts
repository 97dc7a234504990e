import type { BackendResult } from '../../../server/src/render/api';
import type { RenderRecord } from '../preview/renderService';

/** A record's fields before the output folder names it (id, png, source and date come from the save). */
export type RecordFields = Omit<RenderRecord, 'id' | 'png' | 'source' | 'date'>;

/**
 * What a server's render keeps in its record, as the panel, the status bar and the history show it: the
 * backend as the device, the server and the checkpoint it used, the time the whole render took, and the
 * backend's notes (ComfyUI weighs `(x:1.2)` otherwise). A seed the server chose is read from its infotext.
 */
export function backendRecordFields(result: BackendResult, elapsedMs: number, variant?: string): RecordFields {
  const seed = result.seed ?? seedFromInfotext(result.infotext) ?? -1;
  return {
    infotext: result.infotext,
    seed,
    steps: result.steps,
    sampler: result.sampler,
    width: result.width,
    height: result.height,
    device: result.backend,
    attempts: [],
    timings: { load: 0, encode: 0, denoise: 0, decode: 0 },
    loras: [],
    skipped: [],
    notes: result.notes,
    backend: { kind: result.backend, server: result.server, model: result.model, elapsedMs: Math.round(elapsedMs) },
    ...(variant ? { variant } : {}),
  };
}

/** `Seed: N` of the infotext's parameter line (its last line). */
export function seedFromInfotext(infotext: string): number | undefined {
  const last = infotext.slice(infotext.lastIndexOf('\n') + 1);
  const m = /(?:^|, )Seed: (-?\d+)(?:,|$)/.exec(last);
  return m ? Number(m[1]) : undefined;
}
