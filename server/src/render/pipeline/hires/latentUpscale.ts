/**
 * Hires. fix's latent upscalers: A1111's `shared.latent_upscale_modes`, each a call of
 * `torch.nn.functional.interpolate(samples, size=(H, W), mode, antialias)` with
 * align_corners left at its default (False). Ports of PyTorch's CPU kernels
 * (aten/src/ATen/native/UpSample.h, UpSampleKernel.cpp): with a size and no scale factor the
 * scale along an axis is input/output.
 */

export type InterpolateMode = 'bilinear' | 'bicubic' | 'nearest' | 'nearest-exact';

export interface LatentUpscaleMode {
  mode: InterpolateMode;
  antialias: boolean;
}

/** A1111's `latent_upscale_modes` (shared_items / shared.py), by the name `Hires upscaler` carries. */
export const LATENT_UPSCALE_MODES: ReadonlyMap<string, LatentUpscaleMode> = new Map([
  ['Latent', { mode: 'bilinear', antialias: false }],
  ['Latent (antialiased)', { mode: 'bilinear', antialias: true }],
  ['Latent (bicubic)', { mode: 'bicubic', antialias: false }],
  ['Latent (bicubic antialiased)', { mode: 'bicubic', antialias: true }],
  ['Latent (nearest)', { mode: 'nearest', antialias: false }],
  ['Latent (nearest-exact)', { mode: 'nearest-exact', antialias: false }],
]);

/** One axis's resampling: output index → input indices and their weights. */
interface AxisTaps {
  index: Int32Array[];
  weight: Float64Array[];
}

/** Bicubic convolution with A = −0.75 (PyTorch's `cubic_convolution1/2`, non-antialiased). */
const CUBIC_A = -0.75;
const cubic1 = (x: number, a: number) => ((a + 2) * x - (a + 3)) * x * x + 1;
const cubic2 = (x: number, a: number) => ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;

function linearTaps(inSize: number, outSize: number): AxisTaps {
  const scale = inSize / outSize;
  const taps: AxisTaps = { index: [], weight: [] };
  for (let o = 0; o < outSize; o++) {
    // area_pixel_compute_source_index(align_corners=False, cubic=False): negative → 0.
    const src = Math.max(scale * (o + 0.5) - 0.5, 0);
    const i0 = Math.floor(src);
    const i1 = i0 + (i0 < inSize - 1 ? 1 : 0);
    const l1 = src - i0;
    taps.index.push(Int32Array.of(i0, i1));
    taps.weight.push(Float64Array.of(1 - l1, l1));
  }
  return taps;
}

function cubicTaps(inSize: number, outSize: number): AxisTaps {
  const scale = inSize / outSize;
  const taps: AxisTaps = { index: [], weight: [] };
  for (let o = 0; o < outSize; o++) {
    // The cubic source index is not clamped; the taps are (upsample_get_value_bounded).
    const real = scale * (o + 0.5) - 0.5;
    const base = Math.floor(real);
    const t = real - base;
    const clamp = (i: number) => Math.min(Math.max(i, 0), inSize - 1);
    taps.index.push(Int32Array.of(clamp(base - 1), clamp(base), clamp(base + 1), clamp(base + 2)));
    taps.weight.push(Float64Array.of(cubic2(t + 1, CUBIC_A), cubic1(t, CUBIC_A), cubic1(1 - t, CUBIC_A), cubic2(2 - t, CUBIC_A)));
  }
  return taps;
}

/** PyTorch's antialiased filters (`_upsample_bilinear2d_aa` / `_upsample_bicubic2d_aa`; bicubic there uses a = −0.5, as PIL). */
const aaBilinear = (x: number) => {
  x = Math.abs(x);
  return x < 1 ? 1 - x : 0;
};
const aaBicubic = (x: number) => {
  const a = -0.5;
  x = Math.abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
};

function antialiasedTaps(inSize: number, outSize: number, interpSize: 2 | 4): AxisTaps {
  const scale = inSize / outSize;
  const filter = interpSize === 2 ? aaBilinear : aaBicubic;
  const support = scale >= 1 ? interpSize * 0.5 * scale : interpSize * 0.5;
  const invScale = scale >= 1 ? 1 / scale : 1;
  const taps: AxisTaps = { index: [], weight: [] };
  for (let o = 0; o < outSize; o++) {
    const center = scale * (o + 0.5);
    // C++ casts to int64 (truncation toward zero).
    const min = Math.max(Math.trunc(center - support + 0.5), 0);
    const size = Math.min(Math.trunc(center + support + 0.5), inSize) - min;
    const index = new Int32Array(size);
    const weight = new Float64Array(size);
    let total = 0;
    for (let j = 0; j < size; j++) {
      index[j] = min + j;
      weight[j] = filter((j + min - center + 0.5) * invScale);
      total += weight[j];
    }
    if (total !== 0) for (let j = 0; j < size; j++) weight[j] /= total;
    taps.index.push(index);
    taps.weight.push(weight);
  }
  return taps;
}

function nearestTaps(inSize: number, outSize: number, exact: boolean): AxisTaps {
  // compute_scales_value: a float scale; nearest_idx / nearest_neighbor_exact_compute_source_index in float.
  const scale = Math.fround(inSize / outSize);
  const taps: AxisTaps = { index: [], weight: [] };
  for (let o = 0; o < outSize; o++) {
    // PyTorch's nearest_idx shortcuts (same size, exactly 2×) give what this formula gives, so none here.
    const i = Math.min(Math.floor(Math.fround((exact ? o + 0.5 : o) * scale)), inSize - 1);
    taps.index.push(Int32Array.of(i));
    taps.weight.push(Float64Array.of(1));
  }
  return taps;
}

function axisTaps(mode: LatentUpscaleMode, inSize: number, outSize: number): AxisTaps {
  switch (mode.mode) {
    case 'nearest':
      return nearestTaps(inSize, outSize, false);
    case 'nearest-exact':
      return nearestTaps(inSize, outSize, true);
    case 'bilinear':
      return mode.antialias ? antialiasedTaps(inSize, outSize, 2) : linearTaps(inSize, outSize);
    case 'bicubic':
      return mode.antialias ? antialiasedTaps(inSize, outSize, 4) : cubicTaps(inSize, outSize);
  }
}

/**
 * `F.interpolate` of a [channels, h, w] float tensor (C order) to [channels, outH, outW]: along the
 * width first, then the height, as PyTorch's separable kernels do.
 */
export function interpolate(x: Float32Array, channels: number, h: number, w: number, outH: number, outW: number, mode: LatentUpscaleMode): Float32Array {
  if (x.length !== channels * h * w) throw new RangeError(`interpolate: ${x.length} values are not ${channels}×${h}×${w}`);
  if (outH < 1 || outW < 1 || !Number.isInteger(outH) || !Number.isInteger(outW)) throw new RangeError(`interpolate: output size ${outH}×${outW} must be positive integers`);
  const tx = axisTaps(mode, w, outW);
  const ty = axisTaps(mode, h, outH);
  const rows = new Float64Array(h * outW);
  const out = new Float32Array(channels * outH * outW);
  for (let c = 0; c < channels; c++) {
    const plane = c * h * w;
    for (let y = 0; y < h; y++) {
      for (let o = 0; o < outW; o++) {
        const idx = tx.index[o];
        const wt = tx.weight[o];
        let s = 0;
        for (let k = 0; k < idx.length; k++) s += wt[k] * x[plane + y * w + idx[k]];
        rows[y * outW + o] = s;
      }
    }
    const outPlane = c * outH * outW;
    for (let o = 0; o < outH; o++) {
      const idx = ty.index[o];
      const wt = ty.weight[o];
      for (let xo = 0; xo < outW; xo++) {
        let s = 0;
        for (let k = 0; k < idx.length; k++) s += wt[k] * rows[idx[k] * outW + xo];
        out[outPlane + o * outW + xo] = s;
      }
    }
  }
  return out;
}
