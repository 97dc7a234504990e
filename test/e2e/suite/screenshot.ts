// Screenshots a test asks for in the middle of the run (run.mjs takes them; the final editor screenshot is
// taken when the suite ends). The suite logs `SD_PROMPT_E2E_SCREENSHOT <name>` and waits until run.mjs creates
// `<SD_PROMPT_E2E_HOLD_FILE>.<name>` (at most 15 s); without run.mjs (no hold file) it returns at once.
import * as fs from 'fs';
import * as path from 'path';
import { format } from 'util';

/** Same prefix as index.ts's own lines: run.mjs reads only the suite's messages for markers. */
const SUITE_TAG = '\u2063';

export async function requestScreenshot(name: string): Promise<void> {
    const hold = process.env.SD_PROMPT_E2E_HOLD_FILE;
    if (!hold) {
        return;
    }
    console.log(SUITE_TAG + format('SD_PROMPT_E2E_SCREENSHOT %s', name));
    await waitForFile(`${hold}.${name}`, 15_000);
}

/**
 * Has run.mjs click the button labelled `label` in the visible webview, and waits until it has; throws
 * when run.mjs could not (no such button, no webview), so the test fails with why instead of timing out.
 */
export async function clickInWebview(label: string): Promise<void> {
    const hold = process.env.SD_PROMPT_E2E_HOLD_FILE;
    if (!hold) {
        throw new Error('clickInWebview needs run.mjs (SD_PROMPT_E2E_HOLD_FILE is not set)');
    }
    console.log(SUITE_TAG + format('SD_PROMPT_E2E_CLICK %s', label));
    const done = `${hold}.click-${label.replace(/\W+/g, '_')}`;
    await waitForFile(done, 20_000);
    const failure = fs.existsSync(done) ? fs.readFileSync(done, 'utf8') : `run.mjs did not answer the click on ${JSON.stringify(label)} within 20 s`;
    fs.rmSync(done, { force: true }); // the next click on the same button waits for its own answer
    if (failure) {
        throw new Error(failure);
    }
}

/** Resolves once `file` exists (watching its folder, no polling), or after `timeoutMs`. */
export function waitForFile(file: string, timeoutMs: number): Promise<void> {
    return new Promise(resolve => {
        let watcher: fs.FSWatcher | undefined;
        const done = () => {
            watcher?.close();
            clearTimeout(timer);
            resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        watcher = fs.watch(path.dirname(file), () => fs.existsSync(file) && done());
        // Created before the watcher started.
        if (fs.existsSync(file)) {
            done();
        }
    });
}
