/**
 * `torch.linspace(start, end, n)` as torch evaluates it (from both ends towards the middle), so
 * the endpoints are exact and the grid matches k-diffusion's to the last float.
 */
export function linspace(start: number, end: number, n: number): Float64Array {
  const out = new Float64Array(n);
  if (n === 1) {
    out[0] = start;
    return out;
  }
  const step = (end - start) / (n - 1);
  const half = Math.floor(n / 2);
  for (let i = 0; i < n; i++) out[i] = i < half ? start + i * step : end - (n - 1 - i) * step;
  return out;
}
