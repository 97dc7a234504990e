/**
 * The decoded image to 8-bit RGB as A1111 makes it (processing.process_images_inner): in float32,
 * clamp((x + 1) / 2, 0, 1), then `255. * x` and numpy's astype(np.uint8), which truncates rather than
 * rounds. Every step is rounded to float32 as torch and numpy do, so a value whose float64 product
 * lands just under an integer is still the byte A1111 writes.
 */
export function toRgb8(image: Float32Array, width: number, height: number): Uint8Array {
  const plane = width * height;
  if (image.length < plane * 3) throw new RangeError(`toRgb8: ${image.length} values for a ${width}x${height} RGB image`);
  const rgb = new Uint8Array(plane * 3);
  for (let c = 0; c < 3; c++) {
    for (let k = 0; k < plane; k++) rgb[k * 3 + c] = byteOf(image[c * plane + k]);
  }
  return rgb;
}

/** One channel value in [-1, 1] (VAE output) to its byte. NaN clamps to 0, as torch.clamp leaves it NaN and astype gives 0. */
export function byteOf(v: number): number {
  const unit = Math.fround(Math.fround(v + 1) / 2);
  const clamped = unit > 1 ? 1 : unit >= 0 ? unit : 0;
  return Math.trunc(Math.fround(255 * clamped));
}
