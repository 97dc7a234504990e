import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../../../server/src/cli/main';
import { parseLoraSpec } from '../../../server/src/cli/merge';
import { MERGE_MARK } from '../../../server/src/cli/stagedOutput';
import { openModelFolder } from '../../../server/src/render/model/modelFolder';
import { generateTinyPipeline, TINY_SD15 } from '../../../server/src/render/testModel/generateModel';
import { FIXTURES } from '../fixtures';
import { tinyKohyaLora, writeSafetensors } from '../render/loraFiles';

async function merge(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(['merge', ...args], {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    readFile: () => assert.fail('merge reads no prompt'),
    readStdin: () => assert.fail('merge reads no prompt'),
  });
  return { code, stdout, stderr };
}

/** Every path under `folder` with its bytes' length (a before/after picture of a tree). */
function tree(folder: string): string[] {
  return (fs.readdirSync(folder, { recursive: true }) as string[])
    .sort()
    .map((p) => {
      const st = fs.lstatSync(path.join(folder, p));
      return st.isDirectory() ? `${p}/` : `${p} ${st.size}`;
    });
}

describe('sd-prompt merge', function () {
  this.timeout(60000);
  // P holds the model, a LoRA and the user's own notes: the folder --force once deleted whole.
  let P: string;
  let model: string;
  let lora: string;
  let untouched: string[];
  const source = () => tree(P);

  before(() => {
    P = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'sd-cli-merge-')));
    model = path.join(P, 'model');
    fs.mkdirSync(model);
    generateTinyPipeline(model, { ...TINY_SD15, tokenizerFrom: path.join(FIXTURES, 'clip') });
    lora = path.join(P, 'style.safetensors');
    writeSafetensors(lora, tinyKohyaLora());
    fs.writeFileSync(path.join(P, 'notes.txt'), 'my notes');
    untouched = source();
  });
  after(() => fs.rmSync(P, { recursive: true, force: true }));
  afterEach(() => assert.deepStrictEqual(source(), untouched, 'the model folder, the LoRA and the notes are untouched'));

  it('--out a parent of the model with --force is refused, and nothing is deleted (it deleted all of P)', async () => {
    const r = await merge('--model', model, '--lora', lora, '--out', P, '--force');
    assert.deepStrictEqual([r.code, r.stdout, r.stderr], [1, '', `sd-prompt: --out ${P} contains the model folder ${model}: a merge never replaces a folder its model is in; choose another folder\n`]);
  });

  it('--out through a symbolic link, inside the model, or / is refused', async () => {
    const links = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-cli-links-'));
    try {
      fs.symlinkSync(P, path.join(links, 'toP'));
      fs.symlinkSync(model, path.join(links, 'toModel'));
      const viaLink = await merge('--model', model, '--lora', lora, '--out', path.join(links, 'toP'), '--force');
      assert.deepStrictEqual([viaLink.code, viaLink.stderr], [1, `sd-prompt: --out ${path.join(links, 'toP')} contains the model folder ${model}: a merge never replaces a folder its model is in; choose another folder\n`]);
      const inside = await merge('--model', model, '--lora', lora, '--out', path.join(links, 'toModel', 'merged'));
      assert.deepStrictEqual([inside.code, inside.stderr], [1, `sd-prompt: --out ${path.join(links, 'toModel', 'merged')} is inside the model folder ${model}: choose another folder (the source is never written)\n`]);
      const root = await merge('--model', model, '--lora', lora, '--out', '/', '--force');
      assert.deepStrictEqual([root.code, root.stderr], [1, 'sd-prompt: --out / is the root folder: a merge writes a new folder of its own\n']);
    } finally {
      fs.rmSync(links, { recursive: true, force: true });
    }
  });

  it('--force replaces only a folder an earlier merge wrote: an unrelated folder or a file is refused untouched', async () => {
    const outs = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-cli-outs-'));
    try {
      const unrelated = path.join(outs, 'photos');
      fs.mkdirSync(unrelated);
      fs.writeFileSync(path.join(unrelated, 'a.jpg'), 'jpeg');
      const r = await merge('--model', model, '--lora', lora, '--out', unrelated, '--force');
      assert.deepStrictEqual(
        [r.code, r.stderr],
        [1, `sd-prompt: ${unrelated} was not written by sd-prompt merge (it has no ${MERGE_MARK}): --force replaces only an earlier merge's output. Choose a new folder, or remove this one yourself.\n`],
      );
      const file = path.join(outs, 'a.jpg');
      fs.writeFileSync(file, 'jpeg');
      const onFile = await merge('--model', model, '--lora', lora, '--out', file, '--force');
      assert.deepStrictEqual([onFile.code, onFile.stderr], [1, `sd-prompt: --out ${file} exists and is not a folder: choose a new folder name\n`]);
      assert.deepStrictEqual(tree(outs), ['a.jpg 4', 'photos/', 'photos/a.jpg 4']);
    } finally {
      fs.rmSync(outs, { recursive: true, force: true });
    }
  });

  it('writes a complete folder with the merge marked; without --force an existing one stays; with it an earlier merge is replaced', async () => {
    const outs = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-cli-outs-'));
    try {
      const out = path.join(outs, 'merged');
      const first = await merge('--model', model, '--lora', `${lora}:0.5:0.25`, '--out', out);
      assert.deepStrictEqual([first.code, first.stderr], [0, '']);
      assert.strictEqual(first.stdout, `style (te 0.5, unet 0.25): 2 modules merged, 0 unmatched, 0 of the wrong shape\nwrote ${out}\n`);
      assert.strictEqual(openModelFolder(out).unet, path.join(out, 'unet', 'model.onnx'));
      assert.deepStrictEqual(JSON.parse(fs.readFileSync(path.join(out, MERGE_MARK), 'utf8')), {
        writtenBy: 'sd-prompt merge',
        source: model,
        loras: [{ name: 'style', file: lora, te: 0.5, unet: 0.25, matched: 2 }],
      });
      // Only the final folder is left: the staging folder was renamed into place.
      assert.deepStrictEqual(fs.readdirSync(outs), ['merged']);

      const again = await merge('--model', model, '--lora', lora, '--out', out);
      assert.deepStrictEqual([again.code, again.stderr], [1, `sd-prompt: ${out} already exists: pass --force to replace it (--force replaces only a folder an earlier merge wrote)\n`]);

      fs.writeFileSync(path.join(out, 'left-over.txt'), 'x');
      const replaced = await merge('--model', model, '--lora', lora, '--out', out, '--force', '--json');
      assert.strictEqual(replaced.code, 0);
      assert.deepStrictEqual(JSON.parse(replaced.stdout), {
        out,
        loras: [{ name: 'style', file: lora, te: 1, unet: 1, matched: 2, unmatched: [], mismatched: [] }],
      });
      assert.strictEqual(fs.existsSync(path.join(out, 'left-over.txt')), false);
      assert.strictEqual(JSON.parse(fs.readFileSync(path.join(out, MERGE_MARK), 'utf8')).loras[0].te, 1);
      assert.deepStrictEqual(fs.readdirSync(outs), ['merged']);

      // Nor the folder the user is in.
      const cwd = process.cwd();
      process.chdir(out);
      try {
        const inIt = await merge('--model', model, '--lora', lora, '--out', out, '--force');
        assert.deepStrictEqual([inIt.code, inIt.stderr], [1, `sd-prompt: --out ${out} contains the current folder: run the merge from outside it\n`]);
      } finally {
        process.chdir(cwd);
      }

      // An empty folder (made beforehand) takes a merge without --force: nothing in it to lose.
      fs.mkdirSync(path.join(outs, 'empty'));
      assert.strictEqual((await merge('--model', model, '--lora', lora, '--out', path.join(outs, 'empty'))).code, 0);
      assert.ok(fs.existsSync(path.join(outs, 'empty', MERGE_MARK)));

      // A folder that holds one of the LoRAs is never replaced, mark or not.
      fs.copyFileSync(lora, path.join(out, 'mine.safetensors'));
      const holding = await merge('--model', model, '--lora', path.join(out, 'mine.safetensors'), '--out', out, '--force');
      assert.deepStrictEqual([holding.code, holding.stderr], [1, `sd-prompt: --out ${out} contains the LoRA ${path.join(out, 'mine.safetensors')}: choose another folder\n`]);
    } finally {
      fs.rmSync(outs, { recursive: true, force: true });
    }
  });

  it('a model folder without a tokenizer merges (a merge needs none): the output has what the source has', async () => {
    const outs = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-cli-outs-'));
    try {
      const bare = path.join(outs, 'bare');
      fs.cpSync(model, bare, { recursive: true });
      fs.rmSync(path.join(bare, 'tokenizer'), { recursive: true });
      const out = path.join(outs, 'merged');
      const r = await merge('--model', bare, '--lora', lora, '--out', out);
      assert.deepStrictEqual([r.code, r.stderr], [0, '']);
      const names = (dir: string) => tree(dir).map((p) => p.split(' ')[0]);
      // The merged graphs gain their `.lora.bin`; everything else is the source's.
      assert.deepStrictEqual(names(out), [...names(bare), MERGE_MARK, 'text_encoder/model.onnx.lora.bin', 'unet/model.onnx.lora.bin'].sort());
    } finally {
      fs.rmSync(outs, { recursive: true, force: true });
    }
  });

  it('a LoRA that cannot be merged fails the merge: exit 1, its error and code shown, no output and no folders left', async () => {
    const outs = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-cli-outs-'));
    try {
      const broken = tinyKohyaLora();
      const up = 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight';
      broken[up].data[3] = NaN;
      const nan = path.join(outs, 'nan.safetensors');
      writeSafetensors(nan, broken);
      const out = path.join(outs, 'new', 'deeper', 'merged');
      const r = await merge('--model', model, '--lora', lora, '--lora', nan, '--out', out);
      assert.strictEqual(r.code, 1);
      const lines = r.stdout.split('\n');
      assert.strictEqual(lines[0], 'style (te 1, unet 1): 2 modules merged, 0 unmatched, 0 of the wrong shape');
      assert.match(lines[1], /^nan: not merged \(lora-merge-nonfinite\): .*down_blocks[._]0/);
      assert.strictEqual(r.stderr, `sd-prompt: merge failed: nan could not be merged; nothing was written to ${out}\n`);
      const json = await merge('--model', model, '--lora', nan, '--out', out, '--json');
      assert.deepStrictEqual([json.code, JSON.parse(json.stdout).out, JSON.parse(json.stdout).loras[0].code], [1, null, 'lora-merge-nonfinite']);
      // Not even the parent folders made for it are left.
      assert.deepStrictEqual(fs.readdirSync(outs), ['nan.safetensors']);
    } finally {
      fs.rmSync(outs, { recursive: true, force: true });
    }
  });

  it('an output that cannot be written is found before the work (the LoRA is not even read), with a clear message', async () => {
    const out = path.join(P, 'notes.txt', 'merged');
    const r = await merge('--model', model, '--lora', path.join(P, 'no-such.safetensors'), '--out', out);
    assert.deepStrictEqual(
      [r.code, r.stdout, r.stderr],
      [1, '', `sd-prompt: cannot write --out ${out}: ${path.join(P, 'notes.txt')} is a file, not a folder\n`],
    );
  });

  it('staging left by a killed merge (its process gone) is removed by the next merge to that folder', async () => {
    const outs = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-cli-outs-'));
    try {
      // No process has pid 2^22+1 (above Linux's pid_max limit).
      const stale = path.join(outs, '.merged.sd-prompt-4194305-abcdef');
      fs.mkdirSync(stale);
      fs.writeFileSync(path.join(stale, 'half.bin'), 'x');
      const r = await merge('--model', model, '--lora', lora, '--out', path.join(outs, 'merged'));
      assert.strictEqual(r.code, 0);
      assert.deepStrictEqual(fs.readdirSync(outs), ['merged']);
    } finally {
      fs.rmSync(outs, { recursive: true, force: true });
    }
  });

  it('--lora FILE:TE:UNET:DYN merges only the first DYN ranks, as the LoRA cut to those ranks merges', async () => {
    const outs = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-cli-dyn-'));
    try {
      // The rank-2 LoRA cut to rank 1: down's first row, up's first column (no alpha, so the scale stays 1).
      const cut = Object.fromEntries(
        Object.entries(tinyKohyaLora()).map(([key, t]) =>
          key.endsWith('lora_down.weight') ? [key, { dims: [1, t.dims[1]], data: t.data.slice(0, t.dims[1]) }] : [key, { dims: [t.dims[0], 1], data: t.data.filter((_, i) => i % 2 === 0) }],
        ),
      );
      const cutFile = path.join(outs, 'cut.safetensors');
      writeSafetensors(cutFile, cut);
      const dyn = await merge('--model', model, '--lora', `${lora}:0.5:0.75:1`, '--out', path.join(outs, 'dyn'), '--json');
      const shown = await merge('--model', model, '--lora', `${lora}:0.5:0.75:1`, '--out', path.join(outs, 'shown'));
      const byCut = await merge('--model', model, '--lora', `${cutFile}:0.5:0.75`, '--out', path.join(outs, 'cut'));
      const full = await merge('--model', model, '--lora', `${lora}:0.5:0.75`, '--out', path.join(outs, 'full'));
      assert.deepStrictEqual([dyn.code, byCut.code, full.code, dyn.stderr], [0, 0, 0, '']);
      assert.deepStrictEqual(JSON.parse(dyn.stdout).loras, [{ name: 'style', file: lora, te: 0.5, unet: 0.75, dyn: 1, matched: 2, unmatched: [], mismatched: [] }]);
      assert.strictEqual(shown.stdout, `style (te 0.5, unet 0.75, dyn 1): 2 modules merged, 0 unmatched, 0 of the wrong shape\nwrote ${path.join(outs, 'shown')}\n`);
      // The mark says what went in, dyn included.
      assert.deepStrictEqual(JSON.parse(fs.readFileSync(path.join(outs, 'dyn', MERGE_MARK), 'utf8')).loras, [{ name: 'style', file: lora, te: 0.5, unet: 0.75, dyn: 1, matched: 2 }]);
      const weights = (out: string) => ['text_encoder', 'unet'].map((g) => fs.readFileSync(path.join(outs, out, g, 'model.onnx.lora.bin')));
      const [dynTe, dynUnet] = weights('dyn');
      const [cutTe, cutUnet] = weights('cut');
      const [fullTe, fullUnet] = weights('full');
      assert.ok(dynTe.equals(cutTe) && dynUnet.equals(cutUnet), 'dyn 1 = the LoRA cut to rank 1');
      assert.ok(!dynTe.equals(fullTe) && !dynUnet.equals(fullUnet), 'dyn 1 differs from all ranks');
    } finally {
      fs.rmSync(outs, { recursive: true, force: true });
    }
  });

  it('--lora FILE[:TE[:UNET[:DYN]]] reads its numbers from the right; DYN must be a whole number as A1111 reads it', () => {
    const file = path.resolve('a:b.safetensors');
    assert.deepStrictEqual(parseLoraSpec('a:b.safetensors'), { name: 'a:b', path: file, te: 1, unet: 1 });
    assert.deepStrictEqual(parseLoraSpec('a:b.safetensors:0.5'), { name: 'a:b', path: file, te: 0.5, unet: 0.5 });
    assert.deepStrictEqual(parseLoraSpec('a:b.safetensors:0.5:0.25'), { name: 'a:b', path: file, te: 0.5, unet: 0.25 });
    assert.deepStrictEqual(parseLoraSpec('a:b.safetensors:0.5:0.25:8'), { name: 'a:b', path: file, te: 0.5, unet: 0.25, dyn: 8 });
    // Three numbers at most: a fourth from the right is part of the path.
    assert.deepStrictEqual(parseLoraSpec('7:1:2:3'), { name: '7', path: path.resolve('7'), te: 1, unet: 2, dyn: 3 });
    assert.throws(() => parseLoraSpec('x.safetensors:1:1:8.0'), { message: "--lora 'x.safetensors:1:1:8.0': DYN must be a whole number of ranks, not '8.0'" });
  });

  it('bad usage exits 2', async () => {
    for (const args of [[], ['--model', model, '--out', 'x'], ['--model', model, '--lora', lora], ['--lora', lora, '--out', 'x'], ['--model', model, '--lora', lora, '--out', 'x', '--bogus'], ['--model', model, '--lora', lora, '--out', 'x.safetensors']]) {
      assert.strictEqual((await merge(...args)).code, 2, args.join(' '));
    }
  });
});
