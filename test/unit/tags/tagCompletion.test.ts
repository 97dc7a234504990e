import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { CompletionItem, TextEdit } from 'vscode-languageserver-types';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { createPromptLanguageService, DEFAULT_SETTINGS } from '../../../server/src/service';
import { MAX_TAG_ITEMS } from '../../../server/src/service/features/tagCompletion';
import { parseTagCsv, TagRecord } from '../../../server/src/service/tags/tagCsv';
import { TagIndex } from '../../../server/src/service/tags/tagIndex';
import { FIXTURES } from '../fixtures';

const list = (name: string) => ({ path: `/webui/tags/${name}`, tags: parseTagCsv(fs.readFileSync(path.join(FIXTURES, 'tags', name), 'utf8'), name).tags });
const ahri: TagRecord = { name: 'ahri_(league_of_legends)', category: 4, postCount: 4127, aliases: ['ahri'] };
const index = TagIndex.build([list('danbooru.csv'), list('e621.csv'), list('extra-quality-tags.csv'), { path: '/mine.csv', tags: [ahri] }]);
const service = createPromptLanguageService({ tags: () => index });
let version = 0;

/** Completion with the cursor at `|` in `text`; the text each item's edit replaces, and the edit. */
async function complete(textWithCursor: string) {
  const at = textWithCursor.indexOf('|');
  const text = textWithCursor.slice(0, at) + textWithCursor.slice(at + 1);
  const doc = TextDocument.create(`file:///t${++version}.prompt`, 'sd-prompt', 1, text);
  const list = await service.completion(doc, doc.positionAt(at), DEFAULT_SETTINGS);
  const replaced = (item: CompletionItem) => {
    const edit = item.textEdit as TextEdit;
    return text.slice(doc.offsetAt(edit.range.start), doc.offsetAt(edit.range.end));
  };
  return { list, labels: list.items.map((i) => i.label), replaced, item: (label: string) => list.items.find((i) => i.label === label)! };
}

describe('tag completion', () => {
  it('offers the tags the word starts, most posts first, with category and count', async () => {
    const { list, labels, item, replaced } = await complete('masterpiece, lo|');
    assert.deepStrictEqual(labels, ['long hair', 'looking at viewer', 'long sleeves', 'low quality']);
    assert.strictEqual(list.isIncomplete, true);
    const longHair = item('long hair');
    assert.strictEqual(longHair.detail, 'general · 4.4M');
    assert.deepStrictEqual(longHair.labelDetails, { description: 'general · 4.4M' });
    assert.strictEqual((longHair.textEdit as TextEdit).newText, 'long hair');
    assert.strictEqual(replaced(longHair), 'lo');
    assert.strictEqual(longHair.documentation, 'long_hair — 4,350,743 posts\nAliases: /lh, longhair\nFrom danbooru.csv');
    // An extra list's note stands where a count would.
    assert.strictEqual(item('low quality').detail, 'meta · Quality tag');
  });

  it('inserts as tagcomplete does: underscores as spaces, brackets escaped', async () => {
    const { item, replaced } = await complete('1girl, ahri_(l|');
    const it = item('ahri \\(league of legends\\)');
    assert.strictEqual((it.textEdit as TextEdit).newText, 'ahri \\(league of legends\\)');
    assert.strictEqual(replaced(it), 'ahri_(l');
    assert.strictEqual(it.detail, 'character · 4.1K');
    // Typed with spaces and the escape the tag will end with: the same tag, the whole typed text replaced.
    const escaped = await complete('1girl, ahri \\(lea|');
    assert.strictEqual(escaped.replaced(escaped.item('ahri \\(league of legends\\)')), 'ahri \\(lea');
    assert.strictEqual(escaped.item('ahri \\(league of legends\\)').filterText, 'ahri \\(league_of_legends)');
  });

  it('shows the alias that matched as alias → tag and inserts the tag', async () => {
    const { labels, item, replaced } = await complete('a, sole_f|');
    assert.deepStrictEqual(labels, ['1girl']);
    const girl = item('1girl');
    assert.strictEqual(girl.detail, 'sole_female → 1girl · general · 6.0M');
    assert.strictEqual((girl.textEdit as TextEdit).newText, '1girl');
    assert.strictEqual(girl.filterText, 'sole_female');
    assert.strictEqual(replaced(girl), 'sole_f');
  });

  it('names e621 categories by its own scheme', async () => {
    const { item } = await complete('can|');
    assert.strictEqual(item('canid').detail, 'species · 1.3M');
    assert.strictEqual((await complete('hi_r|')).item('hi res').detail, 'meta · 3.1M');
  });

  it('takes several words when a tag starts with all of them, else the last ones', async () => {
    const long = await complete('1girl, looking at v|');
    assert.deepStrictEqual(long.labels, ['looking at viewer']);
    assert.strictEqual(long.replaced(long.list.items[0]), 'looking at v');
    assert.strictEqual(long.list.items[0].filterText, 'looking at viewer');
    // "a girl with long" starts no tag; "long" does.
    const tail = await complete('a girl with long|');
    assert.deepStrictEqual(tail.labels, ['long hair', 'long sleeves']);
    assert.strictEqual(tail.replaced(tail.list.items[0]), 'long');
  });

  it('works inside emphasis, editing and the negative prompt, but not on a weight', async () => {
    assert.deepStrictEqual((await complete('(blon|:1.2)')).labels, ['blonde hair']);
    const inSchedule = await complete('[smile:fro|:10]');
    assert.deepStrictEqual(inSchedule.labels, ['frown']);
    assert.strictEqual(inSchedule.replaced(inSchedule.list.items[0]), 'fro');
    assert.deepStrictEqual((await complete('a\nNegative prompt: worst|')).labels, ['worst quality']);
    assert.deepStrictEqual((await complete('(1girl:1|')).labels, []);
  });

  it('is not offered on the parameter line, in a comment, or in a LoRA tag', async () => {
    assert.deepStrictEqual((await complete('1girl\nSteps: 20, Sampler: Euler a, Model: lo|')).labels, []);
    assert.deepStrictEqual((await complete('1girl # lo|')).labels, []);
    assert.deepStrictEqual((await complete('1girl, <lora:lo|')).labels, []);
    assert.deepStrictEqual((await complete('1girl, <lora:lo|:0.8>, smile')).labels, []);
    assert.deepStrictEqual((await complete('1girl, <lo|')).labels, []);
    // After the tag closes, plain text again.
    assert.deepStrictEqual((await complete('<lora:x:0.8> lo|')).labels, ['long hair', 'looking at viewer', 'long sleeves', 'low quality']);
  });

  it('offers nothing for an empty word, no lists, or no match', async () => {
    assert.deepStrictEqual((await complete('1girl, |')).labels, []);
    assert.deepStrictEqual((await complete('zzzq|')).labels, []);
    const none = createPromptLanguageService({ tags: () => TagIndex.empty() });
    const doc = TextDocument.create('file:///none.prompt', 'sd-prompt', 1, 'lo');
    assert.deepStrictEqual(await none.completion(doc, doc.positionAt(2), DEFAULT_SETTINGS), { isIncomplete: false, items: [] });
  });

  it(`caps the list at ${MAX_TAG_ITEMS}, best first`, async () => {
    const many: TagRecord[] = Array.from({ length: 120 }, (_, i) => ({ name: `tag_${String(i).padStart(3, '0')}`, postCount: i, aliases: [] }));
    const big = createPromptLanguageService({ tags: () => TagIndex.build([{ path: '/many.csv', tags: many }]) });
    const doc = TextDocument.create('file:///many.prompt', 'sd-prompt', 1, 'tag');
    const result = await big.completion(doc, doc.positionAt(3), DEFAULT_SETTINGS);
    assert.strictEqual(result.items.length, MAX_TAG_ITEMS);
    assert.strictEqual(result.isIncomplete, true);
    assert.deepStrictEqual(result.items.slice(0, 2).map((i) => i.label), ['tag 119', 'tag 118']);
    assert.strictEqual(result.items[MAX_TAG_ITEMS - 1].label, 'tag 070');
  });
});
