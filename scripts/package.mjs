#!/usr/bin/env node
// Builds a platform-specific .vsix: `npm run package` (this platform) or
// `npm run package -- --target win32-x64` (any target whose binaries onnxruntime-node ships).
//
// Why a staging folder: the extension needs onnxruntime-node's native binding at run time (the render
// worker requires it; esbuild leaves it external), but `vsce package --no-dependencies` never collects
// the top-level node_modules. So the extension is laid out in .package/<target>/ with onnxruntime-node
// (its JS and only the target's binaries) and onnxruntime-common under dist/node_modules/, where Node's
// module resolution from dist/renderWorker.js finds them, and vsce packs that folder with --target so
// the Marketplace offers each platform its own file.
//
// Run `npm run build` first (`npm run package` does). The .vsix is written to the repository root as
// sd-prompt-<version>-<target>.vsix unless --out says otherwise.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(repo, 'package.json'));

/** vsce targets and the onnxruntime-node binary folder each one takes. */
const TARGETS = {
  'linux-x64': 'linux/x64',
  'linux-arm64': 'linux/arm64',
  'darwin-arm64': 'darwin/arm64',
  'win32-x64': 'win32/x64',
};

function argument(name) {
  const at = process.argv.indexOf(name);
  if (at === -1) return undefined;
  const value = process.argv[at + 1];
  if (!value || value.startsWith('--')) fail(`${name} needs a value`);
  return value;
}

function fail(message) {
  console.error(`package: ${message}`);
  process.exit(2);
}

const target = argument('--target') ?? `${process.platform}-${process.arch}`;
const binaries = TARGETS[target];
if (!binaries) fail(`no onnxruntime-node binaries for '${target}'; targets: ${Object.keys(TARGETS).join(', ')}`);
const manifest = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8'));
const out = path.resolve(argument('--out') ?? path.join(repo, `${manifest.name}-${manifest.version}-${target}.vsix`));

const stage = path.join(repo, '.package', target);
fs.rmSync(stage, { recursive: true, force: true });
fs.mkdirSync(stage, { recursive: true });

// Source maps and type declarations of the runtime packages are of no use inside VS Code.
const shipped = (file) => !/\.(map|d\.ts)$/.test(file);

function copy(from, to = from, base = repo) {
  const source = path.join(base, from);
  if (!fs.existsSync(source)) fail(`${source} is missing (run npm run build first?)`);
  fs.cpSync(source, path.join(stage, to), { recursive: true, dereference: true, filter: shipped });
}

// resources/clip: the CLIP tokenizer shipped for exact token counts with no setup; resources/fonts: the X/Y/Z grid's label font.
for (const file of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'language-configuration.json', '.vscodeignore', 'syntaxes', 'images', 'bin/sd-prompt.js', 'resources/clip', 'resources/fonts']) copy(file);
for (const bundle of ['client.js', 'server.js', 'cli.js', 'renderWorker.js', 'productWorker.js']) copy(`dist/${bundle}`);
if (fs.existsSync(path.join(repo, 'docs/images'))) copy('docs/images');

/** A package's folder, found from its entry point (onnxruntime-common's `exports` hide its package.json). */
function packageRoot(name, paths) {
  let dir = path.dirname(require.resolve(name, paths && { paths }));
  while (!fs.existsSync(path.join(dir, 'package.json')) || JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).name !== name) {
    const up = path.dirname(dir);
    if (up === dir) fail(`cannot find the folder of ${name}`);
    dir = up;
  }
  return dir;
}
const ortNode = packageRoot('onnxruntime-node');
const ortCommon = packageRoot('onnxruntime-common', [ortNode]);
const modules = 'dist/node_modules';
for (const file of ['package.json', 'LICENSE', 'dist', `bin/napi-v6/${binaries}`]) {
  if (fs.existsSync(path.join(ortNode, file))) copy(file, `${modules}/onnxruntime-node/${file}`, ortNode);
}
for (const file of ['package.json', 'LICENSE', 'dist/cjs']) {
  if (fs.existsSync(path.join(ortCommon, file))) copy(file, `${modules}/onnxruntime-common/${file}`, ortCommon);
}

const vsce = path.join(packageRoot('@vscode/vsce'), 'vsce');
execFileSync(process.execPath, [vsce, 'package', '--no-dependencies', '--no-rewrite-relative-links', '--target', target, '--out', out], {
  cwd: stage,
  stdio: 'inherit',
});
console.log(`package: ${path.relative(process.cwd(), out)} (${(fs.statSync(out).size / 2 ** 20).toFixed(1)} MiB, ${target})`);
