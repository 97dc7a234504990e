import * as assert from 'assert';
import { drawGrid, drawZGrid } from '../../../server/src/render/grid/gridImage';
import { decodePng } from '../../../server/src/render/grid/gridImagePng';
import type { RgbImage } from '../../../server/src/render/grid/gridImageTypes';
import { fixtureBytes } from '../fixtures';

/**
 * Our grids against grids AUTOMATIC1111's own `draw_grid_annotations` drew (Pillow 12.3, DejaVu Sans; see
 * test/fixtures/README.md): the same size, the same cells, and every label's ink in the same place to a pixel.
 * The text itself differs only in anti-aliasing detail: FreeType hints (snaps stems to pixels), we do not.
 */

const CELL_GREY = 230;
/**
 * A pixel counts as inked below this red level: past the faintest anti-aliased fringe, where hinting (which moves
 * a thin edge, like j's dot, onto whole pixels) and exact coverage disagree most.
 */
const INKED = 160;

interface InkBox {
  left: number;
  top: number;
  right: number;
  bottom: number;
  /** The summed darkness (255 − red) of the region: how much ink there is. */
  ink: number;
}

function inkBox(image: RgbImage, x0: number, y0: number, x1: number, y1: number): InkBox | undefined {
  let box: InkBox | undefined;
  let ink = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const red = image.rgb[(y * image.width + x) * 3];
      ink += 255 - red;
      if (red >= INKED) continue;
      box ??= { left: x, top: y, right: x, bottom: y, ink: 0 };
      box.left = Math.min(box.left, x);
      box.right = Math.max(box.right, x);
      box.top = Math.min(box.top, y);
      box.bottom = Math.max(box.bottom, y);
    }
  }
  if (box) box.ink = ink;
  return box;
}

interface Case {
  fixture: string;
  cell: number;
  xLabels: string[];
  yLabels: string[];
  /** Labels A1111 draws a size smaller to fit: FreeType's hinting weighs most at 5 px, so only their place is compared. */
  shrunkRows?: number[];
}

const CASES: Case[] = [
  {
    fixture: 'grid/a1111-labels-128.png',
    cell: 128,
    xLabels: ['Steps: 20', 'Steps: 30 and a long label here', 'gjy'],
    yLabels: ['Seed: 1', 'Supercalifragilisticexpialidocious'],
    shrunkRows: [1],
  },
  {
    fixture: 'grid/a1111-labels-256.png',
    cell: 256,
    xLabels: ['CFG Scale: 7.0', 'Prompt S/R: masterpiece, best quality, very detailed'],
    yLabels: ['Sampler: DPM++ 2M', 'Euler a'],
  },
];

describe('X/Y/Z grid image against A1111\'s own', () => {
  for (const c of CASES) {
    describe(`${c.xLabels.length}×${c.yLabels.length} of ${c.cell} px (${c.fixture})`, () => {
      const reference = decodePng(fixtureBytes(c.fixture), c.fixture);
      const cells = c.yLabels.map(() => c.xLabels.map(() => ({ width: c.cell, height: c.cell, rgb: new Uint8Array(c.cell * c.cell * 3).fill(CELL_GREY) })));
      const ours = drawGrid(cells, c.xLabels, c.yLabels);
      const padLeft = (c.cell * 3) >> 2;
      const padTop = reference.height - c.cell * c.yLabels.length;

      it('has the same size, so the label bands are as tall and as wide', () => {
        assert.deepStrictEqual([ours.width, ours.height], [reference.width, reference.height]);
      });

      it('has the cells in the same places', () => {
        for (let row = 0; row < c.yLabels.length; row++) {
          for (let col = 0; col < c.xLabels.length; col++) {
            const x = padLeft + c.cell * col;
            const y = padTop + c.cell * row;
            for (const [dx, dy] of [[0, 0], [c.cell - 1, c.cell - 1], [c.cell >> 1, 3]]) {
              const at = ((y + dy) * ours.width + x + dx) * 3;
              assert.strictEqual(ours.rgb[at], CELL_GREY);
              assert.strictEqual(reference.rgb[at], CELL_GREY);
            }
          }
        }
      });

      const regions = [
        ...c.xLabels.map((_, col) => ({ what: `column ${col + 1}'s label`, shrunk: false, x0: padLeft + c.cell * col, y0: 0, x1: padLeft + c.cell * (col + 1), y1: padTop })),
        ...c.yLabels.map((_, row) => ({ what: `row ${row + 1}'s label`, shrunk: c.shrunkRows?.includes(row) ?? false, x0: 0, y0: padTop + c.cell * row, x1: padLeft, y1: padTop + c.cell * (row + 1) })),
      ];
      for (const region of regions) {
        it(`draws ${region.what} where A1111 does, to a pixel${region.shrunk ? ' (two: drawn smaller)' : ''}`, () => {
          const want = inkBox(reference, region.x0, region.y0, region.x1, region.y1);
          const got = inkBox(ours, region.x0, region.y0, region.x1, region.y1);
          assert.ok(want && got, `${region.what} is drawn`);
          const slack = region.shrunk ? 2 : 1;
          for (const side of ['left', 'top', 'right', 'bottom'] as const) {
            assert.ok(Math.abs(got[side] - want[side]) <= slack, `${side}: ours ${got[side]}, A1111's ${want[side]}`);
          }
          if (!region.shrunk) {
            assert.ok(got.ink > want.ink * 0.85 && got.ink < want.ink * 1.15, `as much ink within 15%: ours ${got.ink}, A1111's ${want.ink}`);
          }
        });
      }
    });
  }
  describe('the Z grid (grid/a1111-zgrid.png: A1111\'s grid of two Z values, each the 128 px grid above)', () => {
    const grid = decodePng(fixtureBytes('grid/a1111-labels-128.png'));
    const reference = decodePng(fixtureBytes('grid/a1111-zgrid.png'));
    const ours = drawZGrid([grid, grid], ['Steps: 20', 'Steps: 30']);

    it('has the same size: a title band of the tallest Z label plus two spacings, sized from the grids', () => {
      // font (480+289)//25 = 30 px, spacing 15; "Steps: 20" is 28 px tall: band 28 + 30 = 58.
      assert.deepStrictEqual([ours.width, ours.height], [reference.width, reference.height]);
      assert.deepStrictEqual([ours.width, ours.height], [960, 289 + 58]);
    });

    it('puts each grid under its title, unchanged', () => {
      for (const x0 of [0, 480]) {
        for (let y = 0; y < grid.height; y++) {
          const got = ours.rgb.subarray(((58 + y) * ours.width + x0) * 3, ((58 + y) * ours.width + x0 + 480) * 3);
          assert.ok(Buffer.from(got).equals(Buffer.from(grid.rgb.subarray(y * 480 * 3, (y + 1) * 480 * 3))), `row ${y} of the grid at x ${x0}`);
        }
      }
    });

    for (const [i, x0] of [0, 480].entries()) {
      it(`draws Z label ${i + 1} where A1111 does, to a pixel`, () => {
        const want = inkBox(reference, x0, 0, x0 + 480, 58);
        const got = inkBox(ours, x0, 0, x0 + 480, 58);
        assert.ok(want && got);
        for (const side of ['left', 'top', 'right', 'bottom'] as const) {
          assert.ok(Math.abs(got[side] - want[side]) <= 1, `${side}: ours ${got[side]}, A1111's ${want[side]}`);
        }
      });
    }
  });
});
