import * as fs from 'fs';
import * as path from 'path';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { LibraryHost } from '../libraryHost';
import { NodeFileSystem } from '../node/nodeFileSystem';
import { findProblems } from '../service/features/diagnostics';
import { PromptLibrary } from '../service/library';
import { DEFAULT_SETTINGS, PromptSettings } from '../service/settings';
import { parsePromptDocument, PromptDocument } from '../service/syntax/document';
import { UsageError } from './usage';

/**
 * `sd-prompt check [--format text|json] [--lora-dir DIR]... FILE...`: the editor's diagnostics for
 * terminals and CI. With LoRA folders, the library checks run too (unknown LoRAs, pickles, key
 * styles, base models, trigger words), on the same catalog and cards the language server uses.
 */
export interface CheckOptions {
  format: 'text' | 'json';
  loraDirs: string[];
  files: string[];
}

export function parseCheckArgs(args: string[]): CheckOptions {
  let format = 'text';
  const loraDirs: string[] = [];
  const files: string[] = [];
  const formatValue = (v: string | undefined) => {
    if (v !== 'text' && v !== 'json') throw new UsageError(`--format takes text or json, not '${v ?? ''}'`);
    return v;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--format') format = formatValue(args[++i]);
    else if (a.startsWith('--format=')) format = formatValue(a.slice('--format='.length));
    else if (a === '--lora-dir') {
      const dir = args[++i];
      if (dir === undefined || dir === '') throw new UsageError('--lora-dir takes a folder of LoRA files');
      loraDirs.push(dir);
    } else if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option '${a}'`);
    else files.push(a);
  }
  if (files.length === 0) throw new UsageError('check needs at least one FILE');
  return { format: format as CheckOptions['format'], loraDirs, files };
}

export async function runCheck(
  o: CheckOptions,
  io: { stdout: (s: string) => void; stderr: (s: string) => void; readInput: (file: string) => string },
): Promise<number> {
  for (const dir of o.loraDirs) {
    if (!isFolder(dir)) throw new UsageError(`--lora-dir ${dir} is not a folder`);
  }
  const settings: PromptSettings = { ...DEFAULT_SETTINGS, lora: { ...DEFAULT_SETTINGS.lora, directories: o.loraDirs.map((d) => path.resolve(d)) } };
  const host = o.loraDirs.length ? new LibraryHost(new NodeFileSystem(), () => false, () => undefined) : undefined;
  try {
    if (host) {
      await host.configure(settings);
      for (const p of host.catalog.problems) io.stderr(`sd-prompt: ${p.message}\n`);
    }
    const results: { file: string; range: { start: { line: number; character: number }; end: unknown }; severity: string; code: string; message: string }[] = [];
    let errors = 0;
    for (const file of o.files) {
      const text = io.readInput(file);
      const document = TextDocument.create('file://' + file, 'sd-prompt', 1, text);
      const doc = parsePromptDocument(text);
      if (host) await loadCards(doc, host);
      for (const p of findProblems(doc, settings, host?.library)) {
        if (p.severity === 'error') errors++;
        const range = { start: document.positionAt(p.span.start), end: document.positionAt(p.span.end) };
        results.push({ file, range, severity: p.severity, code: p.code, message: p.message });
      }
    }
    if (o.format === 'json') io.stdout(JSON.stringify(results, null, 2) + '\n');
    else {
      for (const r of results) io.stdout(`${r.file}:${r.range.start.line + 1}:${r.range.start.character + 1} ${r.severity} ${r.code} ${r.message}\n`);
    }
    return errors > 0 ? 1 : 0;
  } finally {
    host?.dispose();
  }
}

/**
 * The library checks of a tag use its LoRA's card only once read (the editor re-checks when it is
 * in); a one-shot check reads the cards of the prompt's LoRAs first.
 */
async function loadCards(doc: PromptDocument, host: { library: PromptLibrary }): Promise<void> {
  const { catalog } = host.library;
  for (const tag of doc.positive.tags) {
    if ((tag.type !== 'lora' && tag.type !== 'lyco') || tag.positional.length === 0) continue;
    const entry = catalog.resolveLora(tag.positional[0]);
    if (entry) await host.library.loadCard(entry);
  }
}

function isFolder(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
