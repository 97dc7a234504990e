#!/usr/bin/env node
// Extension-host tests, offline: `npm run test:e2e` (after `npm run build`).
//
// 1. install.mjs: cached Node 24 + code-server + playwright-core under .cache/e2e/ (fast no-op when present);
// 2. code-server on 127.0.0.1:<free port>, auth none, throw-away user data / extensions dirs, started with
//    `--vscode-option enable-smoke-test-driver` (without it the workbench ignores the test payload);
// 3. headless Debian chromium (playwright-core) opens the workbench on test/e2e/workspace with
//    payload extensionDevelopmentPath=<repo>, extensionTestsPath=out/test/e2e/suite/index.js;
//    codeAutomationLog / codeAutomationExit are exposed BEFORE navigation, as microsoft/vscode's
//    test/integration/browser runner does;
// 4. the extension host runs mocha (suite/index.ts); its log lines are printed here, a screenshot of the
//    workbench goes to test-results/e2e-editor.png, the process exits with the extension host's code.
//
// `--vsix` runs the third: the whole suite against the extension unpacked from the .vsix (test-results/e2e-vsix-*).
// `--untrusted` runs the second pass `npm run test:e2e` makes: workspace trust on, an untrusted folder, the
// suite's *.untrusted.js files (test-results/e2e-untrusted-*).
//
// The last line printed is always `N passed, N failed` (a run that breaks before mocha reports counts as
// 1 failed). Exit code: 0 only if the extension host exited 0 and nothing failed.
//
// Env: SD_PROMPT_E2E_TIMEOUT_S (default 180), SD_PROMPT_E2E_GREP (mocha --grep), SD_PROMPT_E2E_VERBOSE=1
//      (also print code-server output, the workbench log and the browser console), SD_PROMPT_E2E_EXTENSION
//      (folder of the extension under test, default the repo), SD_PROMPT_E2E_CHROMIUM, SD_PROMPT_E2E_CACHE.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { format } from 'node:util';
import { startCodeServer, workbenchUrl } from './codeServer.mjs';
import { ensureInstalled, repoRoot } from './install.mjs';

const TIMEOUT_S = Number(process.env.SD_PROMPT_E2E_TIMEOUT_S || 180);
const VERBOSE = /^(1|true)$/i.test(process.env.SD_PROMPT_E2E_VERBOSE ?? '');
const SUITE_TAG = '\u2063'; // starts each console message of suite/index.ts
const START_MARKER = 'sd-prompt e2e: '; // first line of suite/index.ts
const RESULT_MARKER = 'SD_PROMPT_E2E_RESULT '; // last line of suite/index.ts
const SCREENSHOT_MARKER = 'SD_PROMPT_E2E_SCREENSHOT '; // suite/screenshot.ts: `SD_PROMPT_E2E_SCREENSHOT <name>`
const CLICK_MARKER = 'SD_PROMPT_E2E_CLICK '; // suite/screenshot.ts: `SD_PROMPT_E2E_CLICK <button>` in the visible webview

// --untrusted (or SD_PROMPT_E2E_PASS=untrusted): workspace trust on, test/e2e/workspace-untrusted (whose settings
// name a model and LoRA folders that must be ignored) opened untrusted, and only the suite's *.untrusted.js files run.
const UNTRUSTED = process.argv.includes('--untrusted') || process.env.SD_PROMPT_E2E_PASS === 'untrusted';
/** The user's model in the untrusted pass: an untrusted workspace may not replace it. */
const UNTRUSTED_USER_MODEL = '/nonexistent/user-model';
const workspaceDir = path.join(repoRoot, 'test', 'e2e', UNTRUSTED ? 'workspace-untrusted' : 'workspace');
// --vsix: the extension under test is the one `npm run package` makes, unpacked, with its own onnxruntime-node.
const VSIX = process.argv.includes('--vsix');
const extensionDir = VSIX ? unpackedVsix() : path.resolve(process.env.SD_PROMPT_E2E_EXTENSION || repoRoot);

/** Builds the .vsix for this platform (scripts/package.mjs) into a temp folder and unpacks its extension/. */
function unpackedVsix() {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-prompt-e2e-vsix-'));
    process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
    const vsix = path.join(tmp, 'sd-prompt.vsix');
    execFileSync(process.execPath, [path.join(repoRoot, 'scripts', 'package.mjs'), '--out', vsix], { cwd: repoRoot, stdio: 'ignore' });
    // The unit tests' zip reader (built by `npm run build`): no unzip tool needed.
    const { readZip } = createRequire(import.meta.url)(path.join(repoRoot, 'out', 'test', 'unit', 'packaging', 'zip.js'));
    for (const [name, data] of readZip(fs.readFileSync(vsix))) {
        if (!name.startsWith('extension/')) continue;
        fs.mkdirSync(path.dirname(path.join(tmp, name)), { recursive: true });
        fs.writeFileSync(path.join(tmp, name), data);
    }
    console.log(`[e2e] extension under test: ${path.basename(vsix)} unpacked into ${tmp}`);
    return path.join(tmp, 'extension');
}
const testsEntry = path.join(repoRoot, 'out', 'test', 'e2e', 'suite', 'index.js');
const resultsDir = path.join(repoRoot, 'test-results');
const pass = UNTRUSTED ? 'e2e-untrusted' : VSIX ? 'e2e-vsix' : 'e2e';
const screenshotPath = path.join(resultsDir, `${pass}-editor.png`);
const serverLogPath = path.join(resultsDir, `${pass}-code-server.log`);
const workbenchLogPath = path.join(resultsDir, `${pass}-workbench.log`);
const extensionLogPath = path.join(resultsDir, `${pass}-extension.log`);

const CHROMIUM_ARGS = [
    '--no-sandbox',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-gpu',
    '--disable-quic',
    '--disable-dev-shm-usage',
];

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
const say = msg => console.log(`[e2e] ${msg}`);

let result; // { passed, failed, pending } from the suite's marker line
let server;
let browser;
let page;
let finishing = false;
let screenshotTaken;

async function screenshot() {
    if (!page) {
        return;
    }
    screenshotTaken ??= (async () => {
        try {
            // Let the editor paint what the last test produced (diagnostic squiggles), at most 2 s.
            await page.waitForSelector('.view-overlays .squiggly-warning, .view-overlays .squiggly-error', { timeout: 2000 }).catch(() => {});
            fs.mkdirSync(resultsDir, { recursive: true });
            await page.screenshot({ path: screenshotPath, timeout: 10_000 });
            say(`screenshot: ${path.relative(repoRoot, screenshotPath)}`);
        } catch (err) {
            say(`screenshot failed: ${err instanceof Error ? err.message.split('\n')[0] : err}`);
        }
        fs.writeFileSync(holdFile, ''); // lets the suite end (suite/index.ts holdForScreenshot)
    })();
    await screenshotTaken;
}

/**
 * A screenshot a test asked for while it runs (the preview panel with its image): saved as
 * test-results/e2e-<name>.png, then `<hold file>.<name>` tells the suite it may go on (suite/screenshot.ts).
 */
/**
 * Clicks the button labelled `label` in the visible webview (the extension host cannot reach into one), as a
 * person would, so the page's own handler runs with a user gesture; then `<hold file>.click-<label>` lets the
 * suite go on (suite/screenshot.ts clickInWebview). VS Code puts the page in an iframe inside an iframe.
 */
async function clickInWebview(label) {
    let failure = '';
    try {
        const button = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame').getByRole('button', { name: label, exact: true });
        await button.click({ timeout: 10_000 });
        say(`clicked ${JSON.stringify(label)} in the webview`);
    } catch (err) {
        failure = `cannot click ${JSON.stringify(label)} in the webview: ${err instanceof Error ? err.message.split('\n')[0] : err}`;
        say(failure);
    }
    // Empty when clicked; otherwise why not, which the suite's clickInWebview throws.
    fs.writeFileSync(`${holdFile}.click-${label.replace(/\W+/g, '_')}`, failure);
}

async function namedScreenshot(name) {
    if (!/^[\w-]+$/.test(name)) {
        say(`screenshot name ${JSON.stringify(name)} refused`);
        return;
    }
    const file = path.join(resultsDir, `${pass}-${name}.png`);
    try {
        fs.mkdirSync(resultsDir, { recursive: true });
        await page?.screenshot({ path: file, timeout: 10_000 });
        say(`screenshot: ${path.relative(repoRoot, file)}`);
    } catch (err) {
        say(`screenshot ${name} failed: ${err instanceof Error ? err.message.split('\n')[0] : err}`);
    }
    fs.writeFileSync(`${holdFile}.${name}`, '');
}

async function finish(code, reason) {
    if (finishing) {
        return;
    }
    finishing = true;
    clearTimeout(overallTimer);
    if (reason) {
        console.error(`[e2e] ${reason}`);
    }
    await screenshot();
    if (!testsStarted && workbenchLog.length > 0) {
        console.error(`[e2e] the tests never started; last workbench log lines:\n${lastLines(workbenchLog.join('\n'), 40)}`);
    }
    try {
        fs.mkdirSync(resultsDir, { recursive: true });
        fs.writeFileSync(workbenchLogPath, workbenchLog.join('\n') + '\n');
    } catch {
        // best effort
    }
    try {
        await browser?.close();
    } catch {
        // already gone
    }
    if (server) {
        try {
            fs.mkdirSync(resultsDir, { recursive: true });
            fs.writeFileSync(serverLogPath, server.getOutput());
        } catch {
            // best effort
        }
        keepExtensionLog(code !== 0 || (result?.failed ?? 0) > 0);
        await server.stop();
    }
    if (code === 0 && !result) {
        console.error('[e2e] the extension host exited with 0 but the suite never reported its results');
        code = 1;
    }
    const passed = result?.passed ?? 0;
    let failed = result?.failed ?? 0;
    if (code !== 0 && failed === 0) {
        failed = 1; // the run itself broke (no report, crash, timeout)
    }
    if (failed > 0 && code === 0) {
        code = 1;
    }
    say(`${code === 0 ? 'PASSED' : 'FAILED'} in ${elapsed()} (exit code ${code})`);
    console.log(`${passed} passed, ${failed} failed`);
    process.exit(code);
}

// The suite keeps the extension host alive after its result line until this file exists (screenshot taken).
const holdDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-prompt-e2e-hold-'));
const holdFile = path.join(holdDir, 'screenshot-taken');
process.on('exit', () => fs.rmSync(holdDir, { recursive: true, force: true }));

// The limit covers the tests, not the one-time install (which can take minutes on a cold cache).
let overallTimer;
const startTimer = () => (overallTimer = setTimeout(() => {
    const tail = server ? lastLines(server.getOutput(), 15) : '';
    void finish(1, `TIMEOUT: the extension-host tests did not finish within ${TIMEOUT_S} s (set SD_PROMPT_E2E_TIMEOUT_S to change); ` +
        `killing code-server and chromium.${tail ? `\n[e2e] last code-server output:\n${tail}` : ''}`);
}, TIMEOUT_S * 1000));

for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => void finish(130, `interrupted (${sig})`));
}

/**
 * The extension's "SD Prompt" log channel (client and language server) is a file in the throw-away user data:
 * kept as test-results/<pass>-extension.log, and its tail printed when the run failed (CI shows only stdout).
 */
function keepExtensionLog(failed) {
    try {
        fs.rmSync(extensionLogPath, { force: true }); // an earlier run's must not pass for this one's
        const logs = path.join(server.userDataDir, 'logs');
        if (!fs.existsSync(logs)) {
            return;
        }
        // One file per extension host (a restarted host writes a new one), oldest first.
        const found = fs.readdirSync(logs, { recursive: true }).map(String)
            .filter(f => f.endsWith(path.join('sd-prompt.sd-prompt', 'SD Prompt.log')))
            .map(f => path.join(logs, f))
            .sort((a, b) => fs.statSync(a).mtimeMs - fs.statSync(b).mtimeMs);
        if (found.length === 0) {
            return;
        }
        const text = found.map(f => fs.readFileSync(f, 'utf8')).join('\n');
        fs.mkdirSync(resultsDir, { recursive: true });
        fs.writeFileSync(extensionLogPath, text);
        if (failed) {
            console.error(`[e2e] last lines of the extension's log (${path.relative(repoRoot, extensionLogPath)}):\n${lastLines(text, 40)}`);
        }
    } catch (err) {
        say(`cannot read the extension's log: ${err instanceof Error ? err.message : err}`);
    }
}

function lastLines(s, n) {
    return s.trimEnd().split('\n').slice(-n).map(l => `    ${l}`).join('\n');
}

// codeAutomationLog carries the workbench's log as well as the extension host's console. The suite's own
// messages (mocha's reporter) start with SUITE_TAG and are printed as they are. Everything else (connection
// set-up, extension host life cycle, console.log of tests and extensions) goes to
// test-results/e2e-workbench.log; while the tests run, its warnings and errors are printed too; everything
// with SD_PROMPT_E2E_VERBOSE=1, and its tail when the run breaks before the tests start.
let testsStarted = false;
const workbenchLog = [];

function handleLogLine(type, line, fromSuite) {
    workbenchLog.push(`[${fromSuite ? 'suite' : type}] ${line}`);
    if (!fromSuite) {
        if (VERBOSE || (testsStarted && !result && (type === 'warn' || type === 'error'))) {
            console.log(`[workbench ${type}] ${line}`);
        }
        return;
    }
    if (line.startsWith(START_MARKER)) {
        testsStarted = true;
    }
    if (line.startsWith(CLICK_MARKER)) {
        void clickInWebview(line.slice(CLICK_MARKER.length).trim());
        return;
    }
    if (line.startsWith(SCREENSHOT_MARKER)) {
        void namedScreenshot(line.slice(SCREENSHOT_MARKER.length).trim());
        return;
    }
    if (line.startsWith(RESULT_MARKER)) {
        try {
            result = JSON.parse(line.slice(RESULT_MARKER.length));
        } catch {
            // malformed: leave result unset
        }
        // The tests are done, the extension host still runs: capture the editor with its diagnostics now.
        void screenshot();
        return;
    }
    console.log(line);
}

async function main() {
    const install = await ensureInstalled();
    startTimer();

    if (!fs.existsSync(testsEntry)) {
        return finish(1, `${path.relative(repoRoot, testsEntry)} is missing: run \`npm run build\` first`);
    }
    const pkg = JSON.parse(fs.readFileSync(path.join(extensionDir, 'package.json'), 'utf8'));
    if (pkg.main && !fs.existsSync(path.join(extensionDir, pkg.main))) {
        say(`WARNING: ${pkg.main} (package.json "main") is missing: the extension cannot activate; run \`npm run build\``);
    }

    say(`starting code-server (${path.relative(repoRoot, install.codeServerDir)})`);
    server = await startCodeServer({
        install,
        smokeTestDriver: true,
        // No marketplace: it is unreachable offline and its failed queries would interleave with the test output.
        env: { EXTENSIONS_GALLERY: '{}', SD_PROMPT_E2E_HOLD_FILE: holdFile, SD_PROMPT_E2E_PASS: UNTRUSTED ? 'untrusted' : 'trusted' },
        trust: UNTRUSTED,
        userSettings: UNTRUSTED ? { 'sdPrompt.model': UNTRUSTED_USER_MODEL, 'sdPrompt.render.device': 'cpu' } : {},
        onOutput: VERBOSE ? s => process.stdout.write(s.replace(/^/gm, '[code-server] ')) : undefined,
    }).catch(err => {
        void finish(1, `${err.message}${err.output ? `\n${lastLines(err.output, 30)}` : ''}`);
        throw err;
    });
    server.child.on('exit', (code, signal) => {
        void finish(1, `code-server exited unexpectedly (${signal ?? `code ${code}`}):\n${lastLines(server.getOutput(), 30)}`);
    });
    say(`code-server listening on ${server.url} (${elapsed()})`);

    const { chromium } = createRequire(path.join(install.playwrightCoreDir, 'package.json'))('playwright-core');
    browser = await chromium.launch({ executablePath: install.chromiumPath, headless: true, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    // Copy as Generation Data writes the clipboard; the tests read it back.
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    page = await context.newPage();

    page.on('pageerror', err => console.error(`[browser] page error: ${err.message}`));
    page.on('crash', () => void finish(1, 'the workbench page crashed'));
    page.on('console', msg => {
        if (VERBOSE) {
            console.log(`[browser ${msg.type()}] ${msg.text()}`);
        }
    });

    // Registered before navigation, so they exist when the workbench starts the extension host.
    await page.exposeFunction('codeAutomationLog', (type, args) => {
        let text = format(...(Array.isArray(args) ? args : [args]));
        const fromSuite = text.startsWith(SUITE_TAG);
        if (fromSuite) {
            text = text.slice(SUITE_TAG.length);
        }
        for (const line of text.split('\n')) {
            handleLogLine(type, line, fromSuite);
        }
    });
    await page.exposeFunction('codeAutomationExit', async code => {
        say(`extension host exited with code ${code} (${elapsed()})`);
        await finish(typeof code === 'number' ? code : 1);
    });

    const url = workbenchUrl(server, {
        folder: workspaceDir,
        extensionDevelopmentPath: extensionDir,
        extensionTestsPath: testsEntry,
    });
    say(`opening the workbench: ${VERBOSE ? url : server.url + '/?folder=' + workspaceDir}`);
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 60_000 });
}

main().catch(err => {
    void finish(1, `ERROR: ${err instanceof Error ? err.stack ?? err.message : err}`);
});
