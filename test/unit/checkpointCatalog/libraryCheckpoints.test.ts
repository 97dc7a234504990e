import * as assert from 'assert';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { LibraryHost } from '../../../server/src/libraryHost';
import { NodeFileSystem } from '../../../server/src/node/nodeFileSystem';
import { writeCheckpoint, TINY_SD1_ARCHITECTURE, TINY_SDXL_ARCHITECTURE } from '../../../server/src/render/testModel/generateCheckpoint';
import { createPromptLanguageService, DEFAULT_SETTINGS, PromptSettings } from '../../../server/src/service';
import { kohyaSd15 } from '../library/build';
import { CatalogEntry } from '../../../server/src/service/library/catalog';
import { checkpointList } from '../../../server/src/service/features/checkpointList';
import { parsePromptDocument } from '../../../server/src/service/syntax/document';

/** Rewrites a safetensors file's header with `from` prefixes renamed to `to` (the data stays as it is). */
function renameKeys(file: string, from: string, to: string): void {
  const bytes = fs.readFileSync(file);
  const length = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8'));
  const renamed = Object.fromEntries(Object.entries(header).map(([k, v]) => [k.startsWith(from) ? to + k.slice(from.length) : k, v]));
  const json = Buffer.from(JSON.stringify(renamed), 'utf8');
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([size, json, bytes.subarray(8 + length)]));
}

/** A webui folder on disk with tiny generated checkpoints, a LoRA and a LoRA put among the checkpoints by mistake. */
describe('checkpoints of a webui folder in the language server', function () {
  this.timeout(60000);
  let webui: string;
  let host: LibraryHost;
  const settings = (extra: Partial<PromptSettings> = {}): PromptSettings => ({ ...DEFAULT_SETTINGS, webuiPath: webui, ...extra });

  before(async () => {
    webui = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-webui-'));
    const sd = path.join(webui, 'models/Stable-diffusion');
    fs.mkdirSync(path.join(sd, 'xl'), { recursive: true });
    fs.mkdirSync(path.join(webui, 'models/Lora'), { recursive: true });
    writeCheckpoint(path.join(sd, 'tiny_sd1.safetensors'), { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F16', seed: 1 });
    writeCheckpoint(path.join(sd, 'xl/tiny_xl.safetensors'), { architecture: TINY_SDXL_ARCHITECTURE, dtype: 'BF16', seed: 2 });
    fs.writeFileSync(path.join(sd, 'misplaced_lora.safetensors'), kohyaSd15());
    // An old SD1 file saved without `text_model.` in its text encoder's keys: A1111 renames them, and so do we.
    writeCheckpoint(path.join(sd, 'old_sd1.safetensors'), { architecture: TINY_SD1_ARCHITECTURE, dtype: 'F16', seed: 5 });
    renameKeys(path.join(sd, 'old_sd1.safetensors'), 'cond_stage_model.transformer.text_model.', 'cond_stage_model.transformer.');
    fs.writeFileSync(path.join(webui, 'models/Lora/add_detail.safetensors'), kohyaSd15());
    host = new LibraryHost(new NodeFileSystem(), (p) => fs.existsSync(p), () => undefined);
    await host.configure(settings());
    await Promise.all(host.catalog.list('lora').map((e) => host.loadCard(e)));
  });
  after(() => {
    host.dispose();
    fs.rmSync(webui, { recursive: true, force: true });
  });

  it('each file gets its family, dtype, whether it renders, and the legacy hash of its bytes', () => {
    const sd = path.join(webui, 'models/Stable-diffusion');
    const legacy = (file: string) => createHash('sha256').update(fs.readFileSync(file).subarray(0x100000, 0x110000)).digest('hex').slice(0, 8);
    const seen = host.catalog.list('checkpoint').map((e) => [e.name, e.details.model?.family, e.details.model?.dtype, e.details.model?.renderable, e.details.model?.legacyHash]);
    assert.deepStrictEqual(seen, [
      ['misplaced_lora', 'other', 'F16', false, legacy(path.join(sd, 'misplaced_lora.safetensors'))],
      ['old_sd1', 'sd1', 'F16', true, legacy(path.join(sd, 'old_sd1.safetensors'))],
      ['tiny_sd1', 'sd1', 'F16', true, legacy(path.join(sd, 'tiny_sd1.safetensors'))],
      ['tiny_xl', 'sdxl', 'BF16', true, legacy(path.join(sd, 'xl/tiny_xl.safetensors'))],
    ]);
    assert.match(host.catalog.list('checkpoint')[0].details.model?.problem ?? '', /misplaced_lora\.safetensors is a LoRA .*not a checkpoint: put it in models\/Lora/);
  });

  it("a LoRA for SD1 under a prompt whose Model: is an SDXL checkpoint: lora-base-model names the checkpoint", () => {
    const service = createPromptLanguageService({ library: () => host.library });
    const text = 'a cat <lora:add_detail:0.5>\nSteps: 20, Sampler: Euler a, Model: tiny_xl';
    const problems = service.diagnostics(TextDocument.create('file:///x.prompt', 'sd-prompt', 1, text), settings()).filter((d) => d.code === 'lora-base-model');
    assert.deepStrictEqual(problems.map((d) => d.message), [
      "'add_detail' was trained for SD1, but the model in use is SDXL (checkpoint 'tiny_xl', chosen by Model): its weights do not fit, so A1111 skips it or it does nothing useful.",
    ]);
  });

  it('the whole-file sha256 is computed once in the background and then finds the file by its short hash', async () => {
    const entry = host.catalog.list('checkpoint').find((e) => e.name === 'tiny_sd1')!;
    const expected = createHash('sha256').update(fs.readFileSync(entry.path)).digest('hex');
    assert.strictEqual(await host.sha256(entry), expected);
    assert.strictEqual(host.library.sha256!(entry, false), expected);
  });

  it('hover on Model: shows the checkpoint the data selects, with its family, dtype, size and hashes', async () => {
    const service = createPromptLanguageService({ library: () => host.library });
    const entry = host.catalog.list('checkpoint').find((e) => e.name === 'tiny_xl')!;
    const sha256 = await host.sha256(entry);
    const text = 'a cat\nSteps: 20, Model: tiny_xl, Model hash: 00000000';
    const doc = TextDocument.create('file:///h.prompt', 'sd-prompt', 1, text);
    const hover = await service.hover(doc, doc.positionAt(text.indexOf('tiny_xl') + 2), settings());
    const value = (hover!.contents as { value: string }).value;
    const mb = (entry.size / 1e6).toFixed(1);
    assert.strictEqual(
      value,
      `**Checkpoint** \`tiny_xl\` — SDXL, BF16, ${mb} MB\n\n\`xl/tiny_xl.safetensors\` in \`${entry.root}\`, chosen by Model\n\n` +
        `| short hash | legacy hash |\n|---|---|\n| ${sha256!.slice(0, 10)} | ${entry.details.model!.legacyHash} |`,
    );
    assert.deepStrictEqual([doc.offsetAt(hover!.range!.start), doc.offsetAt(hover!.range!.end)], [text.indexOf('Model:'), text.indexOf('tiny_xl') + 7]);
    const missing = await service.hover(doc, doc.positionAt(text.indexOf('00000000')), settings());
    assert.ok((missing!.contents as { value: string }).value.startsWith('**Checkpoint** `tiny_xl`'), 'the hash hovers the same checkpoint (chosen by Model)');
    const none = TextDocument.create('file:///n.prompt', 'sd-prompt', 1, 'a cat\nSteps: 20, Model: nothing_here');
    const noneHover = await service.hover(none, none.positionAt(none.getText().indexOf('nothing')), settings());
    assert.strictEqual((noneHover!.contents as { value: string }).value, '**Checkpoint** `nothing_here`\n\nNot in your checkpoint folders: A1111 would keep the model it has loaded.');
  });

  it("Select Model's list: each checkpoint with what it is, and the one a prompt's Model hash / Model selects", async () => {
    const folders = [path.join(webui, 'models/Stable-diffusion')];
    const sd1 = host.catalog.list('checkpoint').find((e) => e.name === 'tiny_sd1')!;
    const sha256 = await host.sha256(sd1);
    const list = checkpointList(host.library, folders, parsePromptDocument(`a cat\nSteps: 20, Model: tiny_xl, Model hash: ${sha256!.slice(0, 10)}`));
    assert.deepStrictEqual(list.chosen, { path: sd1.path, by: 'Model hash' });
    assert.deepStrictEqual(
      list.checkpoints.map((c) => [c.nameForExtra, c.family, c.dtype, c.renderable, c.shortHash ?? null]),
      [
        ['misplaced_lora', 'other', 'F16', false, list.checkpoints[0].shortHash ?? null],
        ['old_sd1', 'sd1', 'F16', true, list.checkpoints[1].shortHash ?? null],
        ['tiny_sd1', 'sd1', 'F16', true, sha256!.slice(0, 10)],
        ['tiny_xl', 'sdxl', 'BF16', true, list.checkpoints[3].shortHash ?? null],
      ],
    );
    assert.strictEqual(checkpointList(host.library, folders, parsePromptDocument('a cat\nSteps: 20, Model: nothing')).chosen, undefined);
    assert.deepStrictEqual(checkpointList(undefined, [], undefined), { folders: [], checkpoints: [] });
    // Render Preview asks on every render: listing never starts hashing a whole file.
    const asked: boolean[] = [];
    const watched = { ...host.library, sha256: (e: CatalogEntry, compute = true) => (asked.push(compute), host.library.sha256!(e, false)) };
    checkpointList(watched, folders, parsePromptDocument('a cat\nSteps: 20, Model hash: 0123456789'));
    assert.ok(asked.length >= 4 && asked.every((compute) => compute === false), JSON.stringify(asked));
  });

  it('sdPrompt.model naming a checkpoint file gives the base model from its keys', async () => {
    const other = new LibraryHost(new NodeFileSystem(), (p) => fs.existsSync(p), () => undefined);
    await other.configure(settings({ model: path.join(webui, 'models/Stable-diffusion/xl/tiny_xl.safetensors') }));
    assert.strictEqual(other.library.modelBase, 'SDXL');
    other.dispose();
  });
});
