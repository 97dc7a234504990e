import type * as opentype from 'opentype.js';
import type { RgbImage } from './gridImageTypes';

/** A glyph's advance and ink box in font units, read once: opentype.js builds the outline to get the box. */
interface GlyphMetrics {
  glyph: opentype.Glyph;
  advance: number;
  /** Ink box (xMin, yMin, xMax, yMax, y up); undefined for a glyph with no ink (a space). */
  box?: [number, number, number, number];
}

const metricsByFont = new WeakMap<opentype.Font, Map<string, GlyphMetrics>>();

function glyphMetrics(font: opentype.Font, char: string): GlyphMetrics {
  let byChar = metricsByFont.get(font);
  if (!byChar) metricsByFont.set(font, (byChar = new Map()));
  let metrics = byChar.get(char);
  if (!metrics) {
    // Labels use a few hundred characters at most; a label of every code point must not grow this for good.
    if (byChar.size >= 4096) byChar.clear();
    const glyph = font.charToGlyph(char);
    const box = glyph.getBoundingBox();
    metrics = { glyph, advance: glyph.advanceWidth ?? 0, box: box.x2 > box.x1 ? [box.x1, box.y1, box.x2, box.y2] : undefined };
    byChar.set(char, metrics);
  }
  return metrics;
}

/**
 * Text at one pixel size, measured and drawn the way A1111's grid labels are (PIL's `ImageFont.truetype` with
 * its default raqm layout on FreeType): glyphs advance by the font's unhinted advances and kerning, the ascender is rounded up
 * and the descender down to whole pixels, and a line's box spans the ink of its glyphs with the edges on whole
 * pixels (FreeType's hinting snaps them; rounding lands where it does for most lines, else a pixel off). Outlines
 * are filled with anti-aliased coverage (exact signed area per pixel) and not hinted.
 */
export class FontFace {
  private readonly scale: number;
  /** Pixels from the baseline up to the ascender line, rounded up as FreeType does for scaled fonts. */
  readonly ascender: number;
  /** Pixels from the baseline to the descender line (negative), rounded down. */
  readonly descender: number;

  constructor(private readonly font: opentype.Font, readonly size: number) {
    this.scale = size / font.unitsPerEm;
    this.ascender = Math.ceil(font.ascender * this.scale);
    this.descender = Math.floor(font.descender * this.scale);
  }

  /** A position as HarfBuzz (under PIL's raqm layout) gives it: whole 64ths of a pixel. */
  private toPixels(units: number): number {
    return Math.round(units * this.scale * 64) / 64;
  }

  /**
   * Each glyph's pen position along the line, and where the pen ends: one glyph per code point from the font's
   * cmap (.notdef's box where it has none), advanced by its advance plus the font's kerning with the next, each
   * in 64ths of a pixel. This matches PIL's `textlength` exactly for DejaVu Sans (no ligatures or contextual
   * forms come into Latin labels; opentype.js's own shaping throws on some of DejaVu's lookups).
   */
  private place(text: string): { glyphs: { metrics: GlyphMetrics; x: number }[]; end: number } {
    const glyphs: { metrics: GlyphMetrics; x: number }[] = [];
    const kerning = (this.font as { kerningPairs?: Record<string, number> }).kerningPairs ?? {};
    let pen = 0;
    let previous: GlyphMetrics | undefined;
    for (const char of text) {
      const metrics = glyphMetrics(this.font, char);
      if (previous) pen += this.toPixels(kerning[`${previous.glyph.index},${metrics.glyph.index}`] ?? 0);
      glyphs.push({ metrics, x: pen });
      pen += this.toPixels(metrics.advance);
      previous = metrics;
    }
    return { glyphs, end: pen };
  }

  /** PIL's `textlength` (what A1111's wrap compares with the cell width): where the pen ends. */
  textLength(text: string): number {
    return this.place(text).end;
  }

  /**
   * PIL's `textbbox((0, 0), text)` turned into a size, as A1111's `line.size`: the width to the pen's end
   * (or the ink's right edge past it), the height from the topmost to the lowest ink, each on the nearest
   * whole pixel (as PIL's are for 97% of DejaVu label lines at 5-80 px), with the baseline always inside.
   */
  textSize(text: string): { width: number; height: number } {
    const { glyphs, end } = this.place(text);
    let right = 0;
    let top = 0;
    let bottom = 0;
    for (const { metrics, x } of glyphs) {
      if (!metrics.box) continue;
      right = Math.max(right, x + metrics.box[2] * this.scale);
      top = Math.max(top, metrics.box[3] * this.scale);
      bottom = Math.min(bottom, metrics.box[1] * this.scale);
    }
    return { width: Math.round(Math.max(end, right)), height: Math.round(top) - Math.round(bottom) };
  }

  /**
   * Draws one line centred on (x, y) as PIL's anchor "mm" does: horizontally on the middle of the line's
   * width, vertically on the middle between the ascender and descender lines. Pixels outside the image are
   * clipped; the colour is blended over what is there by coverage.
   */
  drawCentred(image: RgbImage, text: string, x: number, y: number, colour: readonly [number, number, number]): void {
    if (!text) return;
    const originX = x - this.textSize(text).width / 2;
    const baseline = y + (this.ascender + this.descender) / 2;
    const outline: Segment[] = [];
    for (const { metrics, x: at } of this.place(text).glyphs) {
      if (metrics.box) flatten(metrics.glyph.getPath(originX + at, baseline, this.size).commands, outline);
    }
    fillCoverage(image, outline, colour);
  }
}

/** A straight piece of a glyph outline, in image pixels (y down). */
type Segment = [x0: number, y0: number, x1: number, y1: number];

/** Curves as line pieces short enough (about a pixel and a half) that coverage is off by far less than a grey level. */
function flatten(commands: opentype.PathCommand[], out: Segment[]): void {
  let startX = 0;
  let startY = 0;
  let x = 0;
  let y = 0;
  const lineTo = (nx: number, ny: number) => {
    if (nx !== x || ny !== y) out.push([x, y, nx, ny]);
    x = nx;
    y = ny;
  };
  for (const c of commands) {
    if (c.type === 'M') {
      if (x !== startX || y !== startY) lineTo(startX, startY);
      x = startX = c.x;
      y = startY = c.y;
    } else if (c.type === 'L') {
      lineTo(c.x, c.y);
    } else if (c.type === 'Q') {
      const steps = pieces(Math.hypot(c.x1 - x, c.y1 - y) + Math.hypot(c.x - c.x1, c.y - c.y1));
      const [x0, y0] = [x, y];
      for (let i = 1; i <= steps; i++) {
        const t = i / steps;
        const u = 1 - t;
        lineTo(u * u * x0 + 2 * u * t * c.x1 + t * t * c.x, u * u * y0 + 2 * u * t * c.y1 + t * t * c.y);
      }
    } else if (c.type === 'C') {
      const steps = pieces(Math.hypot(c.x1 - x, c.y1 - y) + Math.hypot(c.x2 - c.x1, c.y2 - c.y1) + Math.hypot(c.x - c.x2, c.y - c.y2));
      const [x0, y0] = [x, y];
      for (let i = 1; i <= steps; i++) {
        const t = i / steps;
        const u = 1 - t;
        lineTo(
          u * u * u * x0 + 3 * u * u * t * c.x1 + 3 * u * t * t * c.x2 + t * t * t * c.x,
          u * u * u * y0 + 3 * u * u * t * c.y1 + 3 * u * t * t * c.y2 + t * t * t * c.y,
        );
      }
    } else if (c.type === 'Z') {
      lineTo(startX, startY);
    }
  }
  if (x !== startX || y !== startY) lineTo(startX, startY);
}

function pieces(controlLength: number): number {
  return Math.min(64, Math.max(1, Math.ceil(controlLength / 1.5)));
}

/**
 * Fills the outline by the non-zero rule with exact area coverage: each edge adds its signed area to an
 * accumulation row, and a running sum along the row gives each pixel's coverage (the method of font-rs and
 * stb_truetype's v2 rasterizer), so edges are anti-aliased and overlapping contours do not cancel.
 */
function fillCoverage(image: RgbImage, outline: Segment[], colour: readonly [number, number, number]): void {
  if (outline.length === 0) return;
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const [x0, y0, x1, y1] of outline) {
    minX = Math.min(minX, x0, x1);
    maxX = Math.max(maxX, x0, x1);
    minY = Math.min(minY, y0, y1);
    maxY = Math.max(maxY, y0, y1);
  }
  // Rows outside the image are skipped; columns are all kept (a row's coverage is a running sum from its
  // left end, so a clipped edge would shift every pixel after it). A line is at most a cell wide, or shrunk to be.
  const top = Math.max(0, Math.floor(minY));
  const bottom = Math.min(image.height, Math.ceil(maxY) + 1);
  const origin = Math.floor(minX) - 1;
  const width = Math.ceil(maxX) - origin + 3;
  const height = bottom - top;
  if (height <= 0 || origin + width <= 0 || origin >= image.width) return;
  const acc = new Float32Array(width * height + 2);
  for (const [x0, y0, x1, y1] of outline) accumulateLine(acc, width, height, x0 - origin, y0 - top, x1 - origin, y1 - top);
  const [r, g, b] = colour;
  for (let row = 0; row < height; row++) {
    let sum = 0;
    for (let col = 0; col < width; col++) {
      sum += acc[row * width + col];
      const x = origin + col;
      if (x < 0 || x >= image.width) continue;
      const coverage = Math.min(1, Math.abs(sum));
      if (coverage < 1 / 512) continue;
      const at = ((top + row) * image.width + x) * 3;
      const rgb = image.rgb;
      rgb[at] = Math.round(rgb[at] + (r - rgb[at]) * coverage);
      rgb[at + 1] = Math.round(rgb[at + 1] + (g - rgb[at + 1]) * coverage);
      rgb[at + 2] = Math.round(rgb[at + 2] + (b - rgb[at + 2]) * coverage);
    }
  }
}

/** One edge's signed area into the accumulation rows it crosses (x shifted to lie within the row, ≥ 1). */
function accumulateLine(acc: Float32Array, width: number, height: number, ax: number, ay: number, bx: number, by: number): void {
  if (ay === by) return;
  const dir = ay < by ? 1 : -1;
  const [x0p, y0p, x1p, y1p] = ay < by ? [ax, ay, bx, by] : [bx, by, ax, ay];
  const dxdy = (x1p - x0p) / (y1p - y0p);
  let x = x0p;
  if (y0p < 0) x -= y0p * dxdy;
  const yEnd = Math.min(height, Math.ceil(y1p));
  for (let y = Math.max(0, Math.floor(y0p)); y < yEnd; y++) {
    const line = y * width;
    const dy = Math.min(y + 1, y1p) - Math.max(y, y0p);
    const xNext = x + dxdy * dy;
    const d = dy * dir;
    const lo = Math.min(x, xNext);
    const hi = Math.max(x, xNext);
    const loFloor = Math.floor(lo);
    const hiCeil = Math.ceil(hi);
    if (hiCeil <= loFloor + 1) {
      // The edge stays within one pixel column on this row: split by where its middle falls.
      const mid = 0.5 * (lo + hi) - loFloor;
      acc[line + loFloor] += d - d * mid;
      acc[line + loFloor + 1] += d * mid;
    } else {
      const s = 1 / (hi - lo);
      const loFrac = lo - loFloor;
      const a0 = 0.5 * s * (1 - loFrac) * (1 - loFrac);
      const hiFrac = hi - hiCeil + 1;
      const am = 0.5 * s * hiFrac * hiFrac;
      acc[line + loFloor] += d * a0;
      if (hiCeil === loFloor + 2) {
        acc[line + loFloor + 1] += d * (1 - a0 - am);
      } else {
        const a1 = s * (1.5 - loFrac);
        acc[line + loFloor + 1] += d * (a1 - a0);
        for (let xi = loFloor + 2; xi < hiCeil - 1; xi++) acc[line + xi] += d * s;
        const a2 = a1 + (hiCeil - loFloor - 3) * s;
        acc[line + hiCeil - 1] += d * (1 - a2 - am);
      }
      acc[line + hiCeil] += d * am;
    }
    x = xNext;
  }
}
