import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** A fresh folder per test file, removed after it (generated checkpoints are megabytes). */
export function useTempFolder(prefix: string): () => string {
  let root = '';
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  });
  after(() => {
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });
  return () => root;
}
