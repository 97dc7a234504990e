import * as assert from 'assert';
import { findProblems } from '../../../server/src/service/features/diagnostics';
import { PromptLibrary } from '../../../server/src/service/library';
import { CatalogEntry, LoraCatalog, ModelFileDetails } from '../../../server/src/service/library/catalog';
import { MemoryFileSystem } from '../../../server/src/service/library/memoryFileSystem';
import { DEFAULT_SETTINGS } from '../../../server/src/service/settings';
import { parsePromptDocument } from '../../../server/src/service/syntax/document';

const SD = '/webui/models/Stable-diffusion';
const FULL = 'e6e99610c4' + '1'.repeat(54);

/** A library with three checkpoints; `sha256s` are the whole-file hashes known (others are "being computed"). */
async function library(sha256s: Record<string, string> = {}) {
  const fs = new MemoryFileSystem();
  const legacy: Record<string, string> = { [`${SD}/dreamshaper_8.safetensors`]: '879db523', [`${SD}/v1-5-pruned.safetensors`]: 'a9263745', [`${SD}/xl/juggernaut.safetensors`]: 'f0f8c7e1' };
  for (const f of Object.keys(legacy)) fs.writeFile(f, '');
  const catalog = new LoraCatalog(fs, async (entry) => {
    const model: ModelFileDetails = { family: 'sd1', renderable: true, dtype: 'F16', legacyHash: legacy[entry.path] };
    return { model };
  });
  await catalog.setRoots({ lora: [], embedding: [], hypernet: [], checkpoint: [SD] });
  const asked: { path: string; compute: boolean }[] = [];
  const lib: PromptLibrary = {
    catalog,
    modelBase: 'unknown',
    card: () => undefined,
    loadCard: async () => undefined,
    problem: () => undefined,
    sha256: (entry: CatalogEntry, compute = true) => {
      asked.push({ path: entry.path, compute });
      return sha256s[entry.path];
    },
  };
  return { lib, asked };
}

function problems(text: string, lib: PromptLibrary) {
  const doc = parsePromptDocument(text);
  return findProblems(doc, DEFAULT_SETTINGS, lib)
    .filter((p) => p.code.startsWith('model-'))
    .map((p) => ({ code: p.code, text: text.slice(p.span.start, p.span.end), message: p.message, fixes: p.fixes?.map((f) => [f.title, f.edits.map((e) => e.newText)]) }));
}

const line = (params: string) => `a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, ${params}`;

describe('Model: and Model hash: against the checkpoints folder', () => {
  it('a name the folder lacks: model-unknown on the name, with did-you-mean and its fix', async () => {
    const { lib } = await library();
    assert.deepStrictEqual(problems(line('Model hash: 12345678, Model: dreamshaper_7'), lib), [
      {
        code: 'model-unknown',
        text: 'dreamshaper_7',
        message: "No checkpoint 'dreamshaper_7' (hash 12345678) in your models folder: A1111 keeps the model it has loaded, so the image will not be this one. Did you mean 'dreamshaper_8'?",
        fixes: [["Change to 'dreamshaper_8'", ['dreamshaper_8']]],
      },
    ]);
  });

  it('the name and the legacy hash agree, or the hash alone finds the file: nothing to say', async () => {
    const { lib } = await library();
    assert.deepStrictEqual(problems(line('Model hash: 879db523, Model: dreamshaper_8'), lib), []);
    assert.deepStrictEqual(problems(line('Model hash: 879db523, Model: some_old_name'), lib), []);
    assert.deepStrictEqual(problems(line('Model: v1-5-pruned'), lib), []);
  });

  it('a legacy hash of another version of the named file: model-hash-mismatch with a fix to the file\'s hash', async () => {
    const { lib } = await library();
    assert.deepStrictEqual(problems(line('Model hash: 11112222, Model: dreamshaper_8'), lib), [
      {
        code: 'model-hash-mismatch',
        text: '11112222',
        message: "'dreamshaper_8' here has the hash 879db523, not 11112222: it is another version of that checkpoint, so the image will differ (and A1111, which picks by hash, keeps the model it has loaded).",
        fixes: [['Change the hash to 879db523 (your file\'s)', ['879db523']]],
      },
    ]);
  });

  it("a hash that is another file's: A1111 loads that one, and the warning names it", async () => {
    const { lib } = await library();
    assert.deepStrictEqual(problems(line('Model hash: a9263745, Model: dreamshaper_8'), lib).map((p) => [p.code, p.text, p.message]), [
      ['model-hash-mismatch', 'a9263745', "Model hash a9263745 is 'v1-5-pruned.safetensors' here, not 'dreamshaper_8': A1111 picks the checkpoint by its hash and loads 'v1-5-pruned'."],
    ]);
  });

  it('a 10-hex short hash: compared once the named file is hashed (only that file is hashed)', async () => {
    const pending = await library();
    assert.deepStrictEqual(problems(line('Model hash: e6e99610c4, Model: dreamshaper_8'), pending.lib), []);
    const computed = pending.asked.filter((a) => a.compute).map((a) => a.path);
    assert.deepStrictEqual([...new Set(computed)], [`${SD}/dreamshaper_8.safetensors`]);

    const other = await library({ [`${SD}/dreamshaper_8.safetensors`]: 'abcdef0123' + '2'.repeat(54) });
    assert.deepStrictEqual(problems(line('Model hash: e6e99610c4, Model: dreamshaper_8'), other.lib).map((p) => [p.code, p.fixes]), [
      ['model-hash-mismatch', [["Change the hash to abcdef0123 (your file's)", ['abcdef0123']]]],
    ]);
    const same = await library({ [`${SD}/dreamshaper_8.safetensors`]: FULL });
    assert.deepStrictEqual(problems(line('Model hash: e6e99610c4, Model: dreamshaper_8'), same.lib), []);
  });

  it('a hash alone that no file has: said for legacy hashes, and for short ones only when every file is hashed', async () => {
    const { lib } = await library();
    assert.deepStrictEqual(problems(line('Model hash: 12345678'), lib).map((p) => [p.code, p.text]), [['model-unknown', '12345678']]);
    assert.deepStrictEqual(problems(line('Model hash: 1234567890'), lib), []);
    const all = await library({
      [`${SD}/dreamshaper_8.safetensors`]: FULL,
      [`${SD}/v1-5-pruned.safetensors`]: 'b'.repeat(64),
      [`${SD}/xl/juggernaut.safetensors`]: 'c'.repeat(64),
    });
    assert.deepStrictEqual(problems(line('Model hash: 1234567890'), all.lib).map((p) => p.message), [
      'No checkpoint in your models folder has the hash 1234567890: A1111 keeps the model it has loaded, so the image will not be this one.',
    ]);
    assert.deepStrictEqual(problems(line('Model hash: e6e99610c4'), all.lib), []);
  });

  it('no checkpoints folder configured: no model diagnostics at all', async () => {
    const { lib } = await library();
    await lib.catalog.setRoots({ lora: [], embedding: [], hypernet: [] });
    assert.deepStrictEqual(problems(line('Model hash: 12345678, Model: nothing'), lib), []);
  });
});
