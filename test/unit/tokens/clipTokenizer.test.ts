import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { MemoryFileSystem } from '../../../server/src/service/library/memoryFileSystem';
import { ApproximateTokenizer, ClipTokenizer, forEachPreToken } from '../../../server/src/service/tokens/clipTokenizer';
import { findTokenizerFiles, loadTokenizer } from '../../../server/src/service/tokens/tokenizerFiles';
import { clipTokenizerOnce } from './clipTokenizerOnce';

import { FIXTURES as fixtures } from '../fixtures';
const clipDir = path.join(fixtures, 'clip');
const haveFixtures = fs.existsSync(path.join(clipDir, 'vocab.json')) && fs.existsSync(path.join(clipDir, 'merges.txt'));

interface ReferenceCase {
  prompt: string;
  note: string;
  pretokens?: string[];
  bpe_tokens?: string[];
  ids: number[];
  ids_with_bos_eos: number[];
  decoded: string;
}

describe('CLIP tokenizer', function () {
  // Reading the real vocabulary and merges takes seconds on a busy machine; this is no speed test.
  this.timeout(30_000);
  let clip: ClipTokenizer;
  let vocabText = '';
  let mergesText = '';

  before(function () {
    if (!haveFixtures) {
      console.warn(`    (skipped: the CLIP fixtures are absent at ${clipDir})`);
      this.skip();
    }
    vocabText = fs.readFileSync(path.join(clipDir, 'vocab.json'), 'utf8');
    mergesText = fs.readFileSync(path.join(clipDir, 'merges.txt'), 'utf8');
    const built = clipTokenizerOnce(vocabText, mergesText);
    assert.ok('tokenizer' in built, 'problem' in built ? built.problem : '');
    clip = built.tokenizer;
  });

  describe('reference_tokens.json (OpenAI simple_tokenizer, ftfy → NFC)', () => {
    const cases: ReferenceCase[] = haveFixtures
      ? JSON.parse(fs.readFileSync(path.join(clipDir, 'reference_tokens.json'), 'utf8')).cases
      : [];
    for (const c of cases) {
      it(`${JSON.stringify(c.prompt).slice(0, 60)} (${c.note.slice(0, 40)})`, () => {
        assert.deepStrictEqual(clip.encode(c.prompt), c.ids);
        assert.deepStrictEqual([clip.bosId, ...clip.encode(c.prompt), clip.eosId], c.ids_with_bos_eos);
        if (c.pretokens) {
          const pre: string[] = [];
          forEachPreToken(c.prompt, (token) => pre.push(token));
          assert.deepStrictEqual(pre, c.pretokens);
        }
        if (c.bpe_tokens) {
          const inverse = new Map<number, string>(Object.entries(JSON.parse(vocabText) as Record<string, number>).map(([k, v]) => [v, k]));
          assert.deepStrictEqual(c.ids.map((id) => inverse.get(id)), c.bpe_tokens);
        }
        assert.strictEqual(clip.decode(c.ids), c.decoded);
        // Offsets: one per id, each inside the input.
        const { ids, offsets } = clip.encodeWithOffsets(c.prompt);
        assert.deepStrictEqual(ids, c.ids);
        assert.strictEqual(offsets.length, ids.length);
        for (const [start, end] of offsets) assert.ok(start >= 0 && start < end && end <= c.prompt.length);
      });
    }
  });

  it('special ids, comma id and idOf', () => {
    assert.deepStrictEqual([clip.bosId, clip.eosId, clip.commaId], [49406, 49407, 267]);
    assert.strictEqual(clip.idOf(',</w>'), 267);
    assert.strictEqual(clip.idOf('cat</w>'), 2368);
    assert.strictEqual(clip.idOf('no such token'), undefined);
    assert.strictEqual(clip.approximate, false);
    assert.deepStrictEqual(clip.encode(','), [267]);
  });

  it('merges are read as OpenAI and HF slice them: merges[1:48895], 48,894 pairs, 49,408 ids', () => {
    const lines = mergesText.split('\n');
    assert.strictEqual(lines[0], '#version: 0.2');
    assert.strictEqual(lines.slice(1, 49152 - 256 - 2 + 1).filter((l) => l.length > 0).length, 48894);
    assert.strictEqual(Object.keys(JSON.parse(vocabText)).length, 256 + 256 + 48894 + 2);
    // The file's last merge (`jeky ll</w>`, id 512 + 48,893) is read: 'jekyll' is one token.
    assert.deepStrictEqual(clip.encode('jekyll'), [49405]);
    assert.strictEqual(clip.idOf('jekyll</w>'), 49405);
  });

  it('offsets: emphasis syntax, one range per pre-token', () => {
    const text = 'a photo, (cat:1.2)';
    const { ids, offsets } = clip.encodeWithOffsets(text);
    assert.deepStrictEqual(ids, [320, 1125, 267, 263, 2368, 281, 272, 269, 273, 264]);
    assert.deepStrictEqual(offsets, [[0, 1], [2, 7], [7, 8], [9, 10], [10, 13], [13, 14], [14, 15], [15, 16], [16, 17], [17, 18]]);
  });

  it('offsets: every id of a multi-token word gets the whole word', () => {
    const { ids, offsets } = clip.encodeWithOffsets('supercalifragilisticexpialidocious!');
    assert.deepStrictEqual(ids, [1642, 2857, 13093, 2076, 5868, 26850, 835, 639, 38466, 256]);
    assert.deepStrictEqual(offsets, [...Array<[number, number]>(9).fill([0, 34]), [34, 35]]);
  });

  it('offsets: HTML entities cover their whole original text (unescaped twice, prefix rule kept)', () => {
    const text = 'R&amp;D &amp;amp; &copycat';
    const { ids, offsets } = clip.encodeWithOffsets(text);
    assert.deepStrictEqual(ids, [337, 261, 323, 261, 5811, 2368]);
    assert.deepStrictEqual(offsets.map(([s, e]) => text.slice(s, e)), ['R', '&amp;', 'D', '&amp;amp;', '&copy', 'cat']);
    assert.deepStrictEqual(clip.encodeWithOffsets("&#39;s &#x1F600;").offsets, [[0, 6], [7, 16]]);
  });

  it('offsets: collapsed whitespace, newlines, tabs', () => {
    const text = ' a  cat\n\n\tdog ';
    assert.deepStrictEqual(clip.encodeWithOffsets(text), { ids: [320, 2368, 1929], offsets: [[1, 2], [4, 7], [10, 13]] });
  });

  it('offsets: non-ASCII (NFC composition, CJK, emoji, İ lower-casing to two units)', () => {
    const text = 'cafe\u0301 ☕ 東京 😀';
    const { ids, offsets } = clip.encodeWithOffsets(text);
    assert.deepStrictEqual(ids, [15304, 26561, 48338, 21078, 361, 7334]);
    assert.deepStrictEqual(offsets, [[0, 5], [6, 7], [8, 10], [8, 10], [8, 10], [11, 13]]);
    const turkish = clip.encodeWithOffsets('İstanbul');
    assert.deepStrictEqual(turkish, { ids: [328, 16384, 11231], offsets: [[0, 1], [0, 1], [1, 8]] });
  });

  it('Python details: strip() drops U+001C..U+001F at the ends only; U+0085 is whitespace, U+FEFF is not', () => {
    assert.deepStrictEqual(clip.encodeWithOffsets('\x1c!a\x1f'), { ids: [256, 320], offsets: [[1, 2], [2, 3]] });
    assert.strictEqual(clip.encode('a\x1cb').length, 3);
    assert.deepStrictEqual(clip.encode('a\x85b'), clip.encode('a b'));
    assert.notDeepStrictEqual(clip.encode('a\ufeffb'), clip.encode('a b'));
    // re.IGNORECASE: 'ſ (long s) folds to 's and is one pre-token, as in Python's regex module.
    const pre: string[] = [];
    forEachPreToken("x'ſ", (token) => pre.push(token));
    assert.deepStrictEqual(pre, ['x', "'ſ"]);
  });

  it('never throws: empty, whitespace, lone surrogates, a long run without spaces', () => {
    assert.deepStrictEqual(clip.encode(''), []);
    assert.deepStrictEqual(clip.encode(' \n\t '), []);
    // A lone surrogate has no UTF-8 form: it is read as U+FFFD (as TextEncoder does), not dropped.
    assert.deepStrictEqual(clip.encode('\ud800x\udc00'), [39802, 343, 39802]);
    assert.deepStrictEqual(clip.encode('\ufffdx\ufffd'), [39802, 343, 39802]);
    assert.deepStrictEqual(clip.decode([-5, 1e9, 320]), 'a ');
    const blob = 'ab'.repeat(20000) + '!'.repeat(5000);
    // One 40,000-letter word: 'ab' (596) 19,999 times and 'ab</w>' (3937); 5,000 '!': 312 runs of 16 (30146), then 8 with </w> (21622).
    assert.deepStrictEqual(clip.encode(blob), [...Array(19999).fill(596), 3937, ...Array(312).fill(30146), 21622]);
    // The heap path for long words gives exactly OpenAI's loop result on text it also fits.
    const word = 'supercalifragilisticexpialidocious'.repeat(5);
    const { offsets } = clip.encodeWithOffsets(word);
    assert.ok(offsets.every(([s, e]) => s === 0 && e === word.length));
    assert.strictEqual(clip.decode(clip.encode(word)), word + ' ');
  });

  it('decode round-trips the real prompts (lower-cased, pre-tokens space-separated)', () => {
    const records = JSON.parse(fs.readFileSync(path.join(fixtures, 'prompts/dflip3k_civitai_prompts.json'), 'utf8')).records as { prompt: string }[];
    for (const { prompt } of records) {
      const pre: string[] = [];
      forEachPreToken(prompt, (token) => pre.push(token));
      assert.strictEqual(clip.decode(clip.encode(prompt)), pre.map((t) => t + ' ').join(''));
    }
  });

  it('the approximate tokenizer is within ±25% of the real count on each real prompt of 10+ tokens, ±5% in total', () => {
    const records = JSON.parse(fs.readFileSync(path.join(fixtures, 'prompts/dflip3k_civitai_prompts.json'), 'utf8')).records as {
      prompt: string;
      negative_prompt?: string;
    }[];
    const approx = new ApproximateTokenizer();
    let real = 0;
    let estimated = 0;
    for (const record of records) {
      for (const text of [record.prompt, record.negative_prompt ?? '']) {
        const r = clip.encode(text).length;
        const e = approx.encodeWithOffsets(text);
        real += r;
        estimated += e.ids.length;
        if (r >= 10) assert.ok(Math.abs(e.ids.length - r) <= 0.25 * r, `${e.ids.length} vs ${r} for ${JSON.stringify(text.slice(0, 60))}`);
        // Same pre-split: every estimated token's range is a real pre-token's range.
        const realRanges = new Set(clip.encodeWithOffsets(text).offsets.map(([s, t]) => `${s}:${t}`));
        for (const [s, t] of e.offsets) assert.ok(realRanges.has(`${s}:${t}`));
      }
    }
    assert.ok(Math.abs(estimated - real) <= 0.05 * real, `${estimated} vs ${real}`);
  });
});

describe('approximate tokenizer', () => {
  const approx = new ApproximateTokenizer();
  it('marks itself, knows the comma and specials, uses -1 for the rest', () => {
    assert.strictEqual(approx.approximate, true);
    assert.deepStrictEqual([approx.bosId, approx.eosId, approx.commaId], [49406, 49407, 267]);
    assert.deepStrictEqual(approx.encodeWithOffsets('a cat, masterpiece'), {
      ids: [-1, -1, 267, -1, -1],
      offsets: [[0, 1], [2, 5], [5, 6], [7, 18], [7, 18]],
    });
    assert.deepStrictEqual(approx.encode('<|endoftext|>'), [49407]);
    assert.strictEqual(approx.idOf(',</w>'), 267);
    assert.strictEqual(approx.decode([-1, 267, -1]), ', ');
    assert.deepStrictEqual(approx.encode(''), []);
  });
});

describe('tokenizer files', function () {
  // One test loads the real vocabulary: seconds on a busy machine.
  this.timeout(30_000);
  const home = '/home/u';
  const snapshots = `${home}/.cache/huggingface/hub/models--openai--clip-vit-large-patch14/snapshots`;
  // Tiny but sound tokenizer files: byte tokens + `c a t` merges, so loading is fast and exact.
  function tinyVocab(): string {
    const vocab: Record<string, number> = {};
    let id = 0;
    // Same order as OpenAI: the byte alphabet, then each with </w>, then merges, then specials.
    const chars: string[] = [];
    let n = 0;
    for (let b = 0; b < 256; b++) {
      const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
      chars.push(String.fromCharCode(printable ? b : 256 + n++));
    }
    for (const c of chars) vocab[c] = id++;
    for (const c of chars) vocab[c + '</w>'] = id++;
    vocab['at</w>'] = id++;
    vocab['cat</w>'] = id++;
    vocab['<|startoftext|>'] = id++;
    vocab['<|endoftext|>'] = id++;
    return JSON.stringify(vocab);
  }
  const merges = '#version: 0.2\na t</w>\nc at</w>\n';

  function tree(folders: string[]): MemoryFileSystem {
    const fs = new MemoryFileSystem();
    for (const folder of folders) {
      fs.writeFile(`${folder}/vocab.json`, tinyVocab());
      fs.writeFile(`${folder}/merges.txt`, merges);
    }
    return fs;
  }

  it('sdPrompt.tokenizerPath beats the model folder, which beats the Hugging Face cache', async () => {
    const all = tree(['/tok', '/models/sd15/tokenizer', `${snapshots}/aaa`]);
    const options = { tokenizerPath: '/tok', modelFolder: '/models/sd15', home };
    assert.deepStrictEqual(await findTokenizerFiles(all, options), {
      vocabPath: '/tok/vocab.json',
      mergesPath: '/tok/merges.txt',
      source: 'sdPrompt.tokenizerPath (/tok)',
    });
    all.remove('/tok');
    assert.deepStrictEqual(await findTokenizerFiles(all, options), {
      vocabPath: '/models/sd15/tokenizer/vocab.json',
      mergesPath: '/models/sd15/tokenizer/merges.txt',
      source: 'model folder (/models/sd15/tokenizer)',
    });
    all.remove('/models/sd15/tokenizer/merges.txt');
    const cached = await findTokenizerFiles(all, options);
    assert.deepStrictEqual(cached, {
      vocabPath: `${snapshots}/aaa/vocab.json`,
      mergesPath: `${snapshots}/aaa/merges.txt`,
      source: `Hugging Face cache (${snapshots}/aaa)`,
    });
  });

  it('Hugging Face cache: newest snapshot name first, skipping incomplete ones', async () => {
    const fs = tree([`${snapshots}/111`, `${snapshots}/333`]);
    fs.writeFile(`${snapshots}/999/vocab.json`, tinyVocab());
    fs.writeFile(`${snapshots}/zzz`, 'a file, not a snapshot');
    assert.deepStrictEqual(await findTokenizerFiles(fs, { home }), {
      vocabPath: `${snapshots}/333/vocab.json`,
      mergesPath: `${snapshots}/333/merges.txt`,
      source: `Hugging Face cache (${snapshots}/333)`,
    });
  });

  it('folders written with a trailing slash; what each incomplete place lacks', async () => {
    const fs = new MemoryFileSystem();
    fs.writeFile('/tok/merges.txt', merges);
    fs.writeFile('/models/sd15/tokenizer/vocab.json', tinyVocab());
    fs.mkdir(snapshots);
    assert.deepStrictEqual(await findTokenizerFiles(fs, { tokenizerPath: '/tok/', modelFolder: '/models/sd15//', home: home + '/' }), {
      missing: ['/tok (no vocab.json)', '/models/sd15/tokenizer (no merges.txt)', `${snapshots} (no snapshot)`],
    });
    fs.writeFile('/tok/vocab.json', tinyVocab());
    assert.deepStrictEqual(await findTokenizerFiles(fs, { tokenizerPath: '/tok//' }), {
      vocabPath: '/tok/vocab.json',
      mergesPath: '/tok/merges.txt',
      source: 'sdPrompt.tokenizerPath (/tok)',
    });
  });

  it('nothing found: every place looked at is listed, and the approximate tokenizer says so', async () => {
    const fs = new MemoryFileSystem();
    fs.writeFile('/tok/vocab.json', tinyVocab());
    const options = { tokenizerPath: '/tok', modelFolder: '/models/x', home };
    assert.deepStrictEqual(await findTokenizerFiles(fs, options), {
      missing: ['/tok (no merges.txt)', '/models/x/tokenizer (no vocab.json or merges.txt)', `${snapshots} (no such folder)`],
    });
    const loaded = await loadTokenizer(fs, options);
    assert.strictEqual(loaded.tokenizer.approximate, true);
    assert.match(loaded.problem ?? '', /No CLIP tokenizer .*\/tok \(no merges\.txt\).*\/models\/x\/tokenizer.*snapshots \(no such folder\)/);
    assert.deepStrictEqual(await findTokenizerFiles(new MemoryFileSystem(), {}), {
      missing: ['no place to look: sdPrompt.tokenizerPath, sdPrompt.model and the home folder are all unset'],
    });
  });

  it('loads sound files exactly; broken ones give the approximate tokenizer and name the file', async () => {
    const good = await loadTokenizer(tree(['/tok']), { tokenizerPath: '/tok' });
    assert.strictEqual(good.tokenizer.approximate, false);
    assert.strictEqual(good.problem, undefined);
    assert.strictEqual(good.source, 'sdPrompt.tokenizerPath (/tok)');
    assert.deepStrictEqual(good.tokenizer.encode('cat at'), [513, 512]);

    const brokenJson = tree(['/tok']);
    brokenJson.writeFile('/tok/vocab.json', '{"a": 1,');
    const a = await loadTokenizer(brokenJson, { tokenizerPath: '/tok' });
    assert.strictEqual(a.tokenizer.approximate, true);
    assert.match(a.problem ?? '', /^\/tok\/vocab\.json: is not valid JSON/);

    const notVocab = tree(['/tok']);
    notVocab.writeFile('/tok/vocab.json', '{"a": 1}');
    assert.match((await loadTokenizer(notVocab, { tokenizerPath: '/tok' })).problem ?? '', /^\/tok\/vocab\.json: lacks the byte token/);

    const emptyMerges = tree(['/tok']);
    emptyMerges.writeFile('/tok/merges.txt', '#version: 0.2\n');
    assert.match((await loadTokenizer(emptyMerges, { tokenizerPath: '/tok' })).problem ?? '', /^\/tok\/merges\.txt: has no merges/);

    const unreadable = tree(['/tok']);
    unreadable.setUnreadable('/tok/merges.txt');
    const u = await loadTokenizer(unreadable, { tokenizerPath: '/tok' });
    assert.strictEqual(u.tokenizer.approximate, true);
    assert.match(u.problem ?? '', /^\/tok\/merges\.txt cannot be read: EACCES/);
    assert.strictEqual(u.source, 'approximate (no CLIP tokenizer files)');

    const unreadableVocab = tree(['/tok']);
    unreadableVocab.setUnreadable('/tok/vocab.json');
    assert.match((await loadTokenizer(unreadableVocab, { tokenizerPath: '/tok' })).problem ?? '', /^\/tok\/vocab\.json cannot be read: EACCES/);
  });

  it('the real files load from a model folder', async function () {
    if (!haveFixtures) this.skip();
    const fs = new MemoryFileSystem();
    fs.writeFile('/m/tokenizer/vocab.json', fs_read('vocab.json'));
    fs.writeFile('/m/tokenizer/merges.txt', fs_read('merges.txt'));
    const loaded = await loadTokenizer(fs, { modelFolder: '/m' });
    assert.strictEqual(loaded.tokenizer.approximate, false);
    assert.deepStrictEqual(loaded.tokenizer.encode('a photo of a cat'), [320, 1125, 539, 320, 2368]);
  });
});

function fs_read(name: string): string {
  return fs.readFileSync(path.join(clipDir, name), 'utf8');
}
