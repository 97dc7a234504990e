/**
 * A1111's `rng.slerp(val, low, high)` on one image's [C, H, W] noise, quirks included (it came
 * from a forum post written for [batch, features] tensors):
 * - the norms and dot products run over dim 1, the height: every (channel, column) pair is its
 *   own vector, interpolated with its own angle;
 * - when the mean dot product is above 0.9995 it falls back to `low·val + high·(1 − val)`, the
 *   weights the other way round from the spherical branch.
 * `low` is the seed's noise, `high` the variation seed's, `val` the variation strength.
 */
export function slerp(val: number, low: Float32Array, high: Float32Array, shape: readonly [number, number, number]): Float32Array {
  const [channels, height, width] = shape;
  const columns = channels * width;
  const dot = new Float64Array(columns);
  let dotSum = 0;
  for (let c = 0; c < channels; c++) {
    for (let w = 0; w < width; w++) {
      let lowSq = 0;
      let highSq = 0;
      let cross = 0;
      for (let h = 0; h < height; h++) {
        const k = (c * height + h) * width + w;
        lowSq += low[k] * low[k];
        highSq += high[k] * high[k];
        cross += low[k] * high[k];
      }
      const d = cross / (Math.sqrt(lowSq) * Math.sqrt(highSq));
      dot[c * width + w] = d;
      dotSum += d;
    }
  }
  const out = new Float32Array(low.length);
  if (dotSum / columns > 0.9995) {
    for (let k = 0; k < out.length; k++) out[k] = low[k] * val + high[k] * (1 - val);
    return out;
  }
  for (let c = 0; c < channels; c++) {
    for (let w = 0; w < width; w++) {
      const omega = Math.acos(dot[c * width + w]);
      const so = Math.sin(omega);
      const a = Math.sin((1 - val) * omega) / so;
      const b = Math.sin(val * omega) / so;
      for (let h = 0; h < height; h++) {
        const k = (c * height + h) * width + w;
        out[k] = a * low[k] + b * high[k];
      }
    }
  }
  return out;
}
