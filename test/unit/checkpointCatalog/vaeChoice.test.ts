import * as assert from 'assert';
import { findProblems } from '../../../server/src/service/features/diagnostics';
import { checkpointList } from '../../../server/src/service/features/checkpointList';
import { PromptLibrary } from '../../../server/src/service/library';
import { CatalogEntry, LoraCatalog, ModelFileDetails } from '../../../server/src/service/library/catalog';
import { MemoryFileSystem } from '../../../server/src/service/library/memoryFileSystem';
import { chooseVae, vaeEntries } from '../../../server/src/service/library/vae';
import { DEFAULT_SETTINGS } from '../../../server/src/service/settings';
import { parsePromptDocument } from '../../../server/src/service/syntax/document';

/**
 * The VAE as A1111 picks it (modules/sd_vae.py resolve_vae with its default "SD VAE overrides per-model
 * preferences", the pasted `VAE` overriding the SD VAE setting): the file's VAE hash / VAE, then sdPrompt.vae, then
 * Automatic (a VAE named after the checkpoint), and a name the webui lacks (A1111: "using None instead").
 */

const SD = '/webui/models/Stable-diffusion';
const VAE = '/webui/models/VAE';
const MSE = `${VAE}/vae-ft-mse-840000-ema-pruned.safetensors`;
const KL = `${VAE}/sub/kl-f8-anime2.safetensors`;
const SIDE = `${SD}/anything-v3.vae.safetensors`;
const MSE_SHA = 'c6a580b13a' + '5'.repeat(54);

async function library(sha256s: Record<string, string> = {}) {
  const fs = new MemoryFileSystem();
  for (const f of [`${SD}/dreamshaper_8.safetensors`, `${SD}/anything-v3.safetensors`, SIDE, MSE, KL]) fs.writeFile(f, '');
  const catalog = new LoraCatalog(fs, async (): Promise<{ model: ModelFileDetails }> => ({ model: { family: 'sd1', renderable: true, dtype: 'F16', legacyHash: '00000000' } }));
  await catalog.setRoots({ lora: [], embedding: [], hypernet: [], checkpoint: [SD], vae: [VAE] });
  const lib: PromptLibrary = {
    catalog,
    modelBase: 'unknown',
    card: () => undefined,
    loadCard: async () => undefined,
    problem: () => undefined,
    sha256: (entry: CatalogEntry) => sha256s[entry.path],
  };
  return lib;
}

const line = (params: string) => `a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, Model: dreamshaper_8${params}`;

describe('the VAE a render decodes with, as A1111 picks it', () => {
  it('the file\'s VAE hash, then VAE, then sdPrompt.vae, then Automatic; None is the checkpoint\'s own', async () => {
    const lib = await library({ [MSE]: MSE_SHA });
    const entries = vaeEntries(lib.catalog.list('vae'), lib.catalog.list('checkpoint'));
    const sha = (e: CatalogEntry) => lib.sha256!(e, false);
    const dreamshaper = `${SD}/dreamshaper_8.safetensors`;
    assert.deepStrictEqual(chooseVae(entries, { vaeHash: 'C6A580B13A', vae: 'kl-f8-anime2.safetensors', setting: 'None' }, sha), { file: MSE, by: 'VAE hash' });
    assert.deepStrictEqual(chooseVae(entries, { vaeHash: '0123456789', vae: 'kl-f8-anime2.safetensors', setting: 'None' }, sha), { file: KL, by: 'VAE' });
    assert.deepStrictEqual(chooseVae(entries, { vae: 'None', setting: 'vae-ft-mse-840000-ema-pruned.safetensors' }, sha), { file: null, by: 'VAE' });
    assert.deepStrictEqual(chooseVae(entries, { setting: 'vae-ft-mse-840000-ema-pruned.safetensors' }, sha), { file: MSE, by: 'sdPrompt.vae' });
    assert.deepStrictEqual(chooseVae(entries, { setting: '/elsewhere/my.vae.safetensors' }, sha), { file: '/elsewhere/my.vae.safetensors', by: 'sdPrompt.vae' });
    assert.deepStrictEqual(chooseVae(entries, { setting: 'None', checkpoint: `${SD}/anything-v3.safetensors` }, sha), { file: null, by: 'sdPrompt.vae' });
    // A pasted `VAE: Automatic` is Automatic whatever the setting says: a models/VAE file named after the checkpoint.
    assert.deepStrictEqual(chooseVae(entries, { vae: 'Automatic', setting: 'None', checkpoint: `${SD}/kl-f8.safetensors` }, sha), { file: KL, by: 'near the checkpoint' });
    assert.deepStrictEqual(chooseVae(entries, { setting: '', checkpoint: dreamshaper }, sha), { by: 'Automatic' });
    // A name the webui lacks: A1111 prints "Couldn't find VAE named ...; using None instead".
    assert.deepStrictEqual(chooseVae(entries, { vae: 'vae-ft-ema.safetensors', setting: 'vae-ft-mse-840000-ema-pruned.safetensors' }, sha), {
      file: null,
      by: 'VAE',
      unknown: { by: 'VAE', name: 'vae-ft-ema.safetensors' },
    });
  });

  it('the checkpoint list carries the choice for Render Preview (chosenVae), absent where Automatic finds nothing', async () => {
    const lib = await library();
    const list = (text: string, setting = '') => checkpointList(lib, [SD], parsePromptDocument(text), setting).chosenVae;
    assert.deepStrictEqual(list(line(', VAE: vae-ft-mse-840000-ema-pruned.safetensors')), { path: MSE, by: 'VAE' });
    assert.deepStrictEqual(list(line(''), 'kl-f8-anime2.safetensors'), { path: KL, by: 'sdPrompt.vae' });
    assert.strictEqual(list(line('')), undefined);
    // Automatic with a sidecar beside the checkpoint: the render's engine finds NAME.vae.safetensors itself.
    assert.strictEqual(list(line('').replace('dreamshaper_8', 'anything-v3')), undefined);
    assert.deepStrictEqual(list(line(', VAE: anything-v3.vae.safetensors')), { path: SIDE, by: 'VAE' });
    assert.deepStrictEqual(list(line(', VAE: None'), 'kl-f8-anime2.safetensors'), { path: null, by: 'VAE' });
  });

  it('without a webui VAE folder, the file\'s VAE: name is not looked up (no "using None"): the setting and Automatic decide', async () => {
    const fs = new MemoryFileSystem();
    fs.writeFile(`${SD}/dreamshaper_8.safetensors`, '');
    const catalog = new LoraCatalog(fs, async (): Promise<{ model: ModelFileDetails }> => ({ model: { family: 'sd1', renderable: true, dtype: 'F16', legacyHash: '00000000' } }));
    await catalog.setRoots({ lora: [], embedding: [], hypernet: [], checkpoint: [SD] });
    const lib: PromptLibrary = { catalog, modelBase: 'unknown', card: () => undefined, loadCard: async () => undefined, problem: () => undefined, sha256: () => undefined };
    const text = line(', VAE: vae-ft-mse-840000-ema-pruned.safetensors');
    assert.strictEqual(checkpointList(lib, [SD], parsePromptDocument(text)).chosenVae, undefined);
    assert.deepStrictEqual(checkpointList(lib, [SD], parsePromptDocument(text), '/vaes/mine.safetensors').chosenVae, { path: '/vaes/mine.safetensors', by: 'sdPrompt.vae' });
    assert.deepStrictEqual(findProblems(parsePromptDocument(text), DEFAULT_SETTINGS, lib).filter((p) => p.code === 'vae-unknown'), []);
  });

  it('vae-unknown on a VAE: the folder lacks, with did-you-mean and its fix; known names, None and a known hash say nothing', async () => {
    const lib = await library({ [MSE]: MSE_SHA });
    const problems = (text: string) =>
      findProblems(parsePromptDocument(text), DEFAULT_SETTINGS, lib)
        .filter((p) => p.code === 'vae-unknown')
        .map((p) => ({ text: text.slice(p.span.start, p.span.end), message: p.message, fixes: p.fixes?.map((f) => [f.title, f.edits.map((e) => e.newText)]) }));
    const text = line(', VAE: vae-ft-mse-84000-ema-pruned.safetensors');
    assert.deepStrictEqual(problems(text), [
      {
        text: 'vae-ft-mse-84000-ema-pruned.safetensors',
        message:
          "No VAE 'vae-ft-mse-84000-ema-pruned.safetensors' in your models/VAE folder: A1111 then decodes with the checkpoint's own VAE, so the image will not be this one. Did you mean 'vae-ft-mse-840000-ema-pruned.safetensors'?",
        fixes: [["Change to 'vae-ft-mse-840000-ema-pruned.safetensors'", ['vae-ft-mse-840000-ema-pruned.safetensors']]],
      },
    ]);
    assert.deepStrictEqual(problems(line(', VAE: kl-f8-anime2.safetensors')), []);
    assert.deepStrictEqual(problems(line(', VAE: anything-v3.vae.safetensors')), []);
    assert.deepStrictEqual(problems(line(', VAE: None')), []);
    assert.deepStrictEqual(problems(line(', VAE hash: c6a580b13a, VAE: renamed.safetensors')), []);
    assert.deepStrictEqual(problems(line(', VAE: nothing-like-it.pt')).map((p) => p.fixes), [undefined]);
  });
});
