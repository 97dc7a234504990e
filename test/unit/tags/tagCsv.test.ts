import * as assert from 'assert';
import { parse } from 'csv-parse/sync';
import * as fs from 'fs';
import * as path from 'path';
import { MAX_PROBLEMS_PER_FILE, parseTagCsv } from '../../../server/src/service/tags/tagCsv';
import { FIXTURES } from '../fixtures';

const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, 'tags', name), 'utf8');

describe('tagcomplete CSV', () => {
  it('reads name, category, post count and the quoted alias list', () => {
    const { tags, problems } = parseTagCsv(fixture('danbooru.csv'), '/t/danbooru.csv');
    assert.deepStrictEqual(problems, []);
    assert.strictEqual(tags.length, 31);
    assert.deepStrictEqual(tags[0], { name: '1girl', category: 0, postCount: 6008644, aliases: ['1girls', 'sole_female'] });
    // Aliases that are emoticons keep their brackets and colons; a quoted list keeps its commas apart.
    assert.deepStrictEqual(tags.find((t) => t.name === 'frown')!.aliases, [':(', ':{', 'frowning']);
    assert.deepStrictEqual(tags.find((t) => t.name === 'smile')!.aliases, [':)', ':}', 'smiling']);
    // No aliases column value: an empty list; an unquoted single alias.
    assert.deepStrictEqual(tags.find((t) => t.name === 'skirt'), { name: 'skirt', category: 0, postCount: 1557883, aliases: [] });
    assert.deepStrictEqual(tags.find((t) => t.name === 'hatsune_miku'), { name: 'hatsune_miku', category: 4, postCount: 106634, aliases: ['/hm'] });
    assert.deepStrictEqual(tags.find((t) => t.name === 'photoshop_(medium)'), { name: 'photoshop_(medium)', category: 5, postCount: 706507, aliases: [] });
  });

  it('agrees with csv-parse on every well-formed list', () => {
    for (const name of ['danbooru.csv', 'e621.csv', 'extra-quality-tags.csv']) {
      const text = fixture(name);
      const reference = parse(text, { relax_column_count: true }) as string[][];
      const ours = parseTagCsv(text, name).tags;
      assert.strictEqual(ours.length, reference.length, name);
      reference.forEach((row, i) => {
        assert.strictEqual(ours[i].name, row[0], `${name} row ${i + 1}`);
        const aliases = (row[3] ?? '').split(',').filter((a) => a !== '');
        assert.deepStrictEqual(ours[i].aliases, aliases, `${name} row ${i + 1}`);
      });
    }
  });

  it("keeps an extra file's third column as the note shown instead of a count", () => {
    const { tags } = parseTagCsv(fixture('extra-quality-tags.csv'), '/t/extra-quality-tags.csv');
    assert.deepStrictEqual(tags[0], { name: 'masterpiece', category: 5, note: 'Quality tag', aliases: [] });
  });

  it('reads "" as a quote, CRLF line ends, a byte-order mark, blank lines and a name alone', () => {
    const text = '\ufeffsay_"hi",0,10,"""quoted"",plain"\r\n\r\nlonely\r\nspaced name , 1 , 20 ,\n';
    const { tags, problems } = parseTagCsv(text, '/t/x.csv');
    assert.deepStrictEqual(problems, []);
    assert.deepStrictEqual(tags, [
      { name: 'say_"hi"', category: 0, postCount: 10, aliases: ['"quoted"', 'plain'] },
      { name: 'lonely', aliases: [] },
      { name: 'spaced name', category: 1, postCount: 20, aliases: [] },
    ]);
  });

  it('reports each malformed line with its file and line, skips it, and keeps the lines after it', () => {
    const text = [
      'good_one,0,100,',
      '"open_quote,0,5,',
      ',0,7,',
      'bad_category,general,8,',
      '"closed"x,0,9,',
      'good_two,0,50,"a,b"',
    ].join('\n');
    const { tags, problems } = parseTagCsv(text, '/tags/mine.csv');
    assert.deepStrictEqual(
      tags.map((t) => t.name),
      ['good_one', 'good_two'],
    );
    assert.deepStrictEqual(problems, [
      { file: '/tags/mine.csv', line: 2, message: 'the quote opened at column 1 is not closed on this line' },
      { file: '/tags/mine.csv', line: 3, message: 'the tag name (first column) is empty' },
      { file: '/tags/mine.csv', line: 4, message: "the category 'general' is not a whole number" },
      { file: '/tags/mine.csv', line: 5, message: 'text after the closing quote at column 9 (write "" for a quote inside a quoted field)' },
    ]);
  });

  it('skips a file that is no tag list (a translation list) with one problem, not one per line', () => {
    const { tags, problems } = parseTagCsv('1girl,一个女孩\nsolo,单人\n', '/tags/zh_cn.csv');
    assert.deepStrictEqual(tags, []);
    assert.deepStrictEqual(problems, [
      { file: '/tags/zh_cn.csv', line: 0, message: "not a tagcomplete tag list (line 1: the category '一个女孩' is not a whole number); skipped" },
    ]);
  });

  it('reports at most MAX_PROBLEMS_PER_FILE lines and counts the rest', () => {
    const lines = ['ok,0,1,'];
    for (let i = 0; i < 500; i++) lines.push('"broken');
    const { tags, problems } = parseTagCsv(lines.join('\n'), '/t/x.csv');
    assert.strictEqual(tags.length, 1);
    assert.strictEqual(problems.length, MAX_PROBLEMS_PER_FILE + 1);
    assert.deepStrictEqual(problems[MAX_PROBLEMS_PER_FILE], { file: '/t/x.csv', line: 0, message: '480 more malformed line(s) skipped' });
    assert.strictEqual(problems[MAX_PROBLEMS_PER_FILE - 1].line, MAX_PROBLEMS_PER_FILE + 1);
  });
});
