import * as assert from 'assert';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { LibraryHost } from '../../server/src/libraryHost';
import { createPromptLanguageService, DEFAULT_SETTINGS } from '../../server/src/service';
import { MemoryFileSystem } from '../../server/src/service/library/memoryFileSystem';
import { kohyaSd15 } from './library/build';

const settings = { ...DEFAULT_SETTINGS, lora: { ...DEFAULT_SETTINGS.lora, directories: ['/loras'] } };

/** A library whose files and sidecars try to put their own Markdown into the hover. */
async function hostileLibrary() {
  const disk = new MemoryFileSystem();
  disk.writeFile('/loras/evil.safetensors', kohyaSd15({ ss_sd_model_name: 'base`\n\n![m](https://evil.example/m.png)' }));
  disk.writeFile(
    '/loras/evil.json',
    JSON.stringify({
      'activation text': 'nice style\n\n![t](https://evil.example/t.png)',
      description: 'Made by [me](https://evil.example/) <img src="https://evil.example/i.png">\n![d](https://evil.example/d.png) see www.evil.example',
    }),
  );
  disk.writeFile('/loras/evil.preview.png', 'png');
  disk.writeFile('/loras/odd (v2).safetensors', kohyaSd15());
  disk.writeFile('/loras/odd (v2).preview.png', 'png');
  const host = new LibraryHost(disk, () => false, () => undefined);
  await host.configure(settings);
  await Promise.all(host.catalog.list('lora').map((e) => host.loadCard(e)));
  return { host, service: createPromptLanguageService({ library: () => host.library }) };
}

async function hoverLines(service: ReturnType<typeof createPromptLanguageService>, text: string): Promise<string[]> {
  const doc = TextDocument.create('file:///hover.prompt', 'sd-prompt', 1, text);
  const hover = await service.hover(doc, doc.positionAt(8), settings);
  return (hover!.contents as { value: string }).value.split('\n\n');
}

describe('text from LoRA files and prompts is shown as text', () => {
  it("a LoRA's trigger words, training model and description show escaped; the only image is the preview beside it", async () => {
    const { host, service } = await hostileLibrary();
    const lines = await hoverLines(service, '<lora:evil:1>');
    assert.deepStrictEqual(lines.slice(0, 4), [
      '**LoRA** `evil`',
      'LoRA · kohya keys · SD1 · rank 4 · alpha 2',
      'Trigger words: `nice style  ![t](https://evil.example/t.png)`',
      "trained on `base'  ![m](https://evil.example/m.png)`",
    ]);
    assert.deepStrictEqual(lines.slice(5, 7), [
      '![preview of evil](file:///loras/evil.preview.png|width=256)',
      'Made by \\[me\\]\\(https\\://evil.example/\\) \\<img src="https\\://evil.example/i.png"\\>\n\\!\\[d\\]\\(https\\://evil.example/d.png\\) see www\\.evil.example',
    ]);
    // Outside code spans, Markdown makes a link or an image only of `](`: the preview's is the one there is.
    assert.strictEqual(lines.join('\n\n').replace(/`[^`]*`/g, '').split('](').length, 2);
    host.dispose();
  });

  it("a ')' in a file name cannot end the preview image's link", async () => {
    const { host, service } = await hostileLibrary();
    const lines = await hoverLines(service, '<lora:odd (v2):1>');
    assert.strictEqual(lines.find((l) => l.startsWith('![')), '![preview of odd \\(v2\\)](file:///loras/odd%20%28v2%29.preview.png|width=256)');
    host.dispose();
  });

  it("prompt text quoted in a hover stays text (a hypernetwork tag's multiplier)", async () => {
    const service = createPromptLanguageService();
    const lines = await hoverLines(service, '<hypernet:x:![a](//evil.example/h.png)>');
    assert.deepStrictEqual(lines, ['**Hypernetwork** `x`', 'Multiplier \\!\\[a\\]\\(//evil.example/h.png\\)']);
  });

  it('diagnostic messages that quote the prompt leave out NUL, bidi overrides and lone surrogates', () => {
    const service = createPromptLanguageService();
    const text = 'a cat\nNegative prompt: <lora:a\u0000b\u202Ec\uD800d:1>';
    const doc = TextDocument.create('file:///controls.prompt', 'sd-prompt', 1, text);
    const messages = service.diagnostics(doc, DEFAULT_SETTINGS).map((d) => [d.code, d.message]);
    assert.deepStrictEqual(messages, [
      ['tag-in-negative', "A1111 does not apply lora tags in the negative prompt: '<lora:abcd:1>' reaches the text encoder as plain text."],
    ]);
  });
});
