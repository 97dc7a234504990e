import * as fs from 'fs';
import * as path from 'path';
import { NodeFileSystem } from '../node/nodeFileSystem';
import { DEFAULT_MAX_PROMPTS, ExpandError, expandPromptFile } from '../service/dynamic/expand';
import { LibraryFileSystem } from '../service/library/fileSystem';
import { loadWildcardLibrary } from '../service/dynamic/wildcardLibrary';
import { UsageError } from './usage';

/**
 * `sd-prompt expand FILE [--wildcards DIR]... [--all] [--json]`: the prompts sd-dynamic-prompts
 * makes from a `.prompt` file, for its Seed and Batch size (random mode), or every combination
 * (`--all`). JSON: `{"prompts": [...], "negativePrompts": [...]}`; text: one prompt a line
 * (a line break inside a prompt written `\n`), each followed by its `Negative prompt:` line
 * when any negative prompt is not empty. A prompt dynamicprompts cannot read is reported with
 * its line and column and exits 1.
 */
export interface ExpandCliOptions {
  file: string;
  wildcardDirs: string[];
  all: boolean;
  json: boolean;
  maxPrompts: number;
}

export function parseExpandArgs(args: string[]): ExpandCliOptions {
  const wildcardDirs: string[] = [];
  let file: string | undefined;
  let all = false;
  let json = false;
  let maxPrompts = DEFAULT_MAX_PROMPTS;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--wildcards') {
      const dir = args[++i];
      if (dir === undefined || dir === '') throw new UsageError('--wildcards takes a folder of wildcard files');
      wildcardDirs.push(dir);
    } else if (a === '--all') all = true;
    else if (a === '--json') json = true;
    else if (a === '--max') {
      const v = args[++i];
      if (v === undefined || !/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`--max takes a number of prompts (1 or more), not '${v ?? ''}'`);
      maxPrompts = Number(v);
    } else if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option '${a}'`);
    else if (file !== undefined) throw new UsageError('expand takes one FILE (or - for standard input)');
    else file = a;
  }
  if (file === undefined) throw new UsageError('expand needs a FILE, or - to read a prompt from standard input');
  return { file, wildcardDirs, all, json, maxPrompts };
}

export async function runExpand(
  o: ExpandCliOptions,
  io: { stdout: (s: string) => void; stderr: (s: string) => void; readInput: (file: string) => string; fileSystem?: LibraryFileSystem },
): Promise<number> {
  for (const dir of o.wildcardDirs) {
    if (!io.fileSystem && !isFolder(dir)) throw new UsageError(`--wildcards ${dir} is not a folder`);
  }
  const text = io.readInput(o.file);
  const library = await loadWildcardLibrary(io.fileSystem ?? new NodeFileSystem(), o.wildcardDirs.map((d) => (io.fileSystem ? d : path.resolve(d))));
  for (const p of library.problems) io.stderr(`sd-prompt: ${p.file}: ${p.message}\n`);
  let result;
  try {
    result = expandPromptFile(text, library, { mode: o.all ? 'all' : 'random', maxPrompts: o.maxPrompts });
  } catch (e) {
    if (!(e instanceof ExpandError)) throw e;
    const { line, column } = lineColumn(text, e.span.start);
    io.stderr(`${o.file === '-' ? 'standard input' : o.file}:${line}:${column}: ${e.message}\n`);
    return 1;
  }
  if (result.truncated) io.stderr(`sd-prompt: stopped after ${o.maxPrompts} prompts (--max N lists more)\n`);
  if (o.json) {
    io.stdout(JSON.stringify({ prompts: result.prompts, negativePrompts: result.negativePrompts }, null, 2) + '\n');
    return 0;
  }
  const withNegatives = result.negativePrompts.some((n) => n !== '');
  const oneLine = (s: string) => s.replace(/\r?\n|\r/g, '\\n');
  let out = '';
  result.prompts.forEach((p, i) => {
    out += oneLine(p) + '\n';
    if (withNegatives) out += `Negative prompt: ${oneLine(result.negativePrompts[i])}\n`;
  });
  io.stdout(out);
  return 0;
}

/** 1-based line and column (UTF-16 units) of an offset, lines ending at `\n`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

function isFolder(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
