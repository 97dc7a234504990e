import { scheduleStepsOf } from '../service/semantics/samplerSteps';
import { parsePromptDocument } from '../service/syntax/document';
import { explainForJson } from './explain';
import { pythonJson } from './pythonJson';
import * as os from 'os';
import { NodeFileSystem } from '../node/nodeFileSystem';
import { bundledClipFolder } from '../node/bundledTokenizer';
import { loadTokenizer } from '../service/tokens/tokenizerFiles';
import { PromptTokenizer } from '../service/tokens/tokenizer';
import { formatTokensReport, rawTokensReport, tokensReport } from './tokens';
import { parseRenderArgs, runRender } from './render';
import { parseGridArgs, runGridCommand } from './grid';
import { parseMergeArgs, runMerge } from './merge';
import { parseConvertArgs, runConvert } from './convert';
import { parseModelsArgs, runModels } from './models';
import { parseNoiseArgs, runNoise } from './noise';
import { UsageError } from './usage';
import { InputError, readTextBounded } from './boundedRead';
import { parseCheckArgs, runCheck } from './check';
import { InfoError, parseInfoArgs, runInfo } from './info';
import { parseExpandArgs, runExpand } from './expand';
import { parseImportArgs, runImport } from './import';
import { OutputStream, quietOnError } from './outputStream';

/**
 * `sd-prompt`: the language service and renderer for terminals and CI (commands below).
 * Exit codes: 0 fine; 1 a check found an error, a file was refused (info), a render or merge
 * failed, or standard output could not be written; 2 bad usage or unreadable input (missing,
 * a folder, over the 1 MiB input cap). A closed standard output (`| head`) ends output quietly.
 */
const USAGE = `usage:
  sd-prompt check [--format text|json] [--lora-dir DIR]... FILE...
  sd-prompt explain [--steps N] [--hires-steps N] [--old-scheduling] (FILE | -)
  sd-prompt tokens [--tokenizer DIR] [--json] [--raw] (FILE | -)
  sd-prompt info FILE.safetensors
  sd-prompt expand FILE [--wildcards DIR]... [--all] [--json] [--max N]
  sd-prompt render FILE.prompt (--model FILE|DIR | --webui DIR [--model NAME]) [--lora-dir DIR]... [--out FILE.png] [--device D] [--steps N]
                   [--seed N] [--sampler NAME] [--cfg X] [--width W] [--height H] [--clip-skip N] [--vae FILE|NAME|None] [--json]
  sd-prompt render FILE.prompt --backend a1111|comfyui|swarmui --server URL [--user U --password P]
                   [--out FILE.png] [--steps N] [--seed N] ... (password also from SD_PROMPT_SERVER_PASSWORD)
  sd-prompt grid FILE.prompt --x "TYPE: VALUES" [--y ...] [--z ...] (--model FILE|DIR | --webui DIR [--model NAME] |
                 --backend a1111|comfyui|swarmui --server URL) [--lora-dir DIR]... [--out GRID.png] [--device D] [--json]
  sd-prompt merge --model DIR|CKPT --lora FILE[:TE[:UNET[:DYN]]]... --out DIR2|FILE.safetensors [--json] [--force]
  sd-prompt convert CKPT.safetensors --out DIR [--fp16|--fp32] [--vae FILE] [--json] [--force]
  sd-prompt models [--webui DIR] [--no-hash] [--json]
  sd-prompt noise [--draws N] [--rng GPU|CPU|NV] [--json] (FILE | -)
  sd-prompt import IMAGE... [--json]`;


export interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  readFile: (path: string) => string;
  readStdin: () => string;
  /** Loads the CLIP tokenizer (exact from files, or approximate with the reason). */
  loadTokenizer?: (tokenizerPath: string | undefined) => Promise<{ tokenizer: PromptTokenizer; source: string; problem?: string }>;
}

export async function main(argv: string[], io: Io): Promise<number> {
  try {
    const [command, ...args] = argv;
    if (command === 'check') return await runCheck(parseCheckArgs(args), { ...io, readInput: (file) => readInput(file, io) });
    if (command === 'explain') return explain(args, io);
    if (command === 'tokens') return await tokens(args, io);
    if (command === 'info') return await runInfo(parseInfoArgs(args), io);
    if (command === 'expand') return await runExpand(parseExpandArgs(args), { ...io, readInput: (file) => readInput(file, io) });
    if (command === 'merge') return await runMerge(parseMergeArgs(args), io);
    if (command === 'convert') return await runConvert(parseConvertArgs(args), io);
    if (command === 'noise') return runNoise(parseNoiseArgs(args), { ...io, readInput: (file) => readInput(file, io) });
    if (command === 'import') return runImport(parseImportArgs(args), io);
    if (command === 'models') return await runModels(parseModelsArgs(args), io);
    if (command === 'render') return await runRender(parseRenderArgs(args), { ...io, readInput: (file) => readInput(file, io) });
    if (command === 'grid') return await runGridCommand(parseGridArgs(args), { ...io, readInput: (file) => readInput(file, io) });
    if (command === '--help' || command === '-h' || command === 'help') {
      io.stdout(USAGE + '\n');
      return 0;
    }
    throw new UsageError(command ? `unknown command '${command}'` : 'no command given');
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`sd-prompt: ${e.message}\n${USAGE}\n`);
      return 2;
    }
    io.stderr(`sd-prompt: ${(e as Error).message}\n`);
    return errorExitCode(e);
  }
}

function readInput(path: string, io: Io): string {
  try {
    return path === '-' ? io.readStdin() : io.readFile(path);
  } catch (e) {
    if (e instanceof InputError) throw e;
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a folder' : err.message;
    throw new InputError(`cannot read ${path === '-' ? 'standard input' : path}: ${why}`);
  }
}

function explain(args: string[], io: Io): number {
  let steps: number | undefined;
  let hiresSteps: number | null = null;
  let useOldScheduling = false;
  let input: string | undefined;
  const positiveInt = (name: string, v: string | undefined) => {
    if (v === undefined || !/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`${name} takes a whole number of steps (1 or more), not '${v ?? ''}'`);
    return Number(v);
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--steps') steps = positiveInt('--steps', args[++i]);
    else if (a === '--hires-steps') hiresSteps = positiveInt('--hires-steps', args[++i]);
    else if (a === '--old-scheduling') useOldScheduling = true;
    else if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option '${a}'`);
    else if (input !== undefined) throw new UsageError('explain takes one FILE (or - for standard input)');
    else input = a;
  }
  if (input === undefined) throw new UsageError('explain needs a FILE, or - to read a prompt from standard input');
  const raw = readInput(input, io);
  let text = raw;
  if (input !== '-') {
    // A .prompt file: explain its positive prompt, with its own Steps unless --steps is given.
    const doc = parsePromptDocument(raw);
    text = raw.slice(doc.positive.part.content.start, doc.positive.part.content.end);
    // Its prompt editing counts A1111's steps: twice Steps for a second-order sampler (Heun...).
    steps ??= scheduleStepsOf(doc);
  }
  io.stdout(pythonJson(explainForJson(text, { baseSteps: steps ?? 20, hiresSteps, useOldScheduling })) + '\n');
  return 0;
}

async function tokens(args: string[], io: Io): Promise<number> {
  let tokenizerPath: string | undefined;
  let json = false;
  let raw = false;
  let input: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--tokenizer') {
      tokenizerPath = args[++i];
      if (!tokenizerPath) throw new UsageError('--tokenizer takes a folder with vocab.json and merges.txt');
    } else if (a === '--json') json = true;
    else if (a === '--raw') raw = true;
    else if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option '${a}'`);
    else if (input !== undefined) throw new UsageError('tokens takes one FILE (or - for standard input)');
    else input = a;
  }
  if (input === undefined) throw new UsageError('tokens needs a FILE, or - to read a prompt from standard input');
  if (!io.loadTokenizer) throw new Error('no tokenizer available');
  const text = readInput(input, io);
  const loaded = await io.loadTokenizer(tokenizerPath);
  if (loaded.problem) io.stderr(`sd-prompt: ${loaded.problem}\n`);
  let report;
  if (raw) report = rawTokensReport(text, loaded.tokenizer);
  else {
    // A .prompt file or raw prompt text: both read as a file (a bare prompt is all positive prompt).
    const doc = parsePromptDocument(text);
    report = tokensReport(doc, loaded.tokenizer, scheduleStepsOf(doc, 20));
  }
  io.stdout(json ? JSON.stringify(report) + '\n' : formatTokensReport(report, text));
  return 0;
}

/** Runs the CLI on this process's arguments and streams. */
export async function runCli(): Promise<void> {
  const fileSystem = new NodeFileSystem();
  const stderr = quietOnError(process.stderr);
  const stdout = new OutputStream(process.stdout, stderr, (code) => (process.exitCode = code));
  const code = await main(process.argv.slice(2), {
    stdout: (s) => stdout.write(s),
    stderr,
    readFile: (p) => readTextBounded(p, p),
    readStdin: () => readTextBounded(0, 'standard input'),
    loadTokenizer: (tokenizerPath) => loadTokenizer(fileSystem, { tokenizerPath, home: os.homedir(), bundledFolder: bundledClipFolder() }),
  });
  process.exitCode = stdout.finish(code);
}

if (require.main === module) void runCli();

/** Bad input files, refused files and failed renders exit 1; 2 stays for bad usage and unreadable input. */
function errorExitCode(e: unknown): number {
  if (e instanceof InfoError) return 1;
  return e instanceof InputError || (e as Error)?.message?.startsWith('cannot read ') ? 2 : 1;
}
