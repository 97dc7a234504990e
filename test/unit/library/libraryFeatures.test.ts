import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { LibraryHost } from '../../../server/src/libraryHost';
import { createPromptLanguageService, DEFAULT_SETTINGS, PromptSettings } from '../../../server/src/service';
import { MemoryFileSystem } from '../../../server/src/service/library/memoryFileSystem';
import { LIBRARY_SCAN_WAIT_MS } from '../../../server/src/service/features/hover';
import { FIXTURES } from '../fixtures';
import { buildSafetensors, kohyaSd15, kohyaSdxl, peftSd15 } from './build';

const settings = (extra: Partial<PromptSettings['lora']> = {}): PromptSettings => ({
  ...DEFAULT_SETTINGS,
  lora: { ...DEFAULT_SETTINGS.lora, directories: ['/models/Lora'], ...extra },
});

/** A library on an in-memory disk with generated and real LoRA files. */
async function library(extra: Partial<PromptSettings['lora']> = {}) {
  const disk = new MemoryFileSystem();
  disk.writeFile('/models/Lora/add_detail.safetensors', kohyaSd15({ ss_output_name: 'detail_tweaker' }));
  disk.writeFile('/models/Lora/add_detail.json', JSON.stringify({ 'activation text': 'detailed, intricate', 'preferred weight': 0.6 }));
  disk.writeFile('/models/Lora/add_detail.preview.png', 'png');
  disk.writeFile('/models/Lora/styles/ink.safetensors', kohyaSd15());
  disk.writeFile('/models/Lora/xl_only.safetensors', kohyaSdxl());
  disk.writeFile('/models/Lora/peft_style.safetensors', peftSd15());
  disk.writeFile('/models/Lora/old_format.ckpt', 'not opened');
  disk.writeFile('/models/Lora/a/twin.safetensors', kohyaSd15({ ss_output_name: 'twins' }));
  disk.writeFile('/models/Lora/b/other_twin.safetensors', kohyaSd15({ ss_output_name: 'twins' }));
  disk.writeFile('/models/Lora/broken.safetensors', new Uint8Array([1, 2, 3]));
  const falcon = fs.readFileSync(path.join(FIXTURES, 'lora/lycoris/smart_falcon_4_lokr.safetensors'));
  disk.writeFile('/models/Lora/smart_falcon_4_lokr.safetensors', new Uint8Array(falcon));
  const host = new LibraryHost(disk, () => false, () => undefined);
  await host.configure(settings(extra));
  // Cards are read on demand; read them all so every check can run.
  await Promise.all(host.catalog.list('lora').map((e) => host.loadCard(e)));
  const service = createPromptLanguageService({ library: () => host.library, shortHash: (p) => host.shortHash(p) });
  return { disk, host, service };
}

let version = 0;
const open = (text: string) => TextDocument.create(`file:///lib${++version}.prompt`, 'sd-prompt', 1, text);

function problems(service: ReturnType<typeof createPromptLanguageService>, text: string, s = settings()) {
  const doc = open(text);
  return service.diagnostics(doc, s).map((d) => ({
    code: d.code,
    text: text.slice(doc.offsetAt(d.range.start), doc.offsetAt(d.range.end)),
    message: d.message as string,
    fixes: ((d.data as { fixes?: { title: string }[] })?.fixes ?? []).map((f) => f.title),
  }));
}

describe('library diagnostics', () => {
  it('unknown name with did-you-mean (file name and alias, case and typos)', async () => {
    const { service } = await library();
    assert.deepStrictEqual(problems(service, '<lora:add_detial:0.5>, detailed'), [
      {
        code: 'lora-unknown',
        text: 'add_detial',
        message: `No LoRA named 'add_detial' in your LoRA folders: A1111 skips it ("networks not found"). Did you mean 'add_detail'?`,
        fixes: ["Change to 'add_detail'"],
      },
    ]);
    assert.deepStrictEqual(problems(service, '<lora:Detail_Tweaker:0.5>, detailed').map((p) => p.fixes), [["Change to 'detail_tweaker'"]]);
    // Known by its alias: fine.
    assert.deepStrictEqual(problems(service, '<lora:detail_tweaker:0.5>, detailed'), []);
  });

  it('subfolder in the name, ambiguous alias, pickle, unreadable file, key style, base model', async () => {
    const { service } = await library();
    const text = '<lora:styles/ink:0.5> <lora:twins:0.5> <lora:old_format:0.5> <lora:broken:0.5> <lora:peft_style:0.5> <lora:xl_only:0.5>\nSteps: 20, Sampler: Euler a, Model: v1-5-pruned-emaonly';
    const list = problems(service, text).filter((p) => p.code !== 'lora-trigger-missing');
    assert.deepStrictEqual(
      list.map((p) => [p.code, p.text, p.fixes]),
      [
        ['lora-subfolder', 'styles/ink', ["Change to 'ink'"]],
        ['lora-alias-ambiguous', 'twins', ["Use 'twin'", "Use 'other_twin'"]],
        ['lora-pickle', 'old_format', []],
        ['lora-unreadable', 'broken', []],
        ['lora-key-style', 'peft_style', []],
        ['lora-base-model', 'xl_only', []],
      ],
    );
    assert.match(list[1].message, /A1111 loads the last one it scanned, 'other_twin'/);
    assert.match(list[3].message, /not a readable LoRA: file is 3 bytes, shorter than the 8-byte header length/);
    assert.match(list[5].message, /trained for SDXL, but the model in use is SD1 \(Model: v1-5-pruned-emaonly\)/);
  });

  it('missing trigger words: a hint with an insert fix', async () => {
    const { service } = await library();
    const doc = open('a castle, <lora:add_detail:0.6>');
    const [d] = service.diagnostics(doc, settings());
    assert.strictEqual(d.code, 'lora-trigger-missing');
    assert.strictEqual(d.severity, 4);
    const [fix] = service.codeActions(doc, [d]);
    assert.strictEqual(fix.title, 'Insert trigger words: detailed, intricate');
    assert.strictEqual(TextDocument.applyEdits(doc, fix.edit!.changes![doc.uri]), 'a castle, <lora:add_detail:0.6>, detailed, intricate');
  });

  it('a cap on the sum of LoRA weights', async () => {
    const { service } = await library();
    const list = problems(service, '<lora:ink:0.9> <lora:add_detail:0.8>, detailed', settings({ maxTotalWeight: 1.5 }));
    assert.deepStrictEqual(list.map((p) => [p.code, p.text]), [['lora-weight-sum', '<lora:add_detail:0.8>']]);
    assert.match(list[0].message, /add up to 1\.7/);
  });

  it('hypernetworks are looked up in the webui folder, with did-you-mean; without that folder nothing is said', async () => {
    const disk = new MemoryFileSystem();
    disk.writeFile('/webui/models/hypernetworks/anime_style.pt', 'not opened');
    disk.writeFile('/webui/models/hypernetworks/sub/watercolor.safetensors', kohyaSd15());
    const host = new LibraryHost(disk, (p) => p === '/webui/models/hypernetworks', () => undefined);
    const withWebui: PromptSettings = { ...DEFAULT_SETTINGS, webuiPath: '/webui' };
    await host.configure(withWebui);
    const service = createPromptLanguageService({ library: () => host.library });
    assert.deepStrictEqual(problems(service, 'a <hypernet:anime_styel:0.5>', withWebui), [
      {
        code: 'hypernet-unknown',
        text: 'anime_styel',
        message: "No hypernetwork named 'anime_styel' in your folders: A1111 skips it. Did you mean 'anime_style'?",
        fixes: ["Change to 'anime_style'"],
      },
    ]);
    assert.deepStrictEqual(problems(service, '<hypernet:zzz:1>', withWebui), [
      { code: 'hypernet-unknown', text: 'zzz', message: "No hypernetwork named 'zzz' in your folders: A1111 skips it.", fixes: [] },
    ]);
    // Found by file name in a subfolder; a tag in the negative prompt is text, not looked up.
    assert.deepStrictEqual(problems(service, '<hypernet:anime_style:0.5> <hypernet:watercolor>\nNegative prompt: x', withWebui), []);
    assert.deepStrictEqual(problems(service, 'a\nNegative prompt: <hypernet:zzz:1>', withWebui).map((p) => p.code), ['tag-in-negative']);
    host.dispose();
    const { service: noHypernetFolder } = await library();
    assert.deepStrictEqual(problems(noHypernetFolder, '<hypernet:zzz:1>'), []);
  });

  it('a file added to the folder clears the unknown-name warning', async () => {
    const { disk, host, service } = await library();
    assert.deepStrictEqual(problems(service, '<lora:fresh:0.5>').map((p) => p.code), ['lora-unknown']);
    const changed = new Promise<void>((resolve) => host.catalog.onDidChange(resolve));
    disk.writeFile('/models/Lora/new/fresh.safetensors', kohyaSd15());
    await changed;
    assert.deepStrictEqual(problems(service, '<lora:fresh:0.5>'), []);
    host.dispose();
  });
});

describe('library hover, completion, links', () => {
  it('hover card: kind, base model, trigger words, weights, file, preview', async () => {
    const { service } = await library();
    const text = '<lora:add_detail:0.6:unet=0.3>';
    const doc = open(text);
    const h = await service.hover(doc, doc.positionAt(8), settings());
    const value = (h!.contents as { value: string }).value as string;
    assert.match(value, /^\*\*LoRA\*\* `add_detail` \(alias `detail_tweaker`\)/);
    assert.match(value, /LoRA · kohya keys · SD1 · rank 4 · alpha 2/);
    assert.match(value, /Trigger words: `detailed`, `intricate`/);
    assert.match(value, /preferred weight 0\.6/);
    assert.match(value, /\| 0\.6 \| 0\.3 \| — \|/);
    assert.match(value, /`\/models\/Lora\/add_detail\.safetensors` · 9 KiB/);
    assert.match(value, /!\[preview of add_detail\]\(file:\/\/\/models\/Lora\/add_detail\.preview\.png\|width=256\)/);
  });

  it('hover shows the short hash once computed in the background', async () => {
    const { host, service } = await library();
    const doc = open('<lora:smart_falcon_4_lokr:0.5>');
    const first = ((await service.hover(doc, doc.positionAt(8), settings()))!.contents as { value: string }).value;
    assert.match(first, /LoKr · kohya keys · SD1/);
    // The LyCORIS file stores sshs_model_hash, so its hash is there at once.
    assert.match(first, /hash `[0-9a-f]{12}`/);
    // add_detail has none: the first hover starts hashing in the background, a later one shows it.
    const other = open('<lora:add_detail:0.5>');
    const hoverText = async () => ((await service.hover(other, other.positionAt(8), settings()))!.contents as { value: string }).value;
    assert.doesNotMatch(await hoverText(), /hash/);
    const hash = await host.computeShortHash('/models/Lora/add_detail.safetensors');
    assert.match(hash!, /^[0-9a-f]{12}$/);
    assert.match(await hoverText(), new RegExp(`hash \`${hash}\``));
  });

  it('a hover asked while the folders are still being read waits for the scan and shows the card', async () => {
    const disk = new MemoryFileSystem();
    disk.writeFile('/models/Lora/add_detail.safetensors', kohyaSd15());
    disk.writeFile('/models/Lora/add_detail.json', JSON.stringify({ 'activation text': 'detailed, intricate' }));
    const host = new LibraryHost(disk, () => false, () => undefined);
    const service = createPromptLanguageService({ library: () => host.library });
    const configured = host.configure(settings());
    assert.strictEqual(host.catalog.ready, false, 'the scan is still running when the hover comes');
    const doc = open('<lora:add_detail:0.6>');
    const value = ((await service.hover(doc, doc.positionAt(8), settings()))!.contents as { value: string }).value;
    assert.match(value, /^\*\*LoRA\*\* `add_detail`/);
    assert.match(value, /Trigger words: `detailed`, `intricate`/);
    await configured;
  });

  it('a scan that outlasts the wait: the hover answers after LIBRARY_SCAN_WAIT_MS and says the folders are still being read', async () => {
    const disk = new MemoryFileSystem();
    disk.writeFile('/models/Lora/add_detail.safetensors', kohyaSd15());
    // A folder listing that never answers (a hung network share).
    disk.readDirectory = () => new Promise(() => undefined);
    const host = new LibraryHost(disk, () => false, () => undefined);
    const service = createPromptLanguageService({ library: () => host.library });
    void host.configure(settings());
    const doc = open('<lora:add_detail:0.6>');
    const started = Date.now();
    const value = ((await service.hover(doc, doc.positionAt(8), settings()))!.contents as { value: string }).value;
    const waited = Date.now() - started;
    assert.ok(waited >= LIBRARY_SCAN_WAIT_MS - 50, `answered after ${waited} ms`);
    assert.strictEqual(value, '**LoRA** `add_detail`\n\n| text encoder | UNet | dyn |\n|---|---|---|\n| 0.6 | 0.6 | — |\n\nYour LoRA folders are still being read: hover again in a moment for its card.');
  });

  it('completion after <lora: lists names and aliases with subfolders, snippets with the preferred weight', async () => {
    const { service } = await library();
    const text = 'a, <lora:';
    const doc = open(text);
    const list = await service.completion(doc, doc.positionAt(text.length), settings());
    const byLabel = new Map(list.items.map((i) => [i.label, i]));
    assert.deepStrictEqual([...byLabel.keys()].sort(), [
      'add_detail', 'broken', 'detail_tweaker', 'ink', 'old_format', 'other_twin', 'peft_style', 'smart_falcon_4_lokr', 'smart_falcon_lokr_3.0e-4', 'twin', 'twins', 'xl_only',
    ]);
    assert.deepStrictEqual(byLabel.get('add_detail')!.textEdit, {
      range: { start: { line: 0, character: 9 }, end: { line: 0, character: 9 } },
      newText: 'add_detail:${1:0.6}>$0',
    });
    assert.strictEqual(byLabel.get('ink')!.detail, 'styles/');
    const resolved = await service.resolveCompletion(byLabel.get('ink')!);
    assert.match((resolved.documentation as { value: string }).value as string, /\*\*LoRA\*\* `ink`/);
  });

  it('completion of the weight, of tags after <, and of trigger words', async () => {
    const { service } = await library();
    const weightText = '<lora:add_detail:';
    let doc = open(weightText);
    assert.deepStrictEqual(
      (await service.completion(doc, doc.positionAt(weightText.length), settings())).items.map((i) => [i.label, i.detail]),
      [['0.6', 'preferred weight of this LoRA'], ['0.8', 'sdPrompt.lora.defaultWeight'], ['1', 'full strength']],
    );
    doc = open('<');
    const tags = (await service.completion(doc, doc.positionAt(1), settings())).items.map((i) => i.label);
    assert.ok(tags.includes('lora:add_detail') && tags.includes('lora:detail_tweaker'));
    const text = '<lora:add_detail:0.6>, det';
    doc = open(text);
    const words = (await service.completion(doc, doc.positionAt(text.length), settings())).items.map((i) => [i.label, i.detail]);
    assert.deepStrictEqual(words, [['detailed', 'trigger word of add_detail'], ['intricate', 'trigger word of add_detail']]);
  });

  it('document links point at the files', async () => {
    const { service } = await library();
    const doc = open('<lora:detail_tweaker:0.5> <lora:missing:1>');
    assert.deepStrictEqual(service.documentLinks(doc).map((l) => [l.range.start.character, l.range.end.character, l.target]), [
      [6, 20, 'file:///models/Lora/add_detail.safetensors'],
    ]);
  });

  it('"Open LoRA file" on a resolved tag', async () => {
    const { service } = await library();
    const text = 'x <lora:ink:0.5> <lora:nope:1>';
    const doc = open(text);
    const actions = service.codeActions(doc, [], { start: doc.positionAt(0), end: doc.positionAt(text.length) });
    assert.deepStrictEqual(actions.map((a) => [a.title, a.command]), [
      ['Open ink.safetensors', { title: 'Open file', command: 'sdPrompt.openFile', arguments: ['file:///models/Lora/styles/ink.safetensors'] }],
    ]);
  });

  it('embeddings: vector count from the file, looked up by the token ids of the name', async () => {
    const disk = new MemoryFileSystem();
    const bytes = fs.readFileSync(path.join(FIXTURES, 'embeddings/invokeai_test_embedding.safetensors'));
    disk.writeFile('/emb/test_embedding.safetensors', new Uint8Array(bytes));
    disk.writeFile('/emb/old.pt', 'pickle');
    const host = new LibraryHost(disk, () => false, () => undefined);
    await host.configure({ ...DEFAULT_SETTINGS, embeddingDirectories: ['/emb'] });
    assert.deepStrictEqual(host.catalog.list('embedding').map((e) => [e.name, e.details.vectors, e.pickle]), [
      ['old', undefined, true],
      ['test_embedding', 5, false],
    ]);
    const encode = (text: string) => text.split('_').map((w) => w.length);
    const lookup = host.embeddingLookup(encode, encode);
    assert.deepStrictEqual(lookup.get(4), [{ ids: [4, 9], vectors: 5, name: 'test_embedding' }]);
  });

  it('embedding names are offered anywhere in text', async () => {
    const disk = new MemoryFileSystem();
    disk.writeFile('/emb/easynegative.safetensors', buildSafetensors({}, [{ name: 'emb_params', shape: [8, 768] }]));
    const host = new LibraryHost(disk, () => false, () => undefined);
    await host.configure({ ...DEFAULT_SETTINGS, embeddingDirectories: ['/emb'] });
    const service = createPromptLanguageService({ library: () => host.library });
    const text = 'lowres, easy';
    const doc = open(text);
    const items = (await service.completion(doc, doc.positionAt(text.length), DEFAULT_SETTINGS)).items;
    assert.deepStrictEqual(items.map((i) => [i.label, i.textEdit]), [
      ['easynegative', { range: { start: { line: 0, character: 8 }, end: { line: 0, character: 12 } }, newText: 'easynegative' }],
    ]);
  });
});
