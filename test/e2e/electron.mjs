#!/usr/bin/env node
// The same extension-host suite in a real VS Code desktop build, for machines that can download one
// (`npm run test:e2e:electron`). Offline (CI here) VS Code cannot be downloaded: use `npm run test:e2e`,
// which runs this suite in code-server instead.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTests } from '@vscode/test-electron';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
try {
  const code = await runTests({
    extensionDevelopmentPath: root,
    extensionTestsPath: path.join(root, 'out/test/e2e/suite/index.js'),
    launchArgs: [path.join(root, 'test/e2e/workspace'), '--disable-extensions'],
  });
  process.exitCode = code;
} catch (e) {
  console.error(`sd-prompt: VS Code could not be downloaded or started (${e?.message ?? e}).`);
  console.error('Offline, run `npm run test:e2e` (code-server + Debian chromium) instead.');
  process.exitCode = 1;
}
