// Screenshots a test asks for in the middle of the run (run.mjs takes them; the final editor screenshot is
// taken when the suite ends). The suite logs `SD_PROMPT_E2E_SCREENSHOT <name>` and waits until run.mjs creates
// `<SD_PROMPT_E2E_HOLD_FILE>.<name>` (at most 15 s); without run.mjs (no hold file) it returns at once.
import * as fs from 'fs';
import { format } from 'util';

/** Same prefix as index.ts's own lines: run.mjs reads only the suite's messages for markers. */
const SUITE_TAG = '\u2063';

export async function requestScreenshot(name: string): Promise<void> {
    const hold = process.env.SD_PROMPT_E2E_HOLD_FILE;
    if (!hold) {
        return;
    }
    console.log(SUITE_TAG + format('SD_PROMPT_E2E_SCREENSHOT %s', name));
    const done = `${hold}.${name}`;
    const deadline = Date.now() + 15_000;
    while (!fs.existsSync(done) && Date.now() < deadline) {
        await new Promise(r => setTimeout(r, 50));
    }
}
