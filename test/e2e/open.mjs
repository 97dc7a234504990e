#!/usr/bin/env node
// `npm start` (= `npm run build && node test/e2e/open.mjs`): try the extension by hand, in a browser.
//
// What it does:
//   1. install.mjs: the cached Node 24 + code-server under .cache/e2e/ (minutes the first time, with a progress
//      line every 15 s; then instant);
//   2. the demo workspace .cache/e2e/demo-workspace: a copy of test/e2e/demo (example.prompt), so edits made in
//      the demo never touch the repository; kept between runs (--fresh starts it over). Its loras/ folder holds
//      a small generated LoRA library for the tiny model (kohya metadata, trigger words, preview images), and its
//      .vscode/settings.json points sdPrompt.lora.directories at it: the hover card, completion, Insert LoRA…
//      and the merge in Render Preview all have something to show;
//   3. starts code-server (VS Code 1.139 in the browser) on 127.0.0.1, auth none, with a throw-away user
//      data and extensions dir (settings: no trust prompt, no telemetry, no welcome page);
//   4. prints a URL that opens the demo workspace with example.prompt in an editor and THIS folder loaded as a
//      development extension ("[Extension Development Host]"), exactly as the e2e tests load it;
//   5. sets sdPrompt.model (user settings) to a tiny random SD1.5 pipeline generated into .cache/e2e/tiny-sd15
//      (no real model can be downloaded here), so SD Prompt: Render Preview works on the first try; it renders
//      noise; the demo's 20 steps at 256×256 took 15-18 s on a busy 2-core machine's CPU (512×512: minutes).
//      Point sdPrompt.model at a real diffusers ONNX export for real images;
//   6. keeps running until Ctrl-C, then stops code-server and deletes its temp dirs (the demo workspace stays).
//
// The URL also works with "localhost" for the host (checked); from another machine, forward the port
// (`ssh -L PORT:127.0.0.1:PORT host`) and pick it with --port PORT (default: any free port).
// After `npm run build` (or `npm run watch`), "Developer: Reload Window" in the workbench picks up the new dist/.
//
// Options: --port N (or SD_PROMPT_PORT), --folder DIR (open this folder as it is instead of the demo),
//          --fresh (make the demo workspace anew), --verbose (print code-server's output).
// code-server reads the development extension through a workbench option meant for smoke tests
// (`--vscode-option enable-smoke-test-driver`): without it, a built workbench ignores the URL's payload.
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { startCodeServer, workbenchUrl } from './codeServer.mjs';
import { cacheDir, ensureInstalled, repoRoot } from './install.mjs';

const { values: opts } = parseArgs({
    options: {
        port: { type: 'string', default: process.env.SD_PROMPT_PORT || '0' },
        folder: { type: 'string' },
        fresh: { type: 'boolean', default: false },
        check: { type: 'boolean', default: false },
        verbose: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
    },
});
if (opts.help) {
    console.log('usage: node test/e2e/open.mjs [--port N] [--folder DIR | --fresh] [--verbose] [--check]');
    process.exit(0);
}
const port = Number(opts.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`[open] --port must be a port number, not ${opts.port}`);
    process.exit(2);
}
if (opts.folder !== undefined && !fs.statSync(path.resolve(opts.folder), { throwIfNoEntry: false })?.isDirectory()) {
    console.error(`[open] no such folder: ${path.resolve(opts.folder)}`);
    process.exit(2);
}

const load = createRequire(import.meta.url);
const built = file => path.join(repoRoot, 'out', 'server', 'src', 'render', 'testModel', file);
const demoTemplate = path.join(repoRoot, 'test', 'e2e', 'demo');
const relative = p => path.relative(process.cwd(), p) || '.';

/**
 * The demo workspace: test/e2e/demo copied once (a person's edits are kept between runs), the demo LoRA library
 * in its loras/ (written when missing) and sdPrompt.lora.directories in its workspace settings.
 * Returns the folder and what to tell the person about it.
 */
function demoWorkspace(fresh, folder = path.join(cacheDir, 'demo-workspace')) {
    const kept = !fresh && fs.existsSync(path.join(folder, 'example.prompt'));
    if (!kept) {
        fs.rmSync(folder, { recursive: true, force: true });
        fs.cpSync(demoTemplate, folder, { recursive: true });
    }
    const loras = path.join(folder, 'loras');
    let library = 'not written: `npm run build` first (npm start does)';
    if (fs.existsSync(built('demoLoras.js'))) {
        const { DEMO_LORAS, writeDemoLoraLibrary } = load(built('demoLoras.js'));
        const missing = DEMO_LORAS.filter(l => !fs.existsSync(path.join(loras, `${l.file}.safetensors`)));
        if (missing.length) {
            writeDemoLoraLibrary(loras, missing);
        }
        library = DEMO_LORAS.map(l => l.file).join(', ');
    }
    // Workspace settings, so a person sees where the library is set; other keys they added are kept.
    const settingsFile = path.join(folder, '.vscode', 'settings.json');
    let settings = {};
    try {
        settings = JSON.parse(fs.readFileSync(settingsFile, 'utf8'));
    } catch (err) {
        if (err.code !== 'ENOENT') {
            console.warn(`[open] ${relative(settingsFile)} is not plain JSON (${err.message}): left as it is; sdPrompt.lora.directories may not point at the demo library`);
            return { folder, kept, loras, library };
        }
    }
    const directories = settings['sdPrompt.lora.directories'];
    if (!Array.isArray(directories) || !directories.includes(loras)) {
        settings['sdPrompt.lora.directories'] = [loras, ...(Array.isArray(directories) ? directories : [])];
        fs.mkdirSync(path.dirname(settingsFile), { recursive: true });
        fs.writeFileSync(settingsFile, JSON.stringify(settings, null, 2) + '\n');
    }
    return { folder, kept, loras, library };
}

const install = await ensureInstalled();
const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
if (pkg.main && !fs.existsSync(path.join(repoRoot, pkg.main))) {
    console.warn(`[open] WARNING: ${pkg.main} is missing, the extension will not activate: run \`npm run build\` (npm start does)`);
}

/** The tiny test pipeline for Render Preview (built once; needs `npm run build` and the CLIP fixture files). */
function tinyModel() {
    const folder = path.join(cacheDir, 'tiny-sd15');
    if (fs.existsSync(path.join(folder, 'model_index.json'))) {
        return folder;
    }
    const clip = path.resolve(repoRoot, 'test', 'fixtures', 'clip');
    if (!fs.existsSync(built('generateModel.js')) || !fs.existsSync(path.join(clip, 'vocab.json'))) {
        console.warn('[open] no tiny test model (needs `npm run build` and test/fixtures/clip): set sdPrompt.model yourself to render');
        return undefined;
    }
    const { generateTinyPipeline, TINY_SD15 } = load(built('generateModel.js'));
    generateTinyPipeline(folder, { ...TINY_SD15, tokenizerFrom: clip });
    return folder;
}
const model = tinyModel();
// --check makes its demo in a temp folder: a person's demo workspace stays as they left it.
const checkFolder = opts.check && opts.folder === undefined ? fs.mkdtempSync(path.join(os.tmpdir(), 'sd-prompt-demo-check-')) : undefined;
const demo = opts.folder === undefined ? demoWorkspace(opts.fresh, checkFolder) : undefined;
const folder = demo?.folder ?? path.resolve(opts.folder);
const example = path.join(folder, 'example.prompt');

let server;
try {
    server = await startCodeServer({
        install,
        smokeTestDriver: true,
        // The device stays `auto`, as a person's would: it says in the panel and the status bar what it tried.
        userSettings: model ? { 'sdPrompt.model': model } : {},
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
    if (checkFolder) {
        fs.rmSync(checkFolder, { recursive: true, force: true });
    }
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

const openFile = fs.existsSync(example) ? example : undefined;
const url = workbenchUrl(server, { folder, extensionDevelopmentPath: repoRoot, openFile });
const workspaceLine = demo
    ? `${relative(folder)} (${demo.kept ? 'kept from an earlier run; --fresh starts it over' : `a fresh copy of ${relative(demoTemplate)}`})`
    : folder;
console.log(`
[open] code-server is listening on ${server.url}
[open] workspace: ${workspaceLine}
${demo ? `[open] LoRA library: ${relative(demo.loras)} (${demo.library}; demo LoRAs for the tiny model)\n` : ''}[open] sdPrompt.model: ${model ? `${relative(model)} (a tiny random model: its images are noise; the demo's 20 steps at 256×256 take 15-20 s on a busy 2-core machine)` : '(not set)'}
[open] extension under development: ${repoRoot}

Open this URL in a browser; ${openFile ? 'example.prompt opens by itself' : 'open a .prompt file'}:

  ${url}

${demo && openFile ? `Hover a <lora:…> tag for its card, type <lora: for completion, run "SD Prompt: Render Preview" (the ▷ in the
editor's title bar) to render; the Problems view explains the deliberate mistake in the second tag. ` : ''}Ctrl-C to stop.`);
if (opts.check) {
    void stop((await checkInBrowser(url)) ? 0 : 1);
}

/**
 * --check: what a person sees at the URL, checked in headless chromium (as run.mjs drives it): example.prompt
 * opens by itself from the demo copy (not from test/e2e), its deliberate mistake is underlined, hovering the
 * add_detail tag shows the demo library's card with its trigger words, and typing `<lora:` offers both demo LoRAs.
 * Screenshot: test-results/open-demo.png.
 */
async function checkInBrowser(url) {
    const say = msg => console.log(`[open --check] ${msg}`);
    const { chromium } = createRequire(path.join(install.playwrightCoreDir, 'package.json'))('playwright-core');
    const browser = await chromium.launch({ executablePath: install.chromiumPath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    const screenshot = path.join(repoRoot, 'test-results', 'open-demo.png');
    let page;
    try {
        page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
        await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 60_000 });
        const tab = page.locator('.tabs-container .tab.active');
        await tab.waitFor({ timeout: 120_000 });
        const label = await tab.getAttribute('aria-label');
        // The window's title names the workspace folder: the demo's copy, not test/e2e/workspace.
        const title = await page.title();
        if (label !== 'example.prompt' || !title.includes(path.basename(folder))) {
            throw new Error(`the active editor is ${JSON.stringify(label)} in "${title}", not the demo's example.prompt in ${path.basename(folder)}`);
        }
        say(`example.prompt opened by itself, in "${title}"`);
        await page.locator('.view-overlays .squiggly-warning').first().waitFor({ timeout: 60_000 });
        say('the deliberate mistake is underlined');
        await page.locator('.view-lines span', { hasText: /^add_detail$/ }).first().hover({ timeout: 10_000 });
        const hover = page.locator('.monaco-hover', { hasText: 'intricate' });
        await hover.first().waitFor({ timeout: 30_000 });
        say("hovering add_detail shows the demo library's card (trigger words: detailed, intricate)");
        await page.keyboard.press('Escape');
        // Completion of LoRA names from the demo library, typed after the prompt's second line.
        await page.locator('.view-lines .view-line', { hasText: 'night sky' }).first().click({ timeout: 10_000 });
        await page.keyboard.press('End');
        await page.keyboard.type(', <lora:', { delay: 50 });
        const suggest = page.locator('.suggest-widget.visible');
        for (const name of ['add_detail', 'ink_style']) {
            await suggest.locator('.monaco-list-row', { hasText: name }).first().waitFor({ timeout: 30_000 });
        }
        say('typing <lora: offers add_detail and ink_style');
        return true;
    } catch (err) {
        console.error(`[open --check] FAILED: ${err instanceof Error ? err.message.split('\n')[0] : err}`);
        return false;
    } finally {
        fs.mkdirSync(path.dirname(screenshot), { recursive: true });
        await page?.screenshot({ path: screenshot }).then(() => say(`screenshot: ${path.relative(repoRoot, screenshot)}`), () => undefined);
        await browser.close();
    }
}
