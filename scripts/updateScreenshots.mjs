#!/usr/bin/env node
// Copies the screenshots the extension-host tests take (test-results/e2e-*.png, see test/e2e/run.mjs) to
// docs/images/, where the README shows them: `npm run screenshots` runs the tests and then this.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SHOTS = { 'e2e-diagnostics.png': 'diagnostics.png', 'e2e-preview.png': 'preview.png' };
fs.mkdirSync(path.join(repo, 'docs/images'), { recursive: true });
for (const [from, to] of Object.entries(SHOTS)) {
  const source = path.join(repo, 'test-results', from);
  if (!fs.existsSync(source)) {
    console.error(`updateScreenshots: ${path.relative(repo, source)} is missing: run the extension-host tests first (npm run test:e2e)`);
    process.exit(1);
  }
  fs.copyFileSync(source, path.join(repo, 'docs/images', to));
  console.log(`docs/images/${to}`);
}
