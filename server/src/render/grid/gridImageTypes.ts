/** Images as the grid composes them: 8-bit RGB, row-major, no padding. */
export interface RgbImage {
  width: number;
  height: number;
  rgb: Uint8Array;
}
