import * as assert from 'assert';
import { drawGrid, drawZGrid, MAX_LABEL_CHARS, MISSING_CELL_GREY } from '../../../server/src/render/grid/gridImage';
import type { RgbImage } from '../../../server/src/render/grid/gridImageTypes';

/**
 * The grid as A1111's `draw_grid_annotations` lays it out. The sizes below are derived from its formulas with
 * DejaVu Sans's metrics (and are what Pillow 12.3 gives running A1111's function on the same font and labels):
 *   font = (cell width + cell height) // 25 px, line spacing = font // 2, left band = cell width * 3 // 4,
 *   top band = tallest column label + 2 × spacing, where a line's height is its ink from the highest glyph top
 *   to the lowest glyph bottom, each edge on the nearest whole pixel as FreeType's hinting puts it (DejaVu's
 *   ascender letters reach 1556/2048 em, capitals about 1520, g/p/y go down to -426/2048 em).
 */

/** A cell whose every pixel differs from its neighbours' and from other cells', so a misplaced copy shows. */
function patternCell(width: number, height: number, seed: number): RgbImage {
  const rgb = new Uint8Array(width * height * 3);
  let s = seed * 2654435761;
  for (let i = 0; i < rgb.length; i++) {
    s = (Math.imul(s ^ (s >>> 15), 2246822519) + 374761393) >>> 0;
    rgb[i] = s & 0xff;
  }
  return { width, height, rgb };
}

function solidCell(width: number, height: number, level: number): RgbImage {
  return { width, height, rgb: new Uint8Array(width * height * 3).fill(level) };
}

function pixel(image: RgbImage, x: number, y: number): [number, number, number] {
  const at = (y * image.width + x) * 3;
  return [image.rgb[at], image.rgb[at + 1], image.rgb[at + 2]];
}

/** The bounding box of the pixels darker than mid-grey inside a rectangle, or undefined when there are none. */
function darkBox(image: RgbImage, x0: number, y0: number, x1: number, y1: number) {
  let box: { left: number; top: number; right: number; bottom: number; count: number } | undefined;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const [r, g, b] = pixel(image, x, y);
      if (r + g + b >= 3 * 128) continue;
      box ??= { left: x, top: y, right: x, bottom: y, count: 0 };
      box.left = Math.min(box.left, x);
      box.right = Math.max(box.right, x);
      box.top = Math.min(box.top, y);
      box.bottom = Math.max(box.bottom, y);
      box.count++;
    }
  }
  return box;
}

/** Rows (within a rectangle) that hold at least one dark pixel, grouped into runs: one run per line of text. */
function textLines(image: RgbImage, x0: number, y0: number, x1: number, y1: number): number {
  let runs = 0;
  let inRun = false;
  for (let y = y0; y < y1; y++) {
    const dark = darkBox(image, x0, y, x1, y + 1) !== undefined;
    if (dark && !inRun) runs++;
    inRun = dark;
  }
  return runs;
}

function assertCellAt(grid: RgbImage, cell: RgbImage, x: number, y: number, what: string): void {
  for (let row = 0; row < cell.height; row++) {
    const got = grid.rgb.subarray(((y + row) * grid.width + x) * 3, ((y + row) * grid.width + x + cell.width) * 3);
    const want = cell.rgb.subarray(row * cell.width * 3, (row + 1) * cell.width * 3);
    assert.ok(Buffer.from(got).equals(Buffer.from(want)), `${what}: row ${row} differs`);
  }
}

describe('X/Y/Z grid image (A1111 layout)', () => {
  const X3 = ['CFG 5', 'CFG 7', 'CFG 9'];
  const Y2 = ['Seed 1', 'Seed 2'];

  it('a 3×2 grid of 64×64 cells is 240×136: a 48 px row-label band and an 8 px column-label band', () => {
    // font (64+64)//25 = 5 px, spacing 2; "CFG 5" is 4 px tall at 5 px (cap top 1520/2048×5 = 3.7 → 4), band 4 + 2×2 = 8.
    const cells = [0, 1].map((r) => [0, 1, 2].map((c) => patternCell(64, 64, r * 3 + c + 1)));
    const grid = drawGrid(cells, X3, Y2);
    assert.strictEqual(grid.width, 3 * 64 + 48);
    assert.strictEqual(grid.height, 2 * 64 + 8);
    assert.strictEqual(grid.rgb.length, 240 * 136 * 3);
  });

  it('copies every cell exactly into its slot, margins between slots white', () => {
    const cells = [0, 1].map((r) => [0, 1, 2].map((c) => patternCell(64, 64, r * 3 + c + 1)));
    const grid = drawGrid(cells, X3, Y2, { margin: 3 });
    assert.deepStrictEqual([grid.width, grid.height], [240 + 2 * 3, 136 + 3]);
    for (let r = 0; r < 2; r++) for (let c = 0; c < 3; c++) assertCellAt(grid, cells[r][c], 48 + 67 * c, 8 + 67 * r, `cell (${r}, ${c})`);
    // The 3 px gap right of column 1 and below row 1 is background.
    for (let y = 8; y < grid.height; y++) for (let x = 48 + 64; x < 48 + 67; x++) assert.deepStrictEqual(pixel(grid, x, y), [255, 255, 255]);
    for (let x = 48; x < grid.width; x++) for (let y = 8 + 64; y < 8 + 67; y++) assert.deepStrictEqual(pixel(grid, x, y), [255, 255, 255]);
  });

  describe('labels at 128×128 (10 px text, 96 px row band, 23 px column band)', () => {
    const cells = [0, 1].map(() => [0, 1, 2].map(() => solidCell(128, 128, 255)));
    // font (128+128)//25 = 10, spacing 5. The middle label wraps to "Steps: 30 and a long" (ink from 'd'/'l' at
    // 1556/2048×10 = 7.6 → 8 px over the baseline to 'p' at -426/2048×10 = -2.1 → -2: 10 px) and "label here"
    // (8 px, nothing under the baseline): 10 + 5 + 8 = 23, band 23 + 2×5 = 33.
    const grid = drawGrid(cells, ['Steps: 20', 'Steps: 30 and a long label here', 'gjy'], ['Seed: 1', 'Seed: 2']);

    it('is 480×289: the two-line column label sets the band for every column', () => {
      assert.deepStrictEqual([grid.width, grid.height], [3 * 128 + 96, 2 * 128 + 33]);
    });

    it('draws each column label in its own column of the top band, centred over the cell', () => {
      for (let c = 0; c < 3; c++) {
        const left = 96 + 128 * c;
        const box = darkBox(grid, left, 0, left + 128, 33);
        assert.ok(box && box.count > 20, `column ${c + 1} has its label`);
        const centre = (box.left + box.right + 1) / 2;
        assert.ok(Math.abs(centre - (left + 64)) <= 2, `column ${c + 1}'s label is centred (${centre} vs ${left + 64})`);
        assert.ok(box.top >= 1 && box.bottom <= 31, `column ${c + 1}'s label stays inside the band (${box.top}..${box.bottom})`);
      }
      assert.strictEqual(textLines(grid, 96, 0, 96 + 128, 33), 1);
      assert.strictEqual(textLines(grid, 96 + 128, 0, 96 + 256, 33), 2, 'the long label wraps onto two lines');
    });

    it('draws each row label in the left band, centred on its row; the corner and the cells stay clean', () => {
      for (let r = 0; r < 2; r++) {
        const top = 33 + 128 * r;
        const box = darkBox(grid, 0, top, 96, top + 128);
        assert.ok(box && box.count > 15, `row ${r + 1} has its label`);
        assert.ok(Math.abs((box.left + box.right + 1) / 2 - 48) <= 2, `row ${r + 1}'s label is centred in the band`);
        assert.ok(Math.abs((box.top + box.bottom + 1) / 2 - (top + 64)) <= 3, `row ${r + 1}'s label is centred on the row`);
      }
      assert.strictEqual(darkBox(grid, 0, 0, 96, 33), undefined, 'nothing in the top-left corner');
      assert.strictEqual(darkBox(grid, 96, 33, grid.width, grid.height), undefined, 'no label ink over the (white) cells');
    });

    it('anti-aliases the text: edge pixels take grey levels between the ink and the background', () => {
      const levels = new Set<number>();
      for (let y = 0; y < 33; y++) for (let x = 96; x < 96 + 128; x++) levels.add(pixel(grid, x, y)[0]);
      assert.ok(levels.has(0) || [...levels].some((v) => v < 40), 'some pixels are (nearly) fully inked');
      assert.ok([...levels].filter((v) => v > 40 && v < 215).length >= 10, `many grey levels at the edges (${levels.size} levels)`);
    });
  });

  it('a long label wraps onto more lines and the band grows by a line height and a spacing', () => {
    const cells = [[solidCell(64, 64, 200), solidCell(64, 64, 200), solidCell(64, 64, 200)]];
    const short = drawGrid(cells, X3, ['Seed 1']);
    const long = drawGrid(cells, ['CFG 5', 'CFG 7 with a much longer label that wraps', 'x'], ['Seed 1']);
    // "CFG 7 with a much" (4 px) + spacing 2 + "longer label that wraps" (5 px: g reaches 1 px under) + 2×2 = 15.
    assert.strictEqual(short.height, 64 + 8);
    assert.strictEqual(long.height, 64 + 15);
    assert.strictEqual(long.width, short.width);
  });

  it('a word too long for the row band is drawn smaller, inside the band', () => {
    const cells = [[solidCell(128, 128, 255)], [solidCell(128, 128, 255)]];
    const grid = drawGrid(cells, ['x'], ['Seed: 1', 'Supercalifragilisticexpialidocious']);
    const box = darkBox(grid, 0, 0, grid.width, grid.height);
    assert.ok(box);
    const label = darkBox(grid, 0, grid.height - 128, 96, grid.height);
    assert.ok(label && label.left >= 0 && label.right < 96, `the word fits the 96 px band (${label?.left}..${label?.right})`);
    assert.strictEqual(darkBox(grid, 96, 0, grid.width, grid.height)?.top, darkBox(grid, 96, 0, grid.width, 20)?.top, 'no ink over the cells');
  });

  it('draws a missing (failed or cancelled) cell as a grey tile of the slot size', () => {
    const cells = [
      [patternCell(64, 64, 1), undefined, patternCell(64, 64, 3)],
      [undefined, patternCell(64, 64, 5), patternCell(64, 64, 6)],
    ];
    const grid = drawGrid(cells, X3, Y2);
    for (const [r, c] of [[0, 1], [1, 0]]) {
      for (let y = 8 + 64 * r; y < 8 + 64 * (r + 1); y++) {
        for (let x = 48 + 64 * c; x < 48 + 64 * (c + 1); x++) assert.deepStrictEqual(pixel(grid, x, y), [MISSING_CELL_GREY, MISSING_CELL_GREY, MISSING_CELL_GREY]);
      }
    }
    assertCellAt(grid, cells[1][1]!, 48 + 64, 8 + 64, 'the cell beside the missing ones');
  });

  it('a grid with no image at all draws grey tiles of the given cell size, and without one says what is missing', () => {
    const grid = drawGrid([[undefined, undefined, undefined]], X3, [''], { cellSize: { width: 64, height: 64 } });
    assert.deepStrictEqual([grid.width, grid.height], [3 * 64, 64 + 8]);
    for (const x of [0, 100, 191]) assert.deepStrictEqual(pixel(grid, x, 8), [MISSING_CELL_GREY, MISSING_CELL_GREY, MISSING_CELL_GREY]);
    assert.throws(() => drawGrid([[undefined]], ['a'], ['']), /no cell of the grid has an image, and no cell size was given/);
  });

  it('mixed cell sizes (a Size axis) get slots of the largest, a smaller cell centred in its slot on white', () => {
    const small = patternCell(32, 48, 7);
    const big = patternCell(64, 64, 8);
    const grid = drawGrid([[small, big]], ['', ''], ['']);
    assert.deepStrictEqual([grid.width, grid.height], [128, 64]);
    assertCellAt(grid, small, (64 - 32) >> 1, (64 - 48) >> 1, 'the small cell'); // image_grid's (w - img_w) // 2
    assertCellAt(grid, big, 64, 0, 'the big cell');
    for (const [x, y] of [[0, 0], [15, 30], [48, 30], [30, 7], [30, 56]]) assert.deepStrictEqual(pixel(grid, x, y), [255, 255, 255], `(${x}, ${y}) around the small cell`);
  });

  it('no labels at all (X axis only with empty labels): no bands, just the cells', () => {
    const cells = [[patternCell(64, 64, 1), patternCell(64, 64, 2)]];
    const grid = drawGrid(cells, ['', ''], ['']);
    assert.deepStrictEqual([grid.width, grid.height], [128, 64]);
    assertCellAt(grid, cells[0][1], 64, 0, 'cell 2');
  });

  it('a title (the Z value) goes above the grid as A1111 draws it over the grid in the Z grid', () => {
    const cells = [0, 1].map((r) => [0, 1, 2].map((c) => patternCell(64, 64, r * 3 + c + 1)));
    const plain = drawGrid(cells, X3, Y2);
    const titled = drawGrid(cells, X3, Y2, { title: 'Steps: 20' });
    // font (240+136)//25 = 15 px, spacing 7; "Steps: 20" is 11 + 3 = 14 px tall ('S' 1520/2048×15 = 11.1, 'p' -3.1): band 14 + 14 = 28.
    assert.deepStrictEqual([titled.width, titled.height], [240, 136 + 28]);
    assertCellAt(titled, plain, 0, 28, 'the grid under its title');
    const title = darkBox(titled, 0, 0, 240, 28);
    assert.ok(title && Math.abs((title.left + title.right + 1) / 2 - 120) <= 2, 'the title is centred');
  });

  it('drawZGrid puts each Z value\'s grid side by side under its label', () => {
    const cells = (seed: number) => [0, 1].map((r) => [0, 1, 2].map((c) => patternCell(64, 64, seed + r * 3 + c)));
    const a = drawGrid(cells(1), X3, Y2);
    const b = drawGrid(cells(20), X3, Y2);
    const z = drawZGrid([a, b], ['Steps: 20', 'Steps: 30']);
    assert.deepStrictEqual([z.width, z.height], [480, 164]);
    assertCellAt(z, a, 0, 28, 'the first Z value\'s grid');
    assertCellAt(z, b, 240, 28, 'the second Z value\'s grid');
    assert.ok(darkBox(z, 0, 0, 240, 28) && darkBox(z, 240, 0, 480, 28), 'both Z labels are drawn');
  });

  it('a pasted wall of text as a label is cut to MAX_LABEL_CHARS, so the band stays bounded', () => {
    const cells = [[solidCell(64, 64, 200)]];
    const words = drawGrid(cells, ['ab '.repeat(100000)], ['']);
    const cut = drawGrid(cells, ['ab '.repeat(MAX_LABEL_CHARS / 3) + 'ab…'], ['']);
    assert.strictEqual(words.height, cut.height, 'the same band as the cut label');
    assert.ok(words.height < 64 + 1000, `a bounded band (${words.height - 64} px)`);
    const word = drawGrid(cells, ['x'.repeat(200000)], ['']);
    // A1111's wrap leaves an empty first line before a word too long for the cell: 0 + 2 + 3 ('x' is 2.7 px) + 2×2.
    assert.deepStrictEqual([word.width, word.height], [64, 64 + 9], 'one word: one line, drawn as small as it goes');
  });

  it('says what is wrong when the labels do not match the cells, or a cell is not an image', () => {
    const cell = patternCell(8, 8, 1);
    assert.throws(() => drawGrid([[cell, cell]], ['a'], ['']), /row 1 of the grid has 2 cell\(s\) but there are 1 X label\(s\)/);
    assert.throws(() => drawGrid([[cell]], ['a'], ['r1', 'r2']), /the grid has 1 row\(s\) but 2 Y label\(s\)/);
    assert.throws(() => drawGrid([[{ width: 8, height: 8, rgb: new Uint8Array(10) }]], ['a'], ['']), /cell \(row 1, column 1\) is 8×8 but has 10 bytes of RGB, not 192/);
    assert.throws(() => drawGrid([[cell]], ['a'], [''], { margin: -1 }), /grid margin must be a whole number of pixels from 0 to 4096, got -1/);
    assert.throws(() => drawZGrid([cell], ['a', 'b']), /1 grid\(s\) but 2 Z label\(s\)/);
    assert.throws(() => drawGrid([], [], []), /a grid needs at least one cell/);
  });
});
