import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { categoryName, categorySchemeOf } from '../../../server/src/service/tags/tagCategories';
import { parseTagCsv, TagRecord } from '../../../server/src/service/tags/tagCsv';
import { TagIndex } from '../../../server/src/service/tags/tagIndex';
import { formatPostCount, tagInsertText, tagKey } from '../../../server/src/service/tags/tagText';
import { FIXTURES } from '../fixtures';

const list = (name: string) => ({ path: `/webui/tags/${name}`, tags: parseTagCsv(fs.readFileSync(path.join(FIXTURES, 'tags', name), 'utf8'), name).tags });
const danbooru = TagIndex.build([list('danbooru.csv')]);
const names = (typed: string, limit = 50, index = danbooru) => index.search(typed, limit).matches.map((m) => (m.alias ? `${m.alias} → ${m.tag.name}` : m.tag.name));

describe('tag index', () => {
  it('matches name prefixes, most posts first', () => {
    assert.deepStrictEqual(names('lo'), ['long_hair', 'looking_at_viewer', 'long_sleeves']);
    assert.deepStrictEqual(names('h'), ['highres', 'hair_ornament', 'hat', 'hair_past_waist → very_long_hair', 'hatsune_miku']);
    assert.deepStrictEqual(names('hat'), ['hat', 'hatsune_miku']);
  });

  it('matches aliases, naming the alias that matched, once per tag', () => {
    assert.deepStrictEqual(names('sole'), ['sole_female → 1girl', 'sole_male → 1boy']);
    // `blond` is an alias and the prefix of the name and of three more aliases: one entry, the name.
    assert.deepStrictEqual(names('blond'), ['blonde_hair']);
    assert.deepStrictEqual(names('gold'), ['gold_hair → blonde_hair']);
    // The name wins over an alias of the same tag when both match.
    assert.deepStrictEqual(names('high'), ['highres']);
    assert.deepStrictEqual(names(':'), [':) → smile', ':d', ':( → frown']);
  });

  it('reads spaces as underscores, any case, and escaped brackets as brackets', () => {
    assert.deepStrictEqual(names('long h'), ['long_hair']);
    assert.deepStrictEqual(names('Looking At'), ['looking_at_viewer']);
    assert.deepStrictEqual(names('fate (s'), ['fate_(series)']);
    assert.deepStrictEqual(names('fate \\(s'), ['fate_(series)']);
    assert.deepStrictEqual(names('star_('), ['star_(symbol)']);
  });

  it('cuts the list at the limit and says so', () => {
    const all = danbooru.search('s', 50);
    assert.deepStrictEqual(
      all.matches.map((m) => (m.alias ? `${m.alias} → ${m.tag.name}` : m.tag.name)),
      ['sole_female → 1girl', 'solo', 'smile', 'short_hair', 'simple_background', 'shirt', 'skirt', 'sole_male → 1boy', 'star_(symbol)'],
    );
    assert.strictEqual(all.more, false);
    const three = danbooru.search('s', 3);
    assert.deepStrictEqual(three.matches.map((m) => m.tag.name), ['1girl', 'solo', 'smile']);
    assert.strictEqual(three.more, true);
    assert.deepStrictEqual(danbooru.search('', 50), { matches: [], more: false });
    assert.deepStrictEqual(danbooru.search('zzz', 50), { matches: [], more: false });
  });

  it('ranks equal counts by name and a list without counts after counted tags', () => {
    const mk = (name: string, postCount?: number): TagRecord => ({ name, postCount, aliases: [] });
    const index = TagIndex.build([{ path: '/a.csv', tags: [mk('tb', 5), mk('ta', 5), mk('tz'), mk('tc', 9)] }]);
    assert.deepStrictEqual(names('t', 50, index), ['tc', 'ta', 'tb', 'tz']);
  });

  it('merges a tag found in several lists: the larger count, the aliases of both', () => {
    const index = TagIndex.build([list('danbooru.csv'), list('e621.csv')]);
    const solo = index.find('solo')!;
    assert.strictEqual(solo.tag.postCount, 5000954);
    assert.strictEqual(solo.tag.file, '/webui/tags/danbooru.csv');
    assert.deepStrictEqual(solo.tag.aliases, ['female_solo', 'solo_female', 'alone', 'single', 'solo_in_panel']);
    assert.strictEqual(index.size, 31 + 8 - 2); // solo and smile are in both
  });

  it('finds a tag by its name or an alias in any spelling', () => {
    assert.strictEqual(danbooru.find('photoshop (medium)')!.tag.name, 'photoshop_(medium)');
    assert.strictEqual(danbooru.find('Photoshop \\(Medium\\)')!.tag.name, 'photoshop_(medium)');
    assert.deepStrictEqual(
      (({ tag, alias, key }) => ({ name: tag.name, alias, key }))(danbooru.find('light blue eyes')!),
      { name: 'blue_eyes', alias: 'light_blue_eyes', key: 'light_blue_eyes' },
    );
    assert.strictEqual(danbooru.find('photoshop'), undefined);
  });
});

describe('tag text', () => {
  it('inserts as tagcomplete does: underscores to spaces, brackets escaped', () => {
    assert.strictEqual(tagInsertText('ahri_(league_of_legends)'), 'ahri \\(league of legends\\)');
    assert.strictEqual(tagInsertText('long_hair'), 'long hair');
    assert.strictEqual(tagInsertText('[bracketed]_tag'), '\\[bracketed\\] tag');
    assert.strictEqual(tagInsertText('^_^'), '^ ^');
    assert.strictEqual(tagInsertText(':d'), ':d');
  });

  it('compares in one key form', () => {
    assert.strictEqual(tagKey('Ahri \\(League  of Legends\\)'), 'ahri_(league_of_legends)');
    assert.strictEqual(tagKey('long_hair'), 'long_hair');
  });

  it("formats post counts as tagcomplete's list shows them", () => {
    assert.deepStrictEqual(
      [6008644, 1234567, 5432, 1000, 9999, 54321, 123456, 999, 0, 3400031103].map(formatPostCount),
      ['6.0M', '1.2M', '5.4K', '1.0K', '10.0K', '54K', '123K', '999', '0', '3.4B'],
    );
  });

  it("names categories by the list's booru: Danbooru's scheme unless the file is e621's", () => {
    assert.strictEqual(categorySchemeOf('/x/tags/e621.csv'), 'e621');
    assert.strictEqual(categorySchemeOf('/x/tags/E621_sfw.csv'), 'e621');
    assert.strictEqual(categorySchemeOf('/x/tags/danbooru.csv'), 'danbooru');
    assert.strictEqual(categorySchemeOf('/x/tags/my-tags.csv'), 'danbooru');
    assert.deepStrictEqual([0, 1, 3, 4, 5, 2].map((c) => categoryName('danbooru', c)), ['general', 'artist', 'copyright', 'character', 'meta', 'category 2']);
    assert.deepStrictEqual([-1, 0, 1, 3, 4, 5, 6, 7, 8].map((c) => categoryName('e621', c)), [
      'invalid',
      'general',
      'artist',
      'copyright',
      'character',
      'species',
      'invalid',
      'meta',
      'lore',
    ]);
  });
});
