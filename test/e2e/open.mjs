#!/usr/bin/env node
// `npm start` (= `npm run build && node test/e2e/open.mjs`): try the extension by hand, in a browser.
//
// What it does:
//   1. install.mjs: the cached Node 24 + code-server under .cache/e2e/ (minutes the first time, then instant);
//   2. starts code-server (VS Code 1.139 in the browser) on 127.0.0.1, auth none, with a throw-away user
//      data and extensions dir (settings: no trust prompt, no telemetry, no welcome page);
//   3. prints a URL that opens test/e2e/workspace (example.prompt) with THIS folder loaded as a development
//      extension ("[Extension Development Host]"), exactly as the e2e tests load it;
//   4. sets sdPrompt.model to a tiny random SD1.5 pipeline generated into .cache/e2e/tiny-sd15 (no real model
//      can be downloaded here), so SD Prompt: Render Preview works at once; it renders noise, in a second or
//      two on the CPU. Point sdPrompt.model at a real diffusers ONNX export for real images;
//   5. keeps running until Ctrl-C, then stops code-server and deletes its temp dirs.
//
// The URL also works with "localhost" for the host (checked); from another machine, forward the port
// (`ssh -L PORT:127.0.0.1:PORT host`) and pick it with --port PORT (default: any free port).
// After `npm run build` (or `npm run watch`), "Developer: Reload Window" in the workbench picks up the new dist/.
//
// Options: --port N (or SD_PROMPT_PORT), --folder DIR (workspace to open, default test/e2e/workspace),
//          --verbose (print code-server's output).
// code-server reads the development extension through a workbench option meant for smoke tests
// (`--vscode-option enable-smoke-test-driver`): without it, a built workbench ignores the URL's payload.
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { startCodeServer, workbenchUrl } from './codeServer.mjs';
import { ensureInstalled, repoRoot } from './install.mjs';

const { values: opts } = parseArgs({
    options: {
        port: { type: 'string', default: process.env.SD_PROMPT_PORT || '0' },
        folder: { type: 'string', default: path.join(repoRoot, 'test', 'e2e', 'workspace') },
        verbose: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
    },
});
if (opts.help) {
    console.log('usage: node test/e2e/open.mjs [--port N] [--folder DIR] [--verbose]');
    process.exit(0);
}
const port = Number(opts.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`[open] --port must be a port number, not ${opts.port}`);
    process.exit(2);
}
const folder = path.resolve(opts.folder);
if (!fs.statSync(folder, { throwIfNoEntry: false })?.isDirectory()) {
    console.error(`[open] no such folder: ${folder}`);
    process.exit(2);
}

const install = await ensureInstalled();
const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
if (pkg.main && !fs.existsSync(path.join(repoRoot, pkg.main))) {
    console.warn(`[open] WARNING: ${pkg.main} is missing, the extension will not activate: run \`npm run build\` (npm start does)`);
}

/** The tiny test pipeline for Render Preview (built once; needs `npm run build` and the CLIP fixture files). */
function tinyModel() {
    const folder = path.join(repoRoot, '.cache', 'e2e', 'tiny-sd15');
    if (fs.existsSync(path.join(folder, 'model_index.json'))) {
        return folder;
    }
    const clip = path.resolve(repoRoot, 'test', 'fixtures', 'clip');
    const generator = path.join(repoRoot, 'out', 'server', 'src', 'render', 'testModel', 'generateModel.js');
    if (!fs.existsSync(generator) || !fs.existsSync(path.join(clip, 'vocab.json'))) {
        console.warn('[open] no tiny test model (needs `npm run build` and test/fixtures/clip): set sdPrompt.model yourself to render');
        return undefined;
    }
    const { generateTinyPipeline, TINY_SD15 } = createRequire(import.meta.url)(generator);
    generateTinyPipeline(folder, { ...TINY_SD15, tokenizerFrom: clip });
    return folder;
}
const model = tinyModel();

let server;
try {
    server = await startCodeServer({
        install,
        smokeTestDriver: true,
        userSettings: model ? { 'sdPrompt.model': model, 'sdPrompt.render.device': 'cpu' } : {},
        bindAddr: `127.0.0.1:${port}`,
        onOutput: opts.verbose ? s => process.stdout.write(s.replace(/^(?=.)/gm, '[code-server] ')) : undefined,
    });
} catch (err) {
    console.error(`[open] ${err.message}${err.output ? `\n${err.output.trimEnd()}` : ''}`);
    process.exit(1);
}

let stopping = false;
async function stop(code) {
    if (stopping) {
        return;
    }
    stopping = true;
    console.log('\n[open] stopping code-server');
    await server.stop();
    process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
server.child.on('exit', (code, signal) => {
    if (!stopping) {
        console.error(`[open] code-server exited (${signal ?? `code ${code}`}):\n${server.getOutput().trimEnd().split('\n').slice(-30).join('\n')}`);
        void stop(1);
    }
});

const url = workbenchUrl(server, { folder, extensionDevelopmentPath: repoRoot });
console.log(`
[open] code-server is listening on ${server.url}
[open] workspace: ${folder}
[open] extension under development: ${repoRoot}
[open] sdPrompt.model: ${model ?? '(not set)'}${model ? ' (a tiny random model: Render Preview renders noise)' : ''}

Open this URL in a browser, open example.prompt and run "SD Prompt: Render Preview" (the ▷ in the title bar):

  ${url}

Ctrl-C to stop.`);
