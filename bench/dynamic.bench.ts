/**
 * Dynamic prompts, timed (never part of the test run): the diagnostics pass on a 10,000-line
 * prompt with `{a|b}` and `__wildcard__` on every line, with dynamic prompts off and on, against
 * the same pass on the same text without them (the baseline, same run); and `sd-prompt expand`'s
 * work for a batch of 100 images and for every combination of a 10,000-value wildcard.
 * Run: npx tsc -p . && node out/bench/dynamic.bench.js
 */
import * as os from 'os';
import { expandPromptFile } from '../server/src/service/dynamic/expand';
import { WildcardLibrary } from '../server/src/service/dynamic/wildcardLibrary';
import { findProblems } from '../server/src/service/features/diagnostics';
import { DEFAULT_SETTINGS } from '../server/src/service/settings';
import { parsePromptDocument } from '../server/src/service/syntax/document';

function time(fn: () => void, minMs = 500): number {
  fn(); // warm-up
  const times: number[] = [];
  const deadline = Date.now() + minMs;
  do {
    const t0 = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  } while (Date.now() < deadline || times.length < 3);
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

function main() {
  const dynamicLine = 'masterpiece, best quality, (detailed face:1.2), {red|blue|green} hair, __colors__ eyes, <lora:add_detail:0.8>, 1girl';
  const plainLine = 'masterpiece, best quality, (detailed face:1.2), red and blue hair, colors of eyes, <lora:add_detail:0.8>, 1girl';
  const dynamicText = Array.from({ length: 10_000 }, () => dynamicLine).join('\n');
  const plainText = Array.from({ length: 10_000 }, () => plainLine).join('\n');
  const on = { ...DEFAULT_SETTINGS, dynamicPrompts: { enable: true } };
  const values = Array.from({ length: 10_000 }, (_, i) => `value ${i}`);
  const library = WildcardLibrary.fromValues({ colors: ['red', 'blue', 'green'], big: values });
  const batch = `{2$$ and $$a|b|c|d} __colors__ {x|{y|z}} __big__\nSteps: 20, Seed: 7, Size: 512x512, Batch size: 10, Batch count: 10\n`;
  const all = `__big__ at {dawn|dusk}\nSteps: 20, Seed: 7, Size: 512x512\n`;

  const rows: [string, number][] = [
    ['10,000 lines without dynamic syntax (baseline)', time(() => findProblems(parsePromptDocument(plainText), DEFAULT_SETTINGS))],
    ['10,000 lines with it, dynamic prompts off', time(() => findProblems(parsePromptDocument(dynamicText), DEFAULT_SETTINGS))],
    ['10,000 lines with it, dynamic prompts on', time(() => findProblems(parsePromptDocument(dynamicText), on))],
    ['expand: 100 images, random', time(() => expandPromptFile(batch, library, { mode: 'random' }))],
    ['expand --all: 20,000 prompts', time(() => expandPromptFile(all, library, { mode: 'all', maxPrompts: 20_000 }))],
  ];
  console.log(`dynamic prompts (node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'}, load ${os.loadavg()[0].toFixed(1)})`);
  for (const [name, ms] of rows) console.log(`${name.padEnd(50)} ${ms.toFixed(2).padStart(9)} ms`);
}

main();
