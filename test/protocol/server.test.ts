import * as assert from 'assert';
import * as path from 'path';
import {
  DidChangeConfigurationNotification,
  DidChangeTextDocumentNotification,
  DidCloseTextDocumentNotification,
  DidOpenTextDocumentNotification,
  DocumentDiagnosticRequest,
  DocumentFormattingRequest,
  HoverRequest,
  CancellationTokenSource,
  DocumentSymbolRequest,
  CodeActionRequest,
  CompletionRequest,
  Diagnostic,
  InlayHintRequest,
} from 'vscode-languageserver-protocol/node';
import * as fs from 'fs';
import * as os from 'os';
import { kohyaSd15 } from '../unit/library/build';
import { FIXTURES } from '../unit/fixtures';
import { ServerUnderTest, TEXT, URI } from './serverUnderTest';
import {
  GENERATION_DATA_REQUEST,
  GenerationDataParams,
  GenerationDataResult,
  LORA_LIST_REQUEST,
  LoraListParams,
  LoraListResult,
  MERGE_REPORT_NOTIFICATION,
  MergeReportParams,
  RENDER_LORAS_REQUEST,
  RenderLorasParams,
  RenderLorasResult,
  SELECTION_PROMPT_REQUEST,
  SelectionPromptParams,
  SelectionPromptResult,
} from '../../common/src/protocol';

describe('language server over stdio', function () {
  this.timeout(20000);
  let server: ServerUnderTest;
  afterEach(() => server?.dispose());

  it('pushes diagnostics on open and after an incremental change', async () => {
    server = new ServerUnderTest();
    await server.initialize(false);
    await server.open();
    const first = await server.diagnosticsFor(1);
    assert.deepStrictEqual(
      first.map((d) => [d.code, d.range.start.line, d.range.start.character, d.range.end.character, d.severity, d.source]),
      [['tag-name-whitespace', 0, 39, 51, 2, 'sd-prompt']],
    );
    // Insert a stray ')' after 'masterpiece' (incremental sync).
    await server.connection.sendNotification(DidChangeTextDocumentNotification.type, {
      textDocument: { uri: URI, version: 2 },
      contentChanges: [{ range: { start: { line: 0, character: 11 }, end: { line: 0, character: 11 } }, text: ')' }],
    });
    const second = await server.diagnosticsFor(2);
    assert.deepStrictEqual(
      second.map((d) => [d.code, d.range.start.character, d.range.end.character]),
      [['bracket-unmatched', 11, 12], ['tag-name-whitespace', 40, 52]],
    );
  });

  it("a render's merge report shows on the LoRA tags until the file is closed", async () => {
    server = new ServerUnderTest();
    await server.initialize(false);
    const text = 'a cat <lora:flux_style:1> <lora:detail:0.5> <lora:old:1>\n';
    await server.open(text);
    assert.deepStrictEqual(await server.diagnosticsFor(1), []);
    const before = server.publishCount;
    const report: MergeReportParams = {
      textDocument: { uri: URI },
      model: 'sd15-onnx',
      loras: [
        { name: 'flux_style', matched: 0, unmatched: ['unet:transformer_blocks.0.attn.to_q', 'unet:transformer_blocks.0.attn.to_k', 'unet:a', 'unet:b'], mismatched: [] },
        { name: 'detail', matched: 190, unmatched: ['unet:down_blocks.0.attentions.0.proj_in'], mismatched: ['unet:mid_block.x: the lora module gives [8, 4] but the model\'s weight is [4, 4]'] },
        { name: 'old', matched: 0, unmatched: [], mismatched: [], error: 'a cloneofsimo LoRA (lora_unet keys with ...): this format is not supported' },
      ],
    };
    await server.connection.sendNotification(MERGE_REPORT_NOTIFICATION, report);
    const published = await server.publishAfter(before);
    assert.deepStrictEqual(
      published.diagnostics.map((d) => [d.code, d.severity, d.range.start.character, d.range.end.character, d.message]),
      [
        [
          'lora-merge-unmatched',
          2,
          12,
          22,
          "In the last render with sd15-onnx, LoRA 'flux_style' changed nothing: none of its 4 modules has a weight in the model (is it for another base model?). Unmatched: unet:transformer_blocks.0.attn.to_q, unet:transformer_blocks.0.attn.to_k, unet:a and 1 more.",
        ],
        ['lora-merge-unmatched', 3, 32, 38, "In the last render with sd15-onnx, LoRA 'detail': 1 of its 192 modules have no weight in the model and were skipped: unet:down_blocks.0.attentions.0.proj_in."],
        [
          'lora-merge-mismatched',
          2,
          32,
          38,
          "In the last render with sd15-onnx, LoRA 'detail': 1 of its 192 modules do not fit the model's weights and were skipped: unet:mid_block.x: the lora module gives [8, 4] but the model's weight is [4, 4].",
        ],
        ['lora-merge-failed', 2, 50, 53, "In the last render with sd15-onnx, LoRA 'old' was not merged: a cloneofsimo LoRA (lora_unet keys with ...): this format is not supported"],
      ],
    );
    // Closing the file forgets the report: reopened, the tags are clean again.
    const closed = server.publishCount;
    await server.connection.sendNotification(DidCloseTextDocumentNotification.type, { textDocument: { uri: URI } });
    assert.deepStrictEqual((await server.publishAfter(closed)).diagnostics, []);
    await server.connection.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri: URI, languageId: 'sd-prompt', version: 2, text } });
    assert.deepStrictEqual(await server.diagnosticsFor(2), []);
  });

  it('answers pull diagnostics and re-reads settings when they change', async () => {
    server = new ServerUnderTest();
    await server.initialize(true);
    await server.open('<lora:x:1.5>');
    const pull = () => server.connection.sendRequest(DocumentDiagnosticRequest.type, { textDocument: { uri: URI } });
    const before = (await pull()) as { items: Diagnostic[] };
    assert.deepStrictEqual(before.items.map((d) => d.code), ['lora-weight-range']);
    server.settings = { lora: { weightRange: { min: 0, max: 2 } } };
    await server.connection.sendNotification(DidChangeConfigurationNotification.type, { settings: null });
    const after = (await pull()) as { items: Diagnostic[] };
    assert.deepStrictEqual(after.items, []);
  });

  it('hover shows the effective weight, formatting normalizes the tag, quick fix trims the name', async () => {
    server = new ServerUnderTest();
    await server.initialize(false);
    await server.open();
    const hover = await server.connection.sendRequest(HoverRequest.type, { textDocument: { uri: URI }, position: { line: 0, character: 17 } });
    const value = (hover!.contents as { value: string }).value;
    assert.match(value, /\*\*Weight 1\.2\*\* \(×1\.2\)/);
    assert.deepStrictEqual(hover!.range, { start: { line: 0, character: 13 }, end: { line: 0, character: 31 } });

    const edits = await server.connection.sendRequest(DocumentFormattingRequest.type, {
      textDocument: { uri: URI },
      options: { tabSize: 2, insertSpaces: true },
    });
    assert.deepStrictEqual(edits, [
      { range: { start: { line: 0, character: 33 }, end: { line: 0, character: 56 } }, newText: '<lora:add_detail:0.8>' },
    ]);

    const diagnostics = await server.diagnosticsFor(1);
    const actions = await server.connection.sendRequest(CodeActionRequest.type, {
      textDocument: { uri: URI },
      range: diagnostics[0].range,
      context: { diagnostics },
    });
    assert.deepStrictEqual(
      actions!.map((a) => ('edit' in a ? [a.title, a.edit!.changes![URI]] : [])),
      [["Remove the spaces: 'add_detail'", [{ range: diagnostics[0].range, newText: 'add_detail' }]]],
    );

    const symbols = (await server.connection.sendRequest(DocumentSymbolRequest.type, { textDocument: { uri: URI } })) as { name: string; children?: { name: string }[] }[];
    assert.deepStrictEqual(symbols.map((s) => [s.name, (s.children ?? []).map((c) => c.name)]), [
      ['Prompt', ['<lora: add_detail >']],
      ['Negative prompt', []],
      ['Parameters', ['Steps', 'Sampler', 'CFG scale', 'Seed', 'Size']],
    ]);
  });

  it('a request cancelled before it runs answers RequestCancelled', async () => {
    server = new ServerUnderTest();
    await server.initialize(false);
    await server.open();
    const source = new CancellationTokenSource();
    source.cancel();
    await assert.rejects(
      server.connection.sendRequest(HoverRequest.type, { textDocument: { uri: URI }, position: { line: 0, character: 17 } }, source.token),
      (e: { code?: number }) => e.code === -32800,
    );
  });

  it('library: completion, hover card and a quick fix from real folders; a new file updates diagnostics', async () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-prompt-lora-'));
    try {
      fs.mkdirSync(path.join(folder, 'styles'));
      fs.writeFileSync(path.join(folder, 'add_detail.safetensors'), kohyaSd15());
      fs.writeFileSync(path.join(folder, 'styles', 'ink.safetensors'), kohyaSd15());
      server = new ServerUnderTest();
      server.settings = { lora: { directories: [folder] } };
      await server.initialize(false);
      // The scan runs after initialization; a diagnostic naming the library shows it finished.
      const text = '<lora:add_detial:0.5>, <lora:fresh:0.5>';
      await server.open(text);
      let diagnostics = (await server.publishAfter(0)).diagnostics;
      while (!diagnostics.some((d) => d.code === 'lora-unknown')) diagnostics = (await server.publishAfter(server.publishCount)).diagnostics;
      assert.deepStrictEqual(diagnostics.map((d) => [d.code, d.range.start.character, d.range.end.character]), [
        ['lora-unknown', 6, 16],
        ['lora-unknown', 29, 34],
      ]);
      const actions = await server.connection.sendRequest(CodeActionRequest.type, {
        textDocument: { uri: URI },
        range: diagnostics[0].range,
        context: { diagnostics: [diagnostics[0]] },
      });
      assert.deepStrictEqual(actions!.map((a) => a.title), ["Change to 'add_detail'"]);

      const completion = await server.connection.sendRequest(CompletionRequest.type, {
        textDocument: { uri: URI },
        position: { line: 0, character: 6 },
      });
      const items = Array.isArray(completion) ? completion : completion!.items;
      assert.deepStrictEqual(items.map((i) => [i.label, i.detail ?? '']).sort(), [['add_detail', ''], ['ink', 'styles/']]);

      // A new file in the folder: the warning on 'fresh' goes away without reopening anything.
      const before = server.publishCount;
      fs.writeFileSync(path.join(folder, 'fresh.safetensors'), kohyaSd15());
      let after = (await server.publishAfter(before)).diagnostics;
      while (after.length !== 1) after = (await server.publishAfter(server.publishCount)).diagnostics;
      assert.deepStrictEqual(after.map((d) => d.range.start.character), [6]);

      const hover = await server.connection.sendRequest(HoverRequest.type, { textDocument: { uri: URI }, position: { line: 0, character: 31 } });
      assert.match((hover!.contents as { value: string }).value, /\*\*LoRA\*\* `fresh`[\s\S]*LoRA · kohya keys · SD1 · rank 4 · alpha 2/);
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });

  it('tokens: the webui counter for the part under the cursor, chunk marks, token hover, a word cut by a chunk', async () => {
    server = new ServerUnderTest();
    server.settings = { tokenizerPath: path.join(FIXTURES, 'clip') };
    await server.initialize(false);
    // 74 one-token words, then "photorealistic" (photo + realistic): token 75 ends chunk 1 mid-word.
    const text = 'a '.repeat(74) + 'photorealistic masterpiece\nNegative prompt: lowres\nSteps: 20, Sampler: Euler a, CFG scale: 7';
    await server.open(text);
    // The tokenizer loads after initialization; wait for diagnostics that show it is in use.
    let diagnostics = (await server.publishAfter(0)).diagnostics;
    while (!diagnostics.some((d) => d.code === 'chunk-splits-word')) diagnostics = (await server.publishAfter(server.publishCount)).diagnostics;
    assert.deepStrictEqual(
      diagnostics.map((d) => [d.code, d.severity, d.range.start.character, d.range.end.character]),
      [['chunk-splits-word', 3, 148, 162]],
    );
    const count = (position: { line: number; character: number }) =>
      server.connection.sendRequest('sdPrompt/tokenCount', { textDocument: { uri: URI }, position });
    assert.deepStrictEqual(await count({ line: 0, character: 3 }), {
      section: 'positive',
      count: 77,
      target: 150,
      approximate: false,
      text: '77/150',
      tokenizer: `sdPrompt.tokenizerPath (${path.join(FIXTURES, 'clip')})`,
    });
    assert.deepStrictEqual(((await count({ line: 1, character: 20 })) as { text: string }).text, '2/75');
    assert.strictEqual(await count({ line: 2, character: 3 }), null);

    const hints = await server.connection.sendRequest(InlayHintRequest.type, {
      textDocument: { uri: URI },
      range: { start: { line: 0, character: 0 }, end: { line: 3, character: 0 } },
    });
    assert.deepStrictEqual(hints!.map((h) => [h.position, h.label]), [[{ line: 0, character: 148 }, '│2']]);

    const hover = await server.connection.sendRequest(HoverRequest.type, { textDocument: { uri: URI }, position: { line: 0, character: 165 } });
    assert.deepStrictEqual(hover!.range, { start: { line: 0, character: 163 }, end: { line: 0, character: 174 } });
    assert.strictEqual((hover!.contents as { value: string }).value, '**1 token**: `masterpiece` (ids 12066) · chunk 2, token 2 of 75');
  });

  it("extension requests: the LoRA list with cards, a render's LoRAs, the file as A1111's generation data", async () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-prompt-lora-'));
    try {
      fs.mkdirSync(path.join(folder, 'styles'));
      fs.writeFileSync(path.join(folder, 'add_detail.safetensors'), kohyaSd15());
      fs.writeFileSync(path.join(folder, 'add_detail.json'), JSON.stringify({ 'activation text': 'detailed, intricate', 'preferred weight': 0.6 }));
      fs.writeFileSync(path.join(folder, 'add_detail.preview.png'), '');
      fs.writeFileSync(path.join(folder, 'styles', 'ink.safetensors'), kohyaSd15({ ss_output_name: 'inkStyle' }));
      fs.writeFileSync(path.join(folder, 'old.pt'), '');
      server = new ServerUnderTest();
      server.settings = { lora: { directories: [folder], defaultWeight: 0.7 } };
      await server.initialize(false);
      await server.open();
      // No waiting for the scan: the request waits for the library of the current settings.
      const list = await server.connection.sendRequest<LoraListResult>(LORA_LIST_REQUEST, { textDocument: { uri: URI } } satisfies LoraListParams);
      assert.deepStrictEqual(list.folders, [folder]);
      assert.deepStrictEqual(
        list.loras.map((l) => [l.name, l.alias, l.subfolder, l.baseModel, l.kind, l.triggerWords, l.weight, l.weightSource, l.previewPath, l.problem]).sort(),
        [
          ['add_detail', undefined, '', 'SD1', 'LoRA', ['detailed', 'intricate'], 0.6, 'preferred', path.join(folder, 'add_detail.preview.png'), undefined],
          ['ink', 'inkStyle', 'styles', 'SD1', 'LoRA', [], 0.7, 'default', undefined, undefined],
          ['old', undefined, '', 'unknown', 'unknown', [], 0.7, 'default', undefined, '.pt pickle: never opened'],
        ],
      );

      const resolved = await server.connection.sendRequest<RenderLorasResult>(RENDER_LORAS_REQUEST, {
        text: 'a <lora:inkStyle:0.5:0.25>, <lora:add_detail>, <lora:missing:1>, <lora:old:1>\nNegative prompt: <lora:add_detail:1>',
      } satisfies RenderLorasParams);
      assert.deepStrictEqual(resolved, {
        loras: [
          { name: 'inkStyle', path: path.join(folder, 'styles', 'ink.safetensors'), te: 0.5, unet: 0.25 },
          { name: 'add_detail', path: path.join(folder, 'add_detail.safetensors'), te: 1, unet: 1 },
        ],
        warnings: ["LoRA 'missing' is not in the library: rendering without it", "LoRA 'old' is a pickle (.pt), never opened: rendering without it"],
        skipped: [
          { name: 'missing', reason: 'not-found' },
          { name: 'old', reason: 'pickle', detail: '.pt' },
        ],
      });
      const dropped = await server.connection.sendRequest<RenderLorasResult>(RENDER_LORAS_REQUEST, { text: '<lora:add_detail:abc>, <lora:ink:1>' });
      assert.deepStrictEqual(dropped, {
        loras: [],
        warnings: ["ValueError: could not convert string to float: 'abc': A1111 applies no LoRA in this generation, and neither does this render"],
        skipped: [
          { name: 'add_detail', reason: 'invalid-weight', detail: "ValueError: could not convert string to float: 'abc'" },
          { name: 'ink', reason: 'invalid-weight', detail: "ValueError: could not convert string to float: 'abc'" },
        ],
      });

      const data = await server.connection.sendRequest<GenerationDataResult>(GENERATION_DATA_REQUEST, {
        text: '# a note\nmasterpiece, 1girl # pose\nNegative prompt: lowres\nSteps: 20, Sampler: Euler a, Seed: 1234\n',
      } satisfies GenerationDataParams);
      // strip_comments leaves the trailing comment's newline, so A1111 writes an empty line before the negative prompt.
      assert.strictEqual(data.infotext, 'masterpiece, 1girl \n\nNegative prompt: lowres\nSteps: 20, Sampler: Euler a, Seed: 1234');
      const plain = await server.connection.sendRequest<GenerationDataResult>(GENERATION_DATA_REQUEST, { text: TEXT });
      assert.strictEqual(plain.infotext, TEXT.trim());

      // Render Preview of a selection: the fragment with the file's negative prompt and parameters,
      // or the selection as it is when it has its own parameter line.
      const fragment = await server.connection.sendRequest<SelectionPromptResult>(SELECTION_PROMPT_REQUEST, { text: TEXT, selected: ' 1girl BREAK night sky' } satisfies SelectionPromptParams);
      assert.strictEqual(fragment.promptText, '1girl BREAK night sky\nNegative prompt: lowres, bad hands\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 512x512');
      const whole = 'a dog\nSteps: 5, Seed: 2';
      const own = await server.connection.sendRequest<SelectionPromptResult>(SELECTION_PROMPT_REQUEST, { text: TEXT, selected: whole } satisfies SelectionPromptParams);
      assert.strictEqual(own.promptText, whole);
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });
});
