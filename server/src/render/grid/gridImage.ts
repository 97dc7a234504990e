import type * as opentype from 'opentype.js';
import type { RgbImage } from './gridImageTypes';
import { gridFont } from './fontFile';
import { FontFace } from './fontRaster';

/**
 * The X/Y/Z plot's images laid out as AUTOMATIC1111's webui lays them (modules/images.py `image_grid` and
 * `draw_grid_annotations`, scripts/xyz_grid.py `draw_xyz_grid`), so a grid from sd-prompt reads like one from
 * the webui: cells centred in slots the size of the largest cell, column labels in a band above, row labels in a
 * band to the left three quarters of a cell wide, labels in a font of (cell width + height) / 25 pixels,
 * wrapped on spaces to fit, black on white.
 */

export interface GridImageOptions {
  /** A1111's "Grid margins (px)": white space between cells (not around the labels). Default 0. */
  margin?: number;
  /** The Z value's label, drawn above the grid as A1111 draws it over this grid in the Z grid. */
  title?: string;
  /** The slot size when no cell has an image (every render failed or was cancelled). */
  cellSize?: { width: number; height: number };
}

/** Active label text (A1111's `grid_text_active_color` default). */
export const LABEL_COLOUR = [0, 0, 0] as const;
/** The background of labels and margins (`grid_background_color`). */
export const BACKGROUND_COLOUR = [255, 255, 255] as const;
/**
 * A cell with no image (failed or cancelled): a flat grey tile, so the grid keeps its shape and the gap reads as
 * missing rather than as a black render (A1111 leaves a black image there, which a dark render looks like).
 */
export const MISSING_CELL_GREY = 128;

/**
 * Labels are cut to this many characters (with an ellipsis): a Prompt S/R label is a phrase, and a pasted megabyte
 * of text would otherwise wrap into a band of tens of thousands of pixels, or shrink a size at a time for seconds.
 */
export const MAX_LABEL_CHARS = 2000;

/**
 * One grid: `cells[row][col]` under `xLabels` (one per column) and beside `yLabels` (one per row). A missing
 * cell is an empty grey tile. Throws, naming what is wrong, when the label counts do not match the cells.
 */
export function drawGrid(cells: (RgbImage | undefined)[][], xLabels: string[], yLabels: string[], options: GridImageOptions = {}): RgbImage {
  if (cells.length === 0 || cells.every((row) => row.length === 0)) throw new Error('a grid needs at least one cell');
  if (cells.length !== yLabels.length) throw new Error(`the grid has ${cells.length} row(s) but ${yLabels.length} Y label(s)`);
  cells.forEach((row, r) => {
    if (row.length !== xLabels.length) throw new Error(`row ${r + 1} of the grid has ${row.length} cell(s) but there are ${xLabels.length} X label(s)`);
    row.forEach((cell, c) => cell && checkImage(cell, `cell (row ${r + 1}, column ${c + 1})`));
  });
  const margin = options.margin ?? 0;
  if (!Number.isInteger(margin) || margin < 0 || margin > 4096) throw new Error(`grid margin must be a whole number of pixels from 0 to 4096, got ${margin}`);
  const slot = slotSize(cells.flat(), options.cellSize);
  const grid = annotate(cells, slot.width, slot.height, xLabels, yLabels, margin);
  return options.title === undefined ? grid : drawZGrid([grid], [options.title]);
}

/**
 * A1111's grid of all Z values: each Z value's grid side by side in one row, its label above it (in a font
 * sized from the grids, not the cells), no margin and no band on the left.
 */
export function drawZGrid(grids: RgbImage[], zLabels: string[]): RgbImage {
  if (grids.length === 0) throw new Error('a Z grid needs at least one grid');
  if (grids.length !== zLabels.length) throw new Error(`${grids.length} grid(s) but ${zLabels.length} Z label(s)`);
  grids.forEach((grid, i) => checkImage(grid, `grid ${i + 1}`));
  const slot = slotSize(grids);
  return annotate([grids], slot.width, slot.height, zLabels, [''], 0);
}

function checkImage(image: RgbImage, what: string): void {
  if (!Number.isInteger(image.width) || !Number.isInteger(image.height) || image.width < 1 || image.height < 1) {
    throw new Error(`${what} is ${image.width}×${image.height}, not an image size`);
  }
  if (image.rgb.length !== image.width * image.height * 3) {
    throw new Error(`${what} is ${image.width}×${image.height} but has ${image.rgb.length} bytes of RGB, not ${image.width * image.height * 3}`);
  }
}

/** `image_grid`'s slot: the largest width and the largest height among the images. */
function slotSize(images: (RgbImage | undefined)[], fallback?: { width: number; height: number }): { width: number; height: number } {
  let width = 0;
  let height = 0;
  for (const image of images) {
    if (!image) continue;
    width = Math.max(width, image.width);
    height = Math.max(height, image.height);
  }
  if (width > 0) return { width, height };
  if (fallback && Number.isInteger(fallback.width) && Number.isInteger(fallback.height) && fallback.width > 0 && fallback.height > 0) return fallback;
  throw new Error('no cell of the grid has an image, and no cell size was given to draw the empty grid with');
}

/** A wrapped line of a label, with PIL's size of it and the width it must fit. */
interface LabelLine {
  text: string;
  width: number;
  height: number;
  allowedWidth: number;
}

/** A1111's `wrap`: words (split on whitespace) added to a line while its length fits, else a new line. */
function wrap(face: FontFace, text: string, lineLength: number): string[] {
  const lines = [''];
  for (const word of text.split(/\s+/).filter((w) => w.length > 0)) {
    const line = `${lines[lines.length - 1]} ${word}`.trim();
    if (face.textLength(line) <= lineLength) lines[lines.length - 1] = line;
    else lines.push(word);
  }
  return lines;
}

class Faces {
  private readonly bySize = new Map<number, FontFace>();
  constructor(private readonly font: opentype.Font) {}
  at(size: number): FontFace {
    let face = this.bySize.get(size);
    if (!face) this.bySize.set(size, (face = new FontFace(this.font, size)));
    return face;
  }
}

/** `draw_grid_annotations` on the cells of `image_grid`: the two functions' layout, to the pixel of their formulas. */
function annotate(tiles: (RgbImage | undefined)[][], width: number, height: number, horTexts: string[], verTexts: string[], margin: number): RgbImage {
  const fontSize = Math.floor((width + height) / 25);
  const lineSpacing = Math.floor(fontSize / 2);
  const faces = new Faces(gridFont());
  const face = faces.at(fontSize);
  const padLeft = verTexts.every((text) => text.length === 0) ? 0 : Math.floor((width * 3) / 4);
  const cols = horTexts.length;
  const rows = verTexts.length;

  const lay = (text: string, allowedWidth: number): LabelLine[] =>
    wrap(face, text.length > MAX_LABEL_CHARS ? `${text.slice(0, MAX_LABEL_CHARS)}…` : text, allowedWidth).map((line) => ({ text: line, ...face.textSize(line), allowedWidth }));
  const horLines = horTexts.map((text) => lay(text, width));
  const verLines = verTexts.map((text) => lay(text, padLeft));
  // As A1111 sums them: a column's text is its lines with spacing between; a row's text leaves the spacing out.
  const horHeights = horLines.map((lines) => lines.reduce((sum, line) => sum + line.height + lineSpacing, 0) - lineSpacing);
  const verHeights = verLines.map((lines) => lines.reduce((sum, line) => sum + line.height, 0));
  const padTop = horHeights.reduce((a, b) => a + b, 0) === 0 ? 0 : Math.max(...horHeights) + lineSpacing * 2;

  const result = blank(cols * width + padLeft + margin * (cols - 1), rows * height + padTop + margin * (rows - 1), BACKGROUND_COLOUR[0]);
  for (let row = 0; row < rows; row++) {
    for (let col = 0; col < cols; col++) {
      const x = padLeft + (width + margin) * col;
      const y = padTop + (height + margin) * row;
      const tile = tiles[row][col];
      // A cell smaller than its slot (a Size axis mixes sizes) is centred in it on the background, as
      // `image_grid` pastes it; a missing one fills the slot with grey.
      if (tile) paste(result, tile, x + ((width - tile.width) >> 1), y + ((height - tile.height) >> 1));
      else fill(result, x, y, width, height, MISSING_CELL_GREY);
    }
  }

  const drawTexts = (x: number, y: number, lines: LabelLine[]) => {
    for (const line of lines) {
      // A word longer than its cell is drawn smaller until it fits, as A1111 does (its box stays as measured).
      let lineFace = face;
      while (lineFace.size > 0 && lineFace.textSize(line.text).width > line.allowedWidth) lineFace = faces.at(lineFace.size - 1);
      if (lineFace.size > 0) lineFace.drawCentred(result, line.text, x, y + line.height / 2, LABEL_COLOUR);
      y += line.height + lineSpacing;
    }
  };
  for (let col = 0; col < cols; col++) drawTexts(padLeft + (width + margin) * col + width / 2, padTop / 2 - horHeights[col] / 2, horLines[col]);
  for (let row = 0; row < rows; row++) drawTexts(padLeft / 2, padTop + (height + margin) * row + height / 2 - verHeights[row] / 2, verLines[row]);
  return result;
}

function blank(width: number, height: number, level: number): RgbImage {
  if (width * height > 1 << 28) throw new Error(`a ${width}×${height} grid is too large to draw (more than 268 megapixels)`);
  return { width, height, rgb: new Uint8Array(width * height * 3).fill(level) };
}

function fill(image: RgbImage, x: number, y: number, width: number, height: number, level: number): void {
  for (let row = y; row < y + height; row++) image.rgb.fill(level, (row * image.width + x) * 3, (row * image.width + x + width) * 3);
}

function paste(image: RgbImage, tile: RgbImage, x: number, y: number): void {
  const stride = tile.width * 3;
  for (let row = 0; row < tile.height; row++) image.rgb.set(tile.rgb.subarray(row * stride, (row + 1) * stride), ((y + row) * image.width + x) * 3);
}
