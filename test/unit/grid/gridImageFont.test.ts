import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { bundledFontPath, GRID_FONT_FILE, loadFont } from '../../../server/src/render/grid/fontFile';
import { FontFace } from '../../../server/src/render/grid/fontRaster';

describe('the grid label font', () => {
  it('is found in resources/fonts above the running code, as the .vsix and the CLI lay it out', () => {
    const file = bundledFontPath();
    assert.ok(file, 'resources/fonts/DejaVuSans.ttf is found');
    assert.strictEqual(path.basename(path.dirname(file)), 'fonts');
    assert.strictEqual(path.basename(file), GRID_FONT_FILE);
    // From an extension's dist/ folder: <extension>/dist → <extension>/resources/fonts.
    const extension = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-font-'));
    try {
      fs.mkdirSync(path.join(extension, 'dist'));
      assert.strictEqual(bundledFontPath(path.join(extension, 'dist')), undefined, 'no font, none found');
      fs.mkdirSync(path.join(extension, 'resources', 'fonts'), { recursive: true });
      fs.copyFileSync(file, path.join(extension, 'resources', 'fonts', GRID_FONT_FILE));
      assert.strictEqual(bundledFontPath(path.join(extension, 'dist')), path.join(extension, 'resources', 'fonts', GRID_FONT_FILE));
    } finally {
      fs.rmSync(extension, { recursive: true, force: true });
    }
  });

  it('a file that is not a font is refused with its name', () => {
    const bad = path.join(os.tmpdir(), `sd-not-a-font-${process.pid}.ttf`);
    fs.writeFileSync(bad, 'not a font at all');
    try {
      assert.throws(() => loadFont(bad), (e: Error) => e.message.startsWith(`${bad} is not a font sd-prompt can read (`));
    } finally {
      fs.rmSync(bad, { force: true });
    }
  });

  it('measures DejaVu Sans as Pillow does: advances and kerning in 64ths of a pixel', () => {
    const face = new FontFace(loadFont(bundledFontPath()!), 40);
    // Pillow 12.3 (raqm) textlength at 40 px: "AV" kerns by -131/2048 em, "Ta" by -339/2048 em.
    assert.strictEqual(face.textLength('A'), 27.359375);
    assert.strictEqual(face.textLength('AV'), 52.15625);
    assert.strictEqual(face.textLength('Ta'), 42.328125);
    assert.strictEqual(face.textLength(''), 0);
    // Pillow's textbbox at 40 px: (0, 8, 189, 46) and (0, 8, 60, 46); heights from 'S'/'j' tops (1520, 1556/2048 em: 29.7, 30.4 → 30) to 'p'/'g' bottoms (-426/2048 em: -8.3 → -8).
    assert.deepStrictEqual(face.textSize('Steps: 20'), { width: 189, height: 38 });
    assert.deepStrictEqual(face.textSize('gjy'), { width: 60, height: 38 });
  });
});
