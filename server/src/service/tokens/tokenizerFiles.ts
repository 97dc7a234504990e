/**
 * Where the CLIP tokenizer files (vocab.json + merges.txt) come from, and loading them without ever
 * failing: the token counter must keep working (as an estimate, marked approximate) when no files
 * are found or they are broken.
 */
import { LibraryFileSystem, joinPath } from '../library/fileSystem';
import { ApproximateTokenizer, ClipTokenizer } from './clipTokenizer';

export interface TokenizerSearchOptions {
  /** `sdPrompt.tokenizerPath`: a folder holding vocab.json and merges.txt. */
  tokenizerPath?: string;
  /** The diffusers model folder (`sdPrompt.model`); its `tokenizer/` is the text encoder's. */
  modelFolder?: string;
  /** The user's home folder, for the Hugging Face cache. */
  home?: string;
  /** The CLIP BPE files shipped with sd-prompt (`resources/clip/`): the last place looked, before an estimate. */
  bundledFolder?: string;
}

export interface TokenizerFilesFound {
  vocabPath: string;
  mergesPath: string;
  /** Which setting or place they came from, for the log and the status bar. */
  source: string;
  /** A folder the user named (`sdPrompt.tokenizerPath`) that lacked the files, so a later place was used. */
  passedOver?: string;
}

export interface TokenizerFilesMissing {
  /** Every place looked at, in order, each with what was wrong there. */
  missing: string[];
}

export interface LoadedTokenizer {
  tokenizer: ClipTokenizer | ApproximateTokenizer;
  source: string;
  /** Why the tokenizer is approximate (or what was wrong with the preferred files). */
  problem?: string;
}

const VOCAB = 'vocab.json';
const MERGES = 'merges.txt';
/** The tokenizer SD 1.x uses; diffusers/transformers keep it under this name in the hub cache. */
const HF_CACHE_MODEL = '.cache/huggingface/hub/models--openai--clip-vit-large-patch14/snapshots';

async function isFile(fs: LibraryFileSystem, path: string): Promise<boolean> {
  try {
    return (await fs.stat(path)).kind === 'file';
  } catch {
    return false;
  }
}

/** '' when the folder has both files, else what it lacks (for the "looked in" list). */
async function whatIsMissing(fs: LibraryFileSystem, folder: string): Promise<string> {
  const [vocab, merges] = await Promise.all([isFile(fs, joinPath(folder, VOCAB)), isFile(fs, joinPath(folder, MERGES))]);
  if (vocab && merges) return '';
  if (!vocab && !merges) return `no ${VOCAB} or ${MERGES}`;
  return vocab ? `no ${MERGES}` : `no ${VOCAB}`;
}

function trimSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.replace(/\/+$/, '') || '/' : path;
}

/**
 * The first folder with both files, in this order: `sdPrompt.tokenizerPath`, the model folder's
 * `tokenizer/`, the Hugging Face cache (snapshots newest name first — snapshot names are commit
 * hashes, so "newest" is only a stable order; any complete one gives the same tokenizer), then the
 * files shipped with sd-prompt (`bundledFolder`).
 */
export async function findTokenizerFiles(
  fs: LibraryFileSystem,
  options: TokenizerSearchOptions,
): Promise<TokenizerFilesFound | TokenizerFilesMissing> {
  const missing: string[] = [];
  const candidates: { folder: string; source: string }[] = [];
  if (options.tokenizerPath) {
    const folder = trimSlash(options.tokenizerPath);
    candidates.push({ folder, source: `sdPrompt.tokenizerPath (${folder})` });
  }
  if (options.modelFolder) {
    const folder = joinPath(trimSlash(options.modelFolder), 'tokenizer');
    candidates.push({ folder, source: `model folder (${folder})` });
  }
  for (const candidate of candidates) {
    const lacks = await whatIsMissing(fs, candidate.folder);
    if (lacks === '') {
      return { vocabPath: joinPath(candidate.folder, VOCAB), mergesPath: joinPath(candidate.folder, MERGES), source: candidate.source };
    }
    missing.push(`${candidate.folder} (${lacks})`);
  }
  if (options.home) {
    const snapshots = joinPath(trimSlash(options.home), HF_CACHE_MODEL);
    let names: string[] | undefined;
    try {
      names = (await fs.readDirectory(snapshots))
        .filter((entry) => entry.kind === 'directory' || entry.kind === 'symlink')
        .map((entry) => entry.name)
        .sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
    } catch {
      missing.push(`${snapshots} (no such folder)`);
    }
    if (names !== undefined && names.length === 0) missing.push(`${snapshots} (no snapshot)`);
    for (const name of names ?? []) {
      const folder = joinPath(snapshots, name);
      const lacks = await whatIsMissing(fs, folder);
      if (lacks === '') {
        return { vocabPath: joinPath(folder, VOCAB), mergesPath: joinPath(folder, MERGES), source: `Hugging Face cache (${folder})` };
      }
      missing.push(`${folder} (${lacks})`);
    }
  }
  if (options.bundledFolder) {
    const folder = trimSlash(options.bundledFolder);
    const lacks = await whatIsMissing(fs, folder);
    if (lacks === '') {
      // Every SD text encoder uses CLIP's BPE vocabulary, so the shipped files are exact; but a folder the
      // user named and that lacks the files is still said, or a typo in the setting would go unseen.
      const named = options.tokenizerPath ? missing[0] : undefined;
      return {
        vocabPath: joinPath(folder, VOCAB),
        mergesPath: joinPath(folder, MERGES),
        source: `bundled CLIP tokenizer (${folder})`,
        ...(named ? { passedOver: named } : {}),
      };
    }
    missing.push(`${folder} (${lacks})`);
  }
  if (missing.length === 0) missing.push('no place to look: sdPrompt.tokenizerPath, sdPrompt.model and the home folder are all unset');
  return { missing };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The exact tokenizer when files are found and sound, else the approximate one with the reason.
 * Never rejects.
 */
export async function loadTokenizer(fs: LibraryFileSystem, options: TokenizerSearchOptions): Promise<LoadedTokenizer> {
  const approximate = (problem: string): LoadedTokenizer => ({
    tokenizer: new ApproximateTokenizer(),
    source: 'approximate (no CLIP tokenizer files)',
    problem,
  });
  try {
    const found = await findTokenizerFiles(fs, options);
    if ('missing' in found) {
      return approximate(`No CLIP tokenizer (${VOCAB} + ${MERGES}) found; token counts are estimates. Looked in: ${found.missing.join('; ')}`);
    }
    const read = await readTokenizer(fs, found);
    const bundled = options.bundledFolder ? trimSlash(options.bundledFolder) : undefined;
    if ('problem' in read) {
      // Broken files in a place the user chose: say so, and count exactly with the shipped files anyway.
      const fallback = bundled && found.vocabPath !== joinPath(bundled, VOCAB) ? await readTokenizer(fs, bundledFiles(bundled)) : undefined;
      if (fallback && 'tokenizer' in fallback) {
        return { tokenizer: fallback.tokenizer, source: bundledFiles(bundled!).source, problem: `${read.problem}; using the bundled CLIP tokenizer` };
      }
      return approximate(read.problem);
    }
    if (found.passedOver) {
      return { tokenizer: read.tokenizer, source: found.source, problem: `tokenizer folder ${found.passedOver}; using the bundled CLIP tokenizer` };
    }
    return { tokenizer: read.tokenizer, source: found.source };
  } catch (error) {
    // Defensive: a file system implementation that throws synchronously or an unexpected bug must
    // still leave the editor with a working (approximate) counter.
    return approximate(`loading the tokenizer failed: ${describe(error)}`);
  }
}

function bundledFiles(folder: string): TokenizerFilesFound {
  return { vocabPath: joinPath(folder, VOCAB), mergesPath: joinPath(folder, MERGES), source: `bundled CLIP tokenizer (${folder})` };
}

/** The tokenizer built from found files, or what is wrong with them (naming the file). */
async function readTokenizer(fs: LibraryFileSystem, found: TokenizerFilesFound): Promise<{ tokenizer: ClipTokenizer } | { problem: string }> {
  let vocabText: string;
  let mergesText: string;
  try {
    vocabText = await fs.readText(found.vocabPath);
  } catch (error) {
    return { problem: `${found.vocabPath} cannot be read: ${describe(error)}` };
  }
  try {
    mergesText = await fs.readText(found.mergesPath);
  } catch (error) {
    return { problem: `${found.mergesPath} cannot be read: ${describe(error)}` };
  }
  const built = ClipTokenizer.fromText(vocabText, mergesText);
  if ('problem' in built) {
    const file = built.problem.startsWith(MERGES) ? found.mergesPath : found.vocabPath;
    return { problem: `${file}: ${built.problem.replace(/^(vocab\.json|merges\.txt) /, '')}` };
  }
  return { tokenizer: built.tokenizer };
}
