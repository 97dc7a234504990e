import * as fs from 'fs';
import * as path from 'path';
import { ClipTokenizer } from '../../service/tokens/clipTokenizer';

/**
 * The model folder's CLIP tokenizer, read once and kept while its files stay the same: building it
 * from vocab.json (49 408 entries) and merges.txt (48 894 lines) on every render cost each render the
 * same work again. A file that changes on disk (another size or modification time) is read anew.
 */
const loaded = new Map<string, { stamp: string; tokenizer: ClipTokenizer }>();
/** Tokenizers kept: a model's one or two, and those of a model switched away from. */
const KEPT = 4;

function stampOf(file: string): string {
  const st = fs.statSync(file);
  return `${st.size}|${st.mtimeMs}`;
}

/** The tokenizer of `files`, from the cache or read now; throws naming the folder when the files are not a CLIP tokenizer. */
export function loadTokenizer(files: { vocab: string; merges: string }): ClipTokenizer {
  const key = `${path.resolve(files.vocab)}\n${path.resolve(files.merges)}`;
  const stamp = `${stampOf(files.vocab)}|${stampOf(files.merges)}`;
  const hit = loaded.get(key);
  if (hit?.stamp === stamp) return hit.tokenizer;
  const r = ClipTokenizer.fromText(fs.readFileSync(files.vocab, 'utf8'), fs.readFileSync(files.merges, 'utf8'));
  if ('problem' in r) throw new Error(`${path.dirname(files.vocab)}: ${r.problem}`);
  loaded.delete(key);
  loaded.set(key, { stamp, tokenizer: r.tokenizer });
  // The oldest first (a Map keeps insertion order).
  for (const old of loaded.keys()) if (loaded.size > KEPT) loaded.delete(old);
  return r.tokenizer;
}
