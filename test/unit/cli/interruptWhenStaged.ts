// Preloaded into a CLI child (`node --require`) by convertInterrupted.test.ts: the child sends itself SIGINT
// the moment it creates the staging entry whose name starts with SD_PROMPT_TEST_INTERRUPT_PREFIX, as a
// Ctrl-C in the middle of the work would. A SIGINT from the test process, sent when it saw the entry
// appear, raced the tiny model's conversion: on a loaded CI machine the child could finish first.
import * as path from 'path';
// The module object itself (an `import * as` namespace is read-only): the CLI's own `fs` reads through to it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const fs: typeof import('fs') = require('fs');

const prefix = process.env.SD_PROMPT_TEST_INTERRUPT_PREFIX;
/** Where to write the staging path it interrupted at, so the test knows the signal came mid-work. */
const report = process.env.SD_PROMPT_TEST_INTERRUPT_REPORT;
let raised = false;

function interruptAfter<A extends unknown[], R>(create: (...args: A) => R): (...args: A) => R {
  return (...args: A) => {
    const created = create(...args);
    if (!raised && prefix && typeof args[0] === 'string' && path.basename(args[0]).startsWith(prefix)) {
      raised = true;
      if (report) fs.writeFileSync(report, args[0]);
      process.kill(process.pid, 'SIGINT');
    }
    return created;
  };
}

// A staging folder (convert, merge to a folder) or file (merge to .safetensors) is made by one of these.
fs.mkdtempSync = interruptAfter(fs.mkdtempSync) as typeof fs.mkdtempSync;
fs.openSync = interruptAfter(fs.openSync) as typeof fs.openSync;
