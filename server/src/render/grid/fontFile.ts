import * as fs from 'fs';
import * as path from 'path';
import * as opentype from 'opentype.js';

/** The grid labels' font, shipped in `resources/fonts/` (see its README). */
export const GRID_FONT_FILE = 'DejaVuSans.ttf';

/**
 * The folder of the shipped font, looked for above this file because the code runs from several depths:
 * `dist/*.js` in the extension and the CLI, `out/server/src/...` in tests (as `bundledClipFolder` does).
 */
export function bundledFontPath(from = __dirname): string | undefined {
  let dir = from;
  for (let up = 0; up < 7; up++) {
    const file = path.join(dir, 'resources', 'fonts', GRID_FONT_FILE);
    if (fs.existsSync(file)) return file;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return undefined;
}

let cached: opentype.Font | undefined;

/** Parses a TrueType/OpenType font file, with its name in the message when it is not one. */
export function loadFont(file: string): opentype.Font {
  const bytes = fs.readFileSync(file);
  try {
    // lowMemory: glyphs are read when first drawn, not all 6,000 up front (a third of the time to first label).
    return opentype.parse(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), { lowMemory: true });
  } catch (e) {
    throw new Error(`${file} is not a font sd-prompt can read (${(e as Error).message})`);
  }
}

/** The shipped label font, parsed once per process (760 KB; a grid of many Z values draws with it often). */
export function gridFont(): opentype.Font {
  if (cached) return cached;
  const file = bundledFontPath();
  if (!file) throw new Error(`the grid label font (resources/fonts/${GRID_FONT_FILE}) shipped with sd-prompt is missing: reinstall sd-prompt`);
  cached = loadFont(file);
  return cached;
}
