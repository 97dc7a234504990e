/**
 * CLIP tokenizer speed (never part of the test run): `node out/bench/tokenizer.bench.js`.
 *   (a) 1 MB of real prompt text (the 55 prompts of test/fixtures/prompts, repeated): tokens per
 *       second of our ClipTokenizer and of @lenml/tokenizers (a transformers.js fork, the npm baseline)
 *       fed the same vocab.json + merges.txt as an HF-style tokenizer.json, cold and warm cache;
 *   (b) a keystroke in a 5,000-token prompt: one word in the middle changed, the whole prompt
 *       re-encoded (the editor re-tokenizes the document on every change).
 * Prints numbers only; the baseline is skipped with a note when the package is not installed.
 */
import { TextDocument } from 'vscode-languageserver-textdocument';
import { createPromptLanguageService, DEFAULT_SETTINGS } from '../server/src/service';
import * as fs from 'fs';
import * as path from 'path';
import { ClipTokenizer } from '../server/src/service/tokens/clipTokenizer';

const fixtures = path.resolve(__dirname, '../../test/fixtures');
const clipDir = path.join(fixtures, 'clip');

interface Baseline {
  encode(text: string): number[];
}

/**
 * The HF `tokenizer.json` for CLIP (as transformers' converter writes it for CLIPTokenizerFast):
 * NFC + `\s+`→' ' + lowercase, the CLIP split regex, ByteLevel without its own regex, BPE with `</w>`.
 */
function buildBaseline(vocabText: string, mergesText: string): Baseline | string {
  let lenml: { TokenizerLoader: { fromPreTrained(data: unknown): { encode(text: string, options: unknown): number[] } } };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    lenml = require('@lenml/tokenizers');
  } catch {
    return '@lenml/tokenizers is not installed (npm install --save-dev @lenml/tokenizers)';
  }
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true });
  const tokenizerJSON = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(49406, '<|startoftext|>'), special(49407, '<|endoftext|>')],
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: { Regex: "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+" },
          behavior: 'Removed',
          invert: true,
        },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<|endoftext|>',
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      vocab: JSON.parse(vocabText),
      merges: mergesText.split('\n').slice(1, 49152 - 256 - 2 + 1).filter((line) => line.length > 0),
    },
  };
  const tokenizer = lenml.TokenizerLoader.fromPreTrained({
    tokenizerJSON,
    tokenizerConfig: { tokenizer_class: 'CLIPTokenizer', bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>', model_max_length: 77 },
  });
  return { encode: (text) => tokenizer.encode(text, { add_special_tokens: false }) };
}

function time<T>(run: () => T): [T, number] {
  const start = process.hrtime.bigint();
  const result = run();
  return [result, Number(process.hrtime.bigint() - start) / 1e6];
}

function main(): void {
  if (!fs.existsSync(path.join(clipDir, 'vocab.json'))) {
    console.log(`tokenizer bench skipped: no ${clipDir}/vocab.json (test/fixtures is incomplete)`);
    return;
  }
  const vocabText = fs.readFileSync(path.join(clipDir, 'vocab.json'), 'utf8');
  const mergesText = fs.readFileSync(path.join(clipDir, 'merges.txt'), 'utf8');
  const records = JSON.parse(fs.readFileSync(path.join(fixtures, 'prompts/dflip3k_civitai_prompts.json'), 'utf8')).records as { prompt: string }[];
  const prompts = records.map((record) => record.prompt);
  const parts: string[] = [];
  let size = 0;
  while (size < 1_000_000) {
    for (const prompt of prompts) {
      parts.push(prompt);
      size += prompt.length + 1;
    }
  }
  const text = parts.join('\n');

  const [built, buildMs] = time(() => ClipTokenizer.fromText(vocabText, mergesText));
  if (!('tokenizer' in built)) throw new Error(built.problem);
  const ours = built.tokenizer;
  const [coldIds, oursCold] = time(() => ours.encode(text));
  const [, oursWarm] = time(() => ours.encode(text));
  const [, oursOffsets] = time(() => ours.encodeWithOffsets(text));
  const tokens = coldIds.length;
  const rate = (ms: number) => `${((tokens / ms) * 1000 / 1e6).toFixed(2)} M tokens/s (${ms.toFixed(0)} ms)`;
  console.log(`text: ${(text.length / 1e6).toFixed(2)} M chars, ${prompts.length} prompts repeated, ${tokens} tokens`);
  console.log(`ClipTokenizer   build ${buildMs.toFixed(0)} ms; cold ${rate(oursCold)}; warm ${rate(oursWarm)}; warm with offsets ${rate(oursOffsets)}`);

  console.log(`peak RSS after ClipTokenizer alone: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);

  const [baseline, baselineBuildMs] = time(() => buildBaseline(vocabText, mergesText));
  if (typeof baseline === 'string') {
    console.log(`baseline skipped: ${baseline}`);
  } else {
    const [baseIds, baseCold] = time(() => baseline.encode(text));
    const [, baseWarm] = time(() => baseline.encode(text));
    const same = baseIds.length === coldIds.length && baseIds.every((id, i) => id === coldIds[i]);
    console.log(`@lenml/tokenizers build ${baselineBuildMs.toFixed(0)} ms; cold ${rate(baseCold)}; warm ${rate(baseWarm)}; same ids: ${same}`);
    console.log(`speed-up: cold ${(baseCold / oursCold).toFixed(1)}x, warm ${(baseWarm / oursWarm).toFixed(1)}x`);
  }

  // A keystroke: a 5,000-token prompt with one word in the middle changed (a new word every time,
  // so its BPE is never cached), re-encoded whole with offsets, as the editor does.
  const long: string[] = [];
  let longTokens = 0;
  for (let i = 0; longTokens < 5000; i = (i + 1) % prompts.length) {
    long.push(prompts[i]);
    longTokens += ours.encode(prompts[i]).length;
  }
  const base = long.join('\n');
  const middle = base.indexOf(' ', base.length >> 1);
  const samples: number[] = [];
  for (let k = 0; k < 200; k++) {
    const edited = `${base.slice(0, middle)} zq${k.toString(36)}xelorian${base.slice(middle)}`;
    samples.push(time(() => ours.encodeWithOffsets(edited))[1]);
  }
  samples.sort((a, b) => a - b);
  const count = ours.encode(base).length;
  console.log(
    `keystroke in a ${count}-token prompt: median ${samples[samples.length >> 1].toFixed(2)} ms, p95 ${samples[Math.floor(samples.length * 0.95)].toFixed(2)} ms, max ${samples[samples.length - 1].toFixed(2)} ms (target < 5 ms)`,
  );
  // The status bar on a keystroke: a new document version parsed, then the webui counter for the
  // part under the cursor (emphasis, prompt editing, chunks), as the server answers it.
  const service = createPromptLanguageService({ tokenizer: () => ours });
  const statusSamples: number[] = [];
  let shown = '';
  for (let k = 0; k < 200; k++) {
    const edited = `${base.slice(0, middle)} zq${k.toString(36)}xelorian${base.slice(middle)}`;
    const doc = TextDocument.create('file:///bench.prompt', 'sd-prompt', k + 1, edited);
    const [summary, ms] = time(() => service.tokenCount(doc, doc.positionAt(middle), DEFAULT_SETTINGS));
    shown = summary?.text ?? '';
    statusSamples.push(ms);
  }
  statusSamples.sort((a, b) => a - b);
  console.log(
    `status bar update (parse + counter) in that prompt (${shown}): median ${statusSamples[statusSamples.length >> 1].toFixed(2)} ms, p95 ${statusSamples[Math.floor(statusSamples.length * 0.95)].toFixed(2)} ms (target < 5 ms)`,
  );
  const usage = process.memoryUsage();
  console.log(
    `peak RSS (with the baseline) ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB; heap used now ${(usage.heapUsed / 1048576).toFixed(0)} MB; cached words ${ours.cachedWords}`,
  );
}

main();
