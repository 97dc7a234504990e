import { PromptChunk } from '../../service/tokens/chunks';

/**
 * The numeric side of A1111's conditioning (sd_hijack_clip.py, sd_samplers_cfg_denoiser.py),
 * kept pure so it is tested without a model: chunk inputs for the text encoder, emphasis with
 * the mean restored, padding the negative prompt to the positive's chunk count, and classifier-
 * free guidance with AND weights.
 */
export const CONTEXT_LENGTH = 77;

export interface ChunkInput {
  /** BOS, up to 75 tokens, EOS, then padding: 77 ids. */
  ids: Int32Array;
  /** 1 for BOS/EOS/padding, each token's emphasis weight otherwise. */
  multipliers: Float32Array;
}

/**
 * Text-encoder inputs of one chunk. SD1's CLIP pads with the end token; SD2's OpenCLIP pads
 * with 0 (A1111 `id_pad`). Embedding slots keep id 0 here: their vectors are spliced in later.
 */
export function chunkInput(chunk: PromptChunk, ids: { bos: number; eos: number; pad: number }): ChunkInput {
  const out = new Int32Array(CONTEXT_LENGTH).fill(ids.pad);
  const multipliers = new Float32Array(CONTEXT_LENGTH).fill(1);
  out[0] = ids.bos;
  chunk.tokens.slice(0, CONTEXT_LENGTH - 2).forEach((t, i) => {
    out[i + 1] = t.id;
    multipliers[i + 1] = t.weight;
  });
  // A1111 fills the chunk to 75 with the end token before adding BOS/EOS, then replaces every end
  // token after the first with the pad id: the first one after the text is always EOS, and for SD1
  // (pad = eos) the fill above is already all end tokens.
  out[Math.min(chunk.tokens.length, CONTEXT_LENGTH - 2) + 1] = ids.eos;
  return { ids: out, multipliers };
}

/**
 * A1111's "Original" emphasis: multiply each token's hidden state by its weight, then scale the
 * whole chunk so its mean is what it was (`z * (original_mean / new_mean)`), in float32 as torch does.
 */
export function applyEmphasis(hidden: Float32Array, multipliers: Float32Array, width: number): Float32Array {
  const tokens = hidden.length / width;
  if (tokens !== multipliers.length) throw new Error(`hidden states hold ${tokens} tokens, multipliers ${multipliers.length}`);
  const originalMean = mean(hidden);
  const out = new Float32Array(hidden.length);
  for (let t = 0; t < tokens; t++) {
    const m = multipliers[t];
    for (let j = 0; j < width; j++) out[t * width + j] = hidden[t * width + j] * m;
  }
  const newMean = mean(out);
  const scale = Math.fround(originalMean / newMean);
  for (let i = 0; i < out.length; i++) out[i] = Math.fround(out[i] * scale);
  return out;
}

function mean(values: Float32Array): number {
  // Pairwise-ish summation in float64 keeps the mean stable for 77×768 values.
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return Math.fround(sum / values.length);
}

/**
 * The AND parts' contexts at equal length, as A1111's `stack_conds`: each padded to the longest by
 * repeating its last vector (`width` values). The negative prompt is not padded: with A1111's
 * default options (pad_cond_uncond off) a negative prompt of another length runs in its own UNet
 * call as it is; padding it with empty-prompt chunks gives another image.
 */
export function stackConds(conds: Float32Array[], width: number): Float32Array[] {
  const longest = Math.max(...conds.map((c) => c.length));
  return conds.map((c) => {
    if (c.length === longest) return c;
    const out = new Float32Array(longest);
    out.set(c);
    const last = c.subarray(c.length - width);
    for (let o = c.length; o < longest; o += width) out.set(last, o);
    return out;
  });
}

/**
 * Classifier-free guidance with composable (AND) prompts, as A1111's `combine_denoised`:
 * `uncond + Σ weight_i · scale · (cond_i − uncond)`.
 */
export function combineGuidance(uncond: Float32Array, conds: { output: Float32Array; weight: number }[], scale: number): Float32Array {
  const out = Float32Array.from(uncond);
  for (const { output, weight } of conds) {
    const f = Math.fround(weight * scale);
    for (let i = 0; i < out.length; i++) out[i] = Math.fround(out[i] + Math.fround(Math.fround(output[i] - uncond[i]) * f));
  }
  return out;
}

export function concat(chunks: Float32Array[]): Float32Array {
  const out = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
