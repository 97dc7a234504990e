import * as fs from 'fs';
import { readGenerationData } from '../service/imageData/generationData';
import { GenerationData, ImageDataError } from '../service/imageData/types';
import { UsageError } from './usage';

/**
 * `sd-prompt import IMAGE... [--json]`: each image's generation data as a `.prompt` (A1111,
 * ComfyUI, NovelAI or InvokeAI metadata in PNG, JPEG or WebP). With several images each
 * `.prompt` follows a `# ==> FILE <==` line. An image with no generation data, or a file that
 * is not a readable image, gets one line on standard error naming the file and why; the others
 * are still printed, and the exit code is 1 at the end.
 */
export interface ImportOptions {
  files: string[];
  json: boolean;
}

/** Images bigger than this are refused before reading: generation data never needs it, and it bounds memory. */
const MAX_IMAGE_BYTES = 512 * 1024 * 1024;

export function parseImportArgs(args: string[]): ImportOptions {
  const files: string[] = [];
  let json = false;
  for (const a of args) {
    if (a === '--json') json = true;
    else if (a.startsWith('-')) throw new UsageError(`unknown option '${a}'`);
    else files.push(a);
  }
  if (files.length === 0) throw new UsageError('import needs one or more IMAGE files (PNG, JPEG or WebP)');
  return { files, json };
}

type ImportResult = { file: string; data: GenerationData } | { file: string; error: string };

export function importImage(file: string): ImportResult {
  let bytes: Buffer;
  try {
    const stat = fs.statSync(file);
    if (stat.isDirectory()) return { file, error: 'is a folder' };
    if (stat.size > MAX_IMAGE_BYTES) return { file, error: `is ${Math.round(stat.size / 1024 / 1024)} MiB, over the ${MAX_IMAGE_BYTES / 1024 / 1024} MiB limit for an image` };
    bytes = fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { file, error: `cannot read: ${code === 'ENOENT' ? 'no such file' : code ?? (e as Error).message}` };
  }
  try {
    return { file, data: readGenerationData(bytes) };
  } catch (e) {
    if (e instanceof ImageDataError) return { file, error: e.message };
    return { file, error: `cannot read its generation data: ${(e as Error).message}` };
  }
}

export function runImport(o: ImportOptions, io: { stdout: (s: string) => void; stderr: (s: string) => void }): number {
  const results: ImportResult[] = [];
  for (const file of o.files) {
    const r = importImage(file);
    results.push(r);
    // In file order, so each error line sits where its file's .prompt would have been.
    if ('error' in r) io.stderr(`sd-prompt: ${r.file}: ${r.error}\n`);
    else if (!o.json) {
      if (o.files.length > 1) io.stdout(`# ==> ${r.file.replace(/\r?\n/g, ' ')} <==\n`);
      io.stdout(r.data.text + '\n');
    }
  }
  const failed = results.some((r) => 'error' in r);
  if (o.json) {
    const out = results.map((r) =>
      'error' in r
        ? { file: r.file, error: r.error }
        : { file: r.file, source: r.data.source, prompt: r.data.prompt, negativePrompt: r.data.negativePrompt, parameters: r.data.parameters, notes: r.data.notes, text: r.data.text },
    );
    io.stdout(JSON.stringify(out, null, 2) + '\n');
  }
  return failed ? 1 : 0;
}
