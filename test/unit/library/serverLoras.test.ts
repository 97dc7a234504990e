import * as assert from 'assert';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { LibraryHost } from '../../../server/src/libraryHost';
import { createPromptLanguageService, DEFAULT_SETTINGS, PromptSettings } from '../../../server/src/service';
import { MemoryFileSystem } from '../../../server/src/service/library/memoryFileSystem';
import { ServerLoraList } from '../../../server/src/service/library/serverLoras';
import { kohyaSd15 } from './build';

const settings: PromptSettings = { ...DEFAULT_SETTINGS, lora: { ...DEFAULT_SETTINGS.lora, directories: ['/models/Lora'] } };

/** As `/sdapi/v1/loras` answers: name = file stem, alias = ss_output_name (or the name). */
const a1111 = new ServerLoraList('a1111', 'http://gpu-box:7860', [
  { name: 'add_detail', alias: 'detail_tweaker', path: '/webui/models/Lora/add_detail.safetensors' },
  { name: 'ink', alias: 'ink', path: '/webui/models/Lora/styles/ink.safetensors' },
]);
/** As the extension lists ComfyUI's `LoraLoader` choices: name = stem, path = the file under models/loras. */
const comfy = new ServerLoraList('comfyui', 'http://comfy:8188', [
  { name: 'ink', path: 'styles\\ink.safetensors' },
  { name: 'style.v2', path: 'style.v2.safetensors' },
]);

let version = 0;
async function service(server: ServerLoraList | undefined, localFolders = true) {
  const disk = new MemoryFileSystem();
  disk.writeFile('/models/Lora/add_detail.safetensors', kohyaSd15());
  disk.writeFile('/models/Lora/local_only.safetensors', kohyaSd15());
  const host = new LibraryHost(disk, () => false, () => undefined);
  await host.configure(localFolders ? settings : DEFAULT_SETTINGS);
  const s = createPromptLanguageService({ library: () => host.library, serverLoras: () => server });
  return (text: string) => {
    const doc = TextDocument.create(`file:///server${++version}.prompt`, 'sd-prompt', 1, text);
    return s
      .diagnostics(doc, localFolders ? settings : DEFAULT_SETTINGS)
      .filter((d) => String(d.code).startsWith('lora-'))
      .map((d) => ({
        code: d.code,
        severity: d.severity,
        text: text.slice(doc.offsetAt(d.range.start), doc.offsetAt(d.range.end)),
        message: d.message,
        fixes: ((d.data as { fixes?: { title: string }[] })?.fixes ?? []).map((f) => f.title),
      }));
  };
}

describe('server LoRA list', () => {
  it('A1111: name or alias, exact and case-sensitive, never with folders', () => {
    assert.deepStrictEqual(
      ['add_detail', 'detail_tweaker', 'ink', 'Add_Detail', 'styles/ink', 'ink.safetensors', ''].map((n) => a1111.has(n)),
      [true, true, true, false, false, false, false],
    );
  });

  it('ComfyUI: the stem or the path as the server lists it, case ignored (what its render backend finds)', () => {
    assert.deepStrictEqual(
      ['ink', 'INK', 'styles\\ink.safetensors', 'STYLES\\INK.SAFETENSORS', 'style.v2', 'style.v2.safetensors', 'styles/ink', 'styles/ink.safetensors', 'style', 'sty'].map((n) =>
        comfy.has(n),
      ),
      [true, true, true, true, true, true, false, false, false, false],
    );
    assert.deepStrictEqual(comfy.suggestions, ['ink', 'style.v2']);
  });

  it('SwarmUI: the stem only, case ignored (its render backend sends the file it finds by stem)', () => {
    const swarm = new ServerLoraList('swarmui', 'http://swarm:7801', [{ name: 'ink', path: 'styles/ink.safetensors' }]);
    assert.deepStrictEqual(['ink', 'Ink', 'styles/ink.safetensors', 'styles/ink'].map((n) => swarm.has(n)), [true, true, false, false]);
  });

  it('a tag the server lacks is a warning naming the server, with did-you-mean from its list', async () => {
    const problems = await service(a1111);
    assert.deepStrictEqual(problems('<lora:add_detial:0.5>, <lora:detail_tweaker:1>, <lora:add_detail:0.3>'), [
      {
        code: 'lora-missing-on-server',
        severity: 2,
        text: 'add_detial',
        message: "The render server http://gpu-box:7860 (A1111) has no LoRA 'add_detial': a render there stops before it starts. Did you mean 'add_detail'?",
        fixes: ["Change to 'add_detail'"],
      },
    ]);
  });

  it('found locally but not on the server: the server decides (no local lora-unknown beside it)', async () => {
    const problems = await service(a1111);
    assert.deepStrictEqual(
      problems('<lora:local_only:0.5>, <lora:ink:0.5>, <lora:nowhere_at_all:1>').map((p) => [p.code, p.text]),
      [
        ['lora-missing-on-server', 'local_only'],
        ['lora-missing-on-server', 'nowhere_at_all'],
      ],
    );
  });

  it('A1111 with a folder in the name: says why and suggests the bare name the server has', async () => {
    const problems = await service(a1111);
    assert.deepStrictEqual(problems('<lora:styles/ink:0.5>'), [
      {
        code: 'lora-missing-on-server',
        severity: 2,
        text: 'styles/ink',
        message: "The render server http://gpu-box:7860 (A1111) has no LoRA 'styles/ink' (A1111 names LoRAs by file name, without folders): a render there stops before it starts. Did you mean 'ink'?",
        fixes: ["Change to 'ink'"],
      },
    ]);
  });

  it('ComfyUI: the listed path with its folder is found there (no lora-subfolder); a typo gets did-you-mean', async () => {
    const problems = await service(comfy);
    assert.deepStrictEqual(problems('<lora:styles\\ink.safetensors:0.5>, <lora:style.v2:1>, <lora:ink:1>'), []);
    assert.deepStrictEqual(problems('<lora:styel.v2:1>').map((p) => p.message), [
      "The render server http://comfy:8188 (ComfyUI) has no LoRA 'styel.v2': a render there stops before it starts. Did you mean 'style.v2'?",
    ]);
  });

  it('works with no local LoRA folders at all; negative-prompt tags are text and not looked up', async () => {
    const problems = await service(a1111, false);
    assert.deepStrictEqual(problems('<lora:gone:1>\nNegative prompt: <lora:also_gone:1>').map((p) => [p.code, p.text]), [['lora-missing-on-server', 'gone']]);
  });

  it('with no server list the local library diagnostics are as before', async () => {
    const problems = await service(undefined);
    assert.deepStrictEqual(problems('<lora:local_only:0.5>, <lora:nowhere_at_all:1>, <lora:styles/ink:1>').map((p) => [p.code, p.text]), [
      ['lora-unknown', 'nowhere_at_all'],
      ['lora-subfolder', 'styles/ink'],
    ]);
  });
});
