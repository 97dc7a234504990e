import * as fs from 'fs';
import * as path from 'path';

/**
 * The CLIP BPE files shipped in `resources/clip/` (see its README): the last place the tokenizer is looked
 * for, so counts are exact with no setup and checkpoints, which carry no tokenizer, render. Looked for above
 * this file because the code runs from several depths: `dist/*.js` in the extension and the CLI,
 * `out/server/src/...` in tests.
 */
export function bundledClipFolder(from = __dirname): string | undefined {
  let dir = from;
  for (let up = 0; up < 6; up++) {
    const folder = path.join(dir, 'resources', 'clip');
    if (fs.existsSync(path.join(folder, 'vocab.json')) && fs.existsSync(path.join(folder, 'merges.txt'))) return folder;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return undefined;
}
