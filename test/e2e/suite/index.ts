// Extension-tests entry point (the `extensionTestsPath` module). VS Code loads it in the extension host
// (here code-server's Node extension host, started by test/e2e/run.mjs; with @vscode/test-electron it would
// be the desktop one) and calls run(); a rejected promise makes the extension host exit with code 1.
//
// It runs mocha over every compiled `*.test.js` next to this file. Output goes through console.log, which
// the workbench forwards to the runner (codeAutomationLog), so the spec reporter is used without colours;
// the suite's own lines carry SUITE_TAG (see below).
// The last line is `SD_PROMPT_E2E_RESULT {"passed":N,"failed":N,"pending":N}`, which run.mjs turns into
// its summary line.
import * as fs from 'fs';
import { waitForFile } from './screenshot';
import * as path from 'path';
import { format } from 'util';

type MochaCtor = typeof import('mocha');

/** mocha >= 11 is an ES module: require() of it (Node >= 20.19/22.12) yields the namespace, whose default is the class. */
function loadMocha(): MochaCtor {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const loaded = require('mocha') as MochaCtor | { default: MochaCtor };
    return 'default' in loaded ? loaded.default : loaded;
}

/**
 * Prefix of the suite's own output lines (mocha's reporter and the lines below): run.mjs prints those as they
 * are and keeps the workbench's log lines, which arrive on the same channel, in a file. The extension host
 * owns `console` (its methods cannot be replaced), hence mocha's `Base.consoleLog` hook. Invisible in a
 * terminal, so running this entry under @vscode/test-electron is unaffected.
 */
const SUITE_TAG = '\u2063';

function log(...args: unknown[]): void {
    console.log(SUITE_TAG + format(...args));
}

/**
 * tsc never deletes outputs: a `*.test.js` whose `*.test.ts` is gone would still run. In a checkout
 * (out/test/e2e/suite next to test/e2e/suite) such stale files are skipped.
 */
function hasSource(jsFile: string): boolean {
    const sourceDir = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'e2e', 'suite');
    if (!fs.existsSync(path.join(sourceDir, 'index.ts'))) {
        return true; // not laid out as out/ beside the sources: run everything
    }
    const ok = fs.existsSync(path.join(sourceDir, jsFile.replace(/\.js$/, '.ts')));
    if (!ok) {
        log(`sd-prompt e2e: skipping ${jsFile}: no ${jsFile.replace(/\.js$/, '.ts')} in ${sourceDir} (stale build output)`);
    }
    return ok;
}

/**
 * run.mjs screenshots the workbench when it sees the result line; the extension host must still be alive then,
 * or the editor has already lost the extension's diagnostics. It names a file in SD_PROMPT_E2E_HOLD_FILE and
 * creates it once the screenshot is taken (at most 10 s). Without that variable this returns at once.
 */
async function holdForScreenshot(): Promise<void> {
    const file = process.env.SD_PROMPT_E2E_HOLD_FILE;
    if (file) {
        await waitForFile(file, 10_000);
    }
}

export function run(): Promise<void> {
    const Mocha = loadMocha();
    Mocha.reporters.Base.consoleLog = log;
    const mocha = new Mocha({
        ui: 'bdd',
        reporter: 'spec',
        color: false,
        timeout: 30_000,
        // A grep (SD_PROMPT_E2E_GREP) may select nothing in one of the two passes.
        failZero: !process.env.SD_PROMPT_E2E_GREP,
        grep: process.env.SD_PROMPT_E2E_GREP || undefined,
    });
    // run.mjs's untrusted pass (workspace trust on, an untrusted folder) runs the *.untrusted.js files only.
    const suffix = process.env.SD_PROMPT_E2E_PASS === 'untrusted' ? '.untrusted.js' : '.test.js';
    const files = fs.readdirSync(__dirname).filter(f => f.endsWith(suffix) && hasSource(f)).sort();
    for (const f of files) {
        mocha.addFile(path.join(__dirname, f));
    }
    log(`sd-prompt e2e: ${files.length} test file(s) in ${__dirname}: ${files.join(', ')}`);

    return new Promise<void>((resolve, reject) => {
        let runner: Mocha.Runner;
        try {
            runner = mocha.run(async failures => {
                const stats = runner.stats;
                const result = {
                    passed: stats?.passes ?? 0,
                    failed: stats?.failures ?? failures,
                    pending: stats?.pending ?? 0,
                };
                log(`SD_PROMPT_E2E_RESULT ${JSON.stringify(result)}`);
                await holdForScreenshot();
                if (failures > 0) {
                    reject(new Error(`${failures} extension-host test(s) failed`));
                } else {
                    resolve();
                }
            });
        } catch (err) {
            log(err);
            log(`SD_PROMPT_E2E_RESULT ${JSON.stringify({ passed: 0, failed: 1, pending: 0 })}`);
            reject(err);
        }
    });
}
