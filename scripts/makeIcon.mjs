#!/usr/bin/env node
// Draws images/icon.png (128×128): a violet-to-blue rounded tile with the `<` `>` of a LoRA tag around
// a four-point spark. Run after `npm run build` (it uses the project's own PNG encoder):
// node scripts/makeIcon.mjs
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const { encodePng } = require('../out/server/src/render/pipeline/png.js');

const N = 128;
const S = 4; // supersampling per axis
const rgb = new Uint8Array(N * N * 3);
const lerp = (a, b, t) => a + (b - a) * t;
const distToSegment = (px, py, ax, ay, bx, by) => {
  const dx = bx - ax, dy = by - ay;
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
};
const strokes = [
  [44, 40, 20, 64], [20, 64, 44, 88], // <
  [84, 40, 108, 64], [108, 64, 84, 88], // >
];
function inside(x, y) {
  // Rounded tile.
  const r = 24, cx = Math.min(Math.max(x, r), N - r), cy = Math.min(Math.max(y, r), N - r);
  if (Math.hypot(x - cx, y - cy) > r) return 'out';
  if (strokes.some(([ax, ay, bx, by]) => distToSegment(x, y, ax, ay, bx, by) < 6)) return 'mark';
  // Spark: |dx|^0.5 + |dy|^0.5 < 4^0.5 · k (astroid).
  const dx = Math.abs(x - 64) / 18, dy = Math.abs(y - 64) / 18;
  if (Math.sqrt(dx) + Math.sqrt(dy) < 1) return 'spark';
  return 'tile';
}
for (let y = 0; y < N; y++) {
  for (let x = 0; x < N; x++) {
    let r = 0, g = 0, b = 0, a = 0;
    for (let sy = 0; sy < S; sy++) {
      for (let sx = 0; sx < S; sx++) {
        const px = x + (sx + 0.5) / S, py = y + (sy + 0.5) / S;
        const kind = inside(px, py);
        const t = (px + py) / (2 * N);
        if (kind === 'out') continue;
        a++;
        if (kind === 'tile') { r += lerp(92, 24, t); g += lerp(44, 110, t); b += lerp(170, 200, t); }
        else if (kind === 'spark') { r += 255; g += 214; b += 120; }
        else { r += 245; g += 245; b += 255; }
      }
    }
    // Outside the tile: VS Code's dark background, which is where the icon mostly shows.
    const bg = [30, 30, 30], n = S * S, o = (y * N + x) * 3;
    rgb[o] = Math.round((r + (n - a) * bg[0]) / n);
    rgb[o + 1] = Math.round((g + (n - a) * bg[1]) / n);
    rgb[o + 2] = Math.round((b + (n - a) * bg[2]) / n);
  }
}
fs.writeFileSync(new URL('../images/icon.png', import.meta.url), encodePng(N, N, rgb));
console.log('wrote images/icon.png');
