import * as assert from 'assert';
import { stripComments } from '../../../server/src/service/semantics/comments';
import { MappedText } from '../../../server/src/service/semantics/spans';

/**
 * A1111's strip_comments: `re.sub('(^|\n)#[^\n]*(\n|$)', '\n', text)` then
 * `re.sub('#[^\n]*(\n|$)', '\n', text)`. The text after each is what A1111 returns (worked out with
 * Python's re); the comment spans and the source offset of each kept character are what the editor
 * shows and maps diagnostics through.
 */
function strip(text: string) {
  const { text: kept, comments } = stripComments(MappedText.identity(text, 0));
  const sources: number[] = [];
  for (let i = 0; i <= kept.text.length; i++) sources.push(kept.toSource(i));
  return { text: kept.text, comments: comments.map((c) => [c.start, c.end]), sources };
}

describe('strip_comments', () => {
  it('a whole-line comment and its line break become one line break', () => {
    assert.deepStrictEqual(strip('# c\na'), { text: '\na', comments: [[0, 3]], sources: [3, 4, 5] });
    assert.deepStrictEqual(strip('a\n# c\nb'), { text: 'a\nb', comments: [[2, 5]], sources: [0, 5, 6, 7] });
  });

  it('a comment after text: from # to the end of the line, the line break kept', () => {
    assert.deepStrictEqual(strip('a # c\nb'), { text: 'a \nb', comments: [[2, 5]], sources: [0, 1, 5, 6, 7] });
    assert.deepStrictEqual(strip('a#b#c\nd'), { text: 'a\nd', comments: [[1, 5]], sources: [0, 5, 6, 7] });
  });

  it('at the end of the text the comment still leaves a line break', () => {
    assert.deepStrictEqual(strip('a # c'), { text: 'a \n', comments: [[2, 5]], sources: [0, 1, 2, 5] });
    assert.deepStrictEqual(strip('x\n#'), { text: 'x\n', comments: [[2, 3]], sources: [0, 2, 3] });
  });

  it('two comment lines in a row: the first pass takes only the first (its line break is used up)', () => {
    assert.deepStrictEqual(strip('#a\n#b\nc'), { text: '\n\nc', comments: [[0, 2], [3, 5]], sources: [2, 5, 6, 7] });
  });

  it('no comment: the text as it is', () => {
    assert.deepStrictEqual(strip(''), { text: '', comments: [], sources: [0] });
    assert.deepStrictEqual(strip('a (b) c'), { text: 'a (b) c', comments: [], sources: [0, 1, 2, 3, 4, 5, 6, 7] });
  });
});
