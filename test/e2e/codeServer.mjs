// Starting and stopping code-server for run.mjs (tests) and open.mjs (manual use). Everything it writes goes
// to a fresh temp directory: user data (settings), extensions dir, code-server's config and XDG dirs, so
// nothing lands in ~/.config/code-server or ~/.local/share/code-server and no state survives a run.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * User settings for the throw-away profile: no trust prompt, no telemetry, no update or welcome noise.
 * Only keys in their current form: a setting VS Code migrates (e.g. `extensions.autoUpdate: false`, now
 * "off") makes the workbench rewrite settings.json some 10 s after start, and while it does the extension
 * host briefly sees no user settings at all (sdPrompt.model empty: a render in that instant asked for a
 * model folder and the untrusted-pass test hung on the question). The gallery is off anyway (run.mjs).
 */
const USER_SETTINGS = {
    'security.workspace.trust.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'update.showReleaseNotes': false,
    'extensions.autoCheckUpdates': false,
    'extensions.ignoreRecommendations': true,
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'workbench.welcomePage.walkthroughs.openOnInstall': false,
    'chat.disableAIFeatures': true,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    'git.enabled': false,
    'git.openRepositoryInParentFolders': 'never',
    'npm.autoDetect': 'off',
    'typescript.tsserver.experimental.enableProjectDiagnostics': false,
};

/**
 * Starts code-server on `bindAddr` (default 127.0.0.1 with a port the kernel picks: no race for a "free
 * port") and resolves once it listens (code-server logs the real address). `smokeTestDriver` makes the workbench honour the `payload` URL parameter
 * (extensionDevelopmentPath / extensionTestsPath) and call window.codeAutomationExit when the tests end.
 */
/**
 * `trust`: workspace trust on (the opened folder starts untrusted, without a prompt), for the untrusted pass;
 * `userSettings`: more user settings (e.g. sdPrompt.model, which an untrusted workspace may not set).
 */
export async function startCodeServer({ install, smokeTestDriver, bindAddr = '127.0.0.1:0', extraArgs = [], env = {}, onOutput = () => {}, startTimeoutMs = 60_000, trust = false, userSettings = {} }) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-prompt-e2e-'));
    const userDataDir = path.join(tmp, 'user-data');
    const extensionsDir = path.join(tmp, 'extensions');
    fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
    fs.mkdirSync(path.join(userDataDir, 'Machine'), { recursive: true });
    fs.mkdirSync(extensionsDir, { recursive: true });
    const trustSettings = trust
        ? { 'security.workspace.trust.enabled': true, 'security.workspace.trust.startupPrompt': 'never', 'security.workspace.trust.banner': 'never' }
        : {};
    const settings = { ...USER_SETTINGS, ...trustSettings, ...userSettings };
    fs.writeFileSync(path.join(userDataDir, 'User', 'settings.json'), JSON.stringify(settings, null, 2) + '\n');
    fs.writeFileSync(path.join(userDataDir, 'Machine', 'settings.json'), JSON.stringify({ ...USER_SETTINGS, ...trustSettings }, null, 2) + '\n');
    const configFile = path.join(tmp, 'config.yaml');
    fs.writeFileSync(configFile, 'auth: none\ncert: false\n');

    const args = [
        install.codeServerEntry,
        '--bind-addr', bindAddr,
        '--auth', 'none',
        '--config', configFile,
        '--user-data-dir', userDataDir,
        '--extensions-dir', extensionsDir,
        '--disable-telemetry',
        '--disable-update-check',
        ...(trust ? [] : ['--disable-workspace-trust']),
        '--disable-getting-started-override',
        '--disable-proxy',
        '--ignore-last-opened',
        ...(smokeTestDriver ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
        ...extraArgs,
    ];
    const childEnv = { ...process.env };
    // Nothing from the caller's environment may turn auth back on or redirect code-server.
    for (const k of ['PASSWORD', 'HASHED_PASSWORD', 'PORT', 'VSCODE_OPTIONS', 'VSCODE_IPC_HOOK_CLI', 'CODE_SERVER_CONFIG', 'GITHUB_TOKEN']) {
        delete childEnv[k];
    }
    const tmpDir = path.join(tmp, 'tmp'); // the server's IPC sockets, the TS server's files, ...
    fs.mkdirSync(tmpDir);
    Object.assign(childEnv, {
        TMPDIR: tmpDir,
        XDG_CONFIG_HOME: path.join(tmp, 'xdg-config'),
        XDG_DATA_HOME: path.join(tmp, 'xdg-data'),
        XDG_CACHE_HOME: path.join(tmp, 'xdg-cache'),
        ...env,
    });
    // Own process group, so stop() reaches the extension host and the language server too.
    const child = spawn(install.nodeBin, args, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true });

    let output = '';
    let stopped = false;
    const stop = async () => {
        if (stopped) {
            return;
        }
        stopped = true;
        await killGroup(child);
        fs.rmSync(tmp, { recursive: true, force: true });
    };

    const url = await new Promise((resolve, reject) => {
        const timer = setTimeout(() => fail(new Error(`code-server did not start within ${startTimeoutMs / 1000} s`)), startTimeoutMs);
        const fail = err => {
            clearTimeout(timer);
            reject(Object.assign(err, { output }));
        };
        const onData = chunk => {
            const s = chunk.toString();
            output += s;
            onOutput(s);
            const m = /HTTP server listening on (http:\/\/[^\s/]+)/.exec(output);
            if (m) {
                clearTimeout(timer);
                resolve(m[1]);
            }
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.on('error', fail);
        child.on('exit', (code, signal) => fail(new Error(`code-server exited (${signal ?? `code ${code}`}) before it listened`)));
    }).catch(async err => {
        await stop();
        throw err;
    });

    const host = new URL(url).host;
    return { url, host, child, tmp, userDataDir, extensionsDir, stop, getOutput: () => output };
}

/** SIGTERM to the whole process group, SIGKILL after 3 s if anything is left. */
export async function killGroup(child) {
    if (!child.pid) {
        return;
    }
    const signal = sig => {
        try {
            process.kill(-child.pid, sig);
            return true;
        } catch {
            return false; // group already gone
        }
    };
    if (!signal('SIGTERM')) {
        return;
    }
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline) {
        await new Promise(r => setTimeout(r, 100));
        if (!signal(0)) {
            return;
        }
    }
    signal('SIGKILL');
}

/**
 * The workbench URL that opens `folder` with the extension at `extensionDevelopmentPath` (and tests, if given).
 * `openFile`: a file the workbench opens in an editor once it starts (the web workbench's `openFile` payload).
 */
export function workbenchUrl(server, { folder, extensionDevelopmentPath, extensionTestsPath, openFile }) {
    const remote = p => `vscode-remote://${server.host}${encodePathForUri(p)}`;
    const payload = [['extensionDevelopmentPath', remote(extensionDevelopmentPath)]];
    if (extensionTestsPath) {
        payload.push(['extensionTestsPath', remote(extensionTestsPath)]);
    }
    if (openFile) {
        payload.push(['openFile', remote(openFile)]);
    }
    payload.push(['skipWelcome', 'true']);
    return `${server.url}/?folder=${encodeURIComponent(folder)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
}

function encodePathForUri(p) {
    return path.resolve(p).split(path.sep).map(encodeURIComponent).join('/');
}
