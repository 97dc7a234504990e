/**
 * Diagnostics over a long prompt with a LoRA library (issue 13 item 12): `node out/bench/chunkBoundaries.bench.js`.
 * A 10,000-line positive prompt (about 480 KB, a LoRA tag every 10 lines) whose LoRAs have multi-word
 * trigger words, tokenized with the real CLIP tokenizer (test/fixtures/clip). Prints
 *   (a) the chunk-boundary check alone: the algorithm before this change (kept below as the baseline,
 *       lower-case the document and search every phrase again at each boundary) against the current one,
 *       on prompts of growing length in the same run (the baseline only where it finishes in seconds);
 *   (b) a whole diagnostics pass of the language service (parse, tokens, every check, the LSP
 *       diagnostics) on the 10,000-line prompt after an edit, p50/max of 9, and the same steps timed
 *       one by one; each build in its own process, this one and, with BASELINE_OUT set to another
 *       build's out/ folder (the previous commit built in a `git worktree`), that one, alternating.
 *       Target: under 300 ms.
 * Numbers only; never part of the test run.
 */
import * as cp from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { Diagnostic } from 'vscode-languageserver-types';
import { LibraryHost } from '../server/src/libraryHost';
import { createPromptLanguageService, DEFAULT_SETTINGS } from '../server/src/service';
import { checkChunkBoundaries } from '../server/src/service/features/checks/tokenChecks';
import { MAX_PROBLEMS_PER_CODE, Problem } from '../server/src/service/features/checks/problem';
import { findProblems } from '../server/src/service/features/diagnostics';
import { MemoryFileSystem } from '../server/src/service/library/memoryFileSystem';
import { parsePromptDocument, PromptDocument } from '../server/src/service/syntax/document';
import { ClipTokenizer } from '../server/src/service/tokens/clipTokenizer';
import { countTokens, SectionTokens } from '../server/src/service/tokens/tokenCount';
import { kohyaSd15 } from '../test/unit/library/build';

const LORAS = 50;

/** The check as it was: per boundary, the whole document lower-cased and searched for every phrase. */
function baselineChunkBoundaries(doc: PromptDocument, sections: SectionTokens[], triggerWords: string[], out: Problem[]): void {
  let reported = 0;
  for (const section of sections) {
    for (let i = 1; i < section.chunks.length && reported < MAX_PROBLEMS_PER_CODE; i++) {
      const before = section.chunks[i - 1].tokens.at(-1);
      const after = section.chunks[i].tokens[0];
      if (!before || !after) continue;
      if (before.start === after.start && before.end === after.end && before.id !== 0) {
        reported++;
        out.push({ code: 'chunk-splits-word', severity: 'information', span: { start: after.start, end: after.end }, message: '' });
        continue;
      }
      const cut = after.start;
      const text = doc.text.toLowerCase();
      for (const phrase of triggerWords) {
        const p = phrase.toLowerCase().trim();
        if (!p.includes(' ')) continue;
        for (let at = text.indexOf(p); at !== -1; at = text.indexOf(p, at + 1)) {
          if (at < cut && cut < at + p.length) {
            reported++;
            out.push({ code: 'chunk-splits-trigger', severity: 'information', span: { start: at, end: at + p.length }, message: '' });
          }
        }
      }
    }
  }
}

/** Prompt lines as people write them; every tenth line a LoRA tag, and trigger words through the text. */
function promptLines(count: number): string[] {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const k = i % LORAS;
    lines.push(
      i % 10 === 0
        ? `<lora:style_${k}:0.8>, smart falcon ${k}, night sky, (soft light:1.1),`
        : `masterpiece, blue sky ${k}, 1girl, detailed background, ${i % 3 ? 'smart' : 'falcon'} coat,`,
    );
  }
  return lines;
}

/** What the service hands the check: every tag's LoRA's trigger words (so a LoRA tagged 100 times brings them 100 times). */
function triggerWordsOf(doc: PromptDocument): string[] {
  return doc.positive.tags.flatMap((t) => {
    const k = /^style_(\d+)$/.exec(t.positional[0] ?? '')?.[1];
    return k === undefined ? [] : [`smart falcon ${k}`, `blue sky ${k}`, 'detailed'];
  });
}

function timeMs(run: () => void): number {
  const t0 = process.hrtime.bigint();
  run();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function main() {
  const clip = path.resolve(__dirname, '../../test/fixtures/clip');
  const built = ClipTokenizer.fromText(fs.readFileSync(path.join(clip, 'vocab.json'), 'utf8'), fs.readFileSync(path.join(clip, 'merges.txt'), 'utf8'));
  if ('problem' in built) throw new Error(built.problem);
  const tokenizer = built.tokenizer;

  console.log('(a) chunk-boundary check alone, baseline (before) against current, same run:');
  for (const count of process.env.BENCH_SKIP_CHECK ? [] : [500, 1000, 2000, 10000]) {
    const text = promptLines(count).join('\n') + '\n';
    const doc = parsePromptDocument(text);
    const sections = [countTokens(doc, 'positive', tokenizer, { baseSteps: 20 })!];
    const triggers = triggerWordsOf(doc);
    const current: Problem[] = [];
    const currentMs = timeMs(() => checkChunkBoundaries(doc, sections, triggers, current));
    let baseline = 'skipped (minutes)';
    if (count <= 1000) {
      const before: Problem[] = [];
      const ms = timeMs(() => baselineChunkBoundaries(doc, sections, triggers, before));
      const same = before.length === current.length;
      baseline = `${ms.toFixed(0)} ms (${before.length} problems${same ? ', same count' : `, current finds ${current.length}`})`;
    }
    console.log(
      `  ${count} lines (${(text.length / 1024).toFixed(0)} KiB, ${sections[0].chunks.length} chunks, ${triggers.length} trigger phrases): current ${currentMs.toFixed(1)} ms, baseline ${baseline}`,
    );
  }

}

type PassResult = { p50: number; max: number; diagnostics: number; digest: string; parseMs: number; tokensMs: number; checksMs: number };

/** The whole pass of one build (its out/ folder), in this process; prints one line of JSON. */
async function measurePass(outDir: string): Promise<void> {
  const load = <T>(module: string): T => require(path.join(outDir, module)) as T;
  const { LibraryHost: Host } = load<{ LibraryHost: typeof LibraryHost }>('server/src/libraryHost');
  const service_ = load<{ createPromptLanguageService: typeof createPromptLanguageService; DEFAULT_SETTINGS: typeof DEFAULT_SETTINGS }>('server/src/service');
  const { MemoryFileSystem: Memory } = load<{ MemoryFileSystem: typeof MemoryFileSystem }>('server/src/service/library/memoryFileSystem');
  const { ClipTokenizer: Clip } = load<{ ClipTokenizer: typeof ClipTokenizer }>('server/src/service/tokens/clipTokenizer');
  const { parsePromptDocument: parse } = load<{ parsePromptDocument: typeof parsePromptDocument }>('server/src/service/syntax/document');
  const { countTokens: count_ } = load<{ countTokens: typeof countTokens }>('server/src/service/tokens/tokenCount');
  const { findProblems: find } = load<{ findProblems: typeof findProblems }>('server/src/service/features/diagnostics');
  const clip = path.resolve(__dirname, '../../test/fixtures/clip');
  const built = Clip.fromText(fs.readFileSync(path.join(clip, 'vocab.json'), 'utf8'), fs.readFileSync(path.join(clip, 'merges.txt'), 'utf8'));
  if ('problem' in built) throw new Error(built.problem);
  const tokenizer = built.tokenizer;
  const memory = new Memory();
  for (let k = 0; k < LORAS; k++) {
    memory.writeFile(`/loras/style_${k}.safetensors`, kohyaSd15());
    memory.writeFile(`/loras/style_${k}.json`, JSON.stringify({ 'activation text': `smart falcon ${k}, blue sky ${k}, detailed` }));
  }
  const host = new Host(memory, () => false, () => undefined);
  const settings = { ...service_.DEFAULT_SETTINGS, lora: { ...service_.DEFAULT_SETTINGS.lora, directories: ['/loras'] } };
  await host.configure(settings);
  for (const entry of host.catalog.list('lora')) await host.library.loadCard(entry);
  const service = service_.createPromptLanguageService({ library: () => host.library, tokenizer: () => tokenizer });
  const lines = promptLines(10000);
  const times: number[] = [];
  let diagnostics: Diagnostic[] = [];
  let digest = '';
  for (let version = 1; version <= 10; version++) {
    // Each pass is a new version (a keystroke in the middle), so nothing is reused from the last one.
    lines[5000] = `masterpiece, blue sky ${version}, 1girl,`;
    const document = TextDocument.create('file:///long.prompt', 'sd-prompt', version, lines.join('\n') + '\n');
    const ms = timeMs(() => (diagnostics = service.diagnostics(document, settings)));
    if (version > 1) times.push(ms);
    if (version === 2) digest = createHash('sha256').update(JSON.stringify([diagnostics, service.tokens(document, settings)])).digest('hex').slice(0, 12);
  }
  times.sort((a, b) => a - b);
  // Where a pass goes: the same steps the service takes, timed one by one on the last version.
  const text = lines.join('\n') + '\n';
  let doc: PromptDocument | undefined;
  let sections: SectionTokens[] = [];
  const parseMs = timeMs(() => (doc = parse(text)));
  const tokensMs = timeMs(() => (sections = [count_(doc!, 'positive', tokenizer, { baseSteps: 20 })!]));
  const checksMs = timeMs(() => find(doc!, settings, host.library, { sections, triggerWords: triggerWordsOf(doc!) }));
  host.dispose();
  const result: PassResult = { p50: times[4], max: times[8], diagnostics: diagnostics.length, digest, parseMs, tokensMs, checksMs };
  console.log(JSON.stringify(result));
}

function runPass(outDir: string): PassResult {
  const out = cp.execFileSync(process.execPath, [__filename, 'pass', outDir], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out.trim().split('\n').at(-1)!);
}

async function wholePasses(): Promise<void> {
  const builds: [string, string][] = [['current', path.resolve(__dirname, '..')]];
  if (process.env.BASELINE_OUT) builds.push(['baseline', path.resolve(process.env.BASELINE_OUT)]);
  console.log(`(b) whole diagnostics pass, 10,000 lines with a ${LORAS}-LoRA library, p50/max of 9 passes; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}:`);
  for (let round = 0; round < 2; round++) {
    for (const [name, out] of builds) {
      const r = runPass(out);
      console.log(
        `  ${name.padEnd(8)} p50 ${r.p50.toFixed(0)} ms, max ${r.max.toFixed(0)} ms (${r.diagnostics} diagnostics, digest ${r.digest}); of which parse ${r.parseMs.toFixed(0)} ms, tokens and chunks ${r.tokensMs.toFixed(0)} ms, all checks ${r.checksMs.toFixed(0)} ms`,
      );
    }
  }
  if (builds.length === 1) console.log("  (set BASELINE_OUT to another build's out/ folder to measure it in the same run)");
  console.log('  target: p50 under 300 ms');
}

if (process.argv[2] === 'pass') void measurePass(process.argv[3]);
else void main().then(wholePasses);
