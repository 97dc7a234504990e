import { ClipTokenizer, ClipTokenizerResult } from '../../../server/src/service/tokens/clipTokenizer';

let built: { vocabText: string; mergesText: string; result: ClipTokenizerResult } | undefined;

/**
 * `ClipTokenizer.fromText` for the real CLIP files, built once per process. Building it (49,408 tokens,
 * 48,894 merges) takes seconds, and a mutation run (`npm run mutation`) runs the suite once per mutant
 * in the same process: rebuilding it each time was most of a run's hours. Every call empties the word
 * cache, so a suite never sees words an earlier suite (or an earlier mutant) cached. A mutant in the
 * building code is one Stryker runs in a fresh process, where this builds again.
 */
export function clipTokenizerOnce(vocabText: string, mergesText: string): ClipTokenizerResult {
  if (!built || built.vocabText !== vocabText || built.mergesText !== mergesText) {
    built = { vocabText, mergesText, result: ClipTokenizer.fromText(vocabText, mergesText) };
  }
  if ('tokenizer' in built.result) built.result.tokenizer.clearCache();
  return built.result;
}
