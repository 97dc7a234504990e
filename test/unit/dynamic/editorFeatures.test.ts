import * as assert from 'assert';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { MarkupContent } from 'vscode-languageserver-types';
import { WildcardLibrary } from '../../../server/src/service/dynamic/wildcardLibrary';
import { dynamicHoverAt } from '../../../server/src/service/features/dynamicHover';
import { wildcardCompletions } from '../../../server/src/service/features/wildcardCompletion';
import { parsePromptDocument } from '../../../server/src/service/syntax/document';

const wildcards = new WildcardLibrary(
  new Map([
    ['times', { name: 'times', items: ['noon', 'dawn', 'dusk'], file: '/w/times.txt' }],
    ['animals/forest', { name: 'animals/forest', items: ['fox', 'heron', 'badger'], file: '/w/animals/forest.txt' }],
    ['animals/sea', { name: 'animals/sea', items: ['seal'], file: '/w/animals/sea.txt' }],
  ]),
);

function hover(text: string, offset: number) {
  const document = TextDocument.create('file:///a.prompt', 'sd-prompt', 1, text);
  const h = dynamicHoverAt(document, parsePromptDocument(text), offset, wildcards);
  return h && { value: (h.contents as MarkupContent).value, range: h.range };
}

describe('dynamic prompt hover', () => {
  it('a variant: options, picks, separator and the combination count; the innermost under the cursor', () => {
    const h = hover('a {2$$ and $$x|y|{p|q}} b', 4)!;
    assert.strictEqual(h.value, '**Variant**: 3 options, picks 2, joined by ` and `.\n\nCombinatorial mode lists up to 10 prompts from it.');
    assert.deepStrictEqual(h.range, { start: { line: 0, character: 2 }, end: { line: 0, character: 23 } });
    assert.strictEqual(hover('a {2$$ and $$x|y|{p|q}} b', 18)!.value, '**Variant**: 2 options, picks 1.\n\nCombinatorial mode lists up to 2 prompts from it.');
  });

  it('weights as shares of the picks', () => {
    assert.strictEqual(hover('{3::calm|1::stormy}', 1)!.value.split('\n\n')[2], 'calm: 75% · stormy: 25%');
  });

  it('a wildcard: its value count, first values (sorted), and links to its files', () => {
    assert.strictEqual(
      hover('__animals/*__', 3)!.value,
      '**Wildcard** `__animals/*__`: 4 values\n\n`badger`, `fox`, `heron`, `seal`\n\n[forest.txt](file:///w/animals/forest.txt) · [sea.txt](file:///w/animals/sea.txt)',
    );
    assert.strictEqual(hover('__nope__', 3)!.value, '**Wildcard** `__nope__`\n\nNo wildcard file gives it: dynamicprompts writes it as it stands.');
  });

  it('nothing outside dynamic syntax, and nothing in a prompt dynamicprompts cannot read', () => {
    assert.strictEqual(hover('plain {a|b}', 2), null);
    assert.strictEqual(hover('{a|b', 1), null);
  });
});

describe('wildcard name completion', () => {
  function complete(text: string, offset = text.length) {
    const document = TextDocument.create('file:///a.prompt', 'sd-prompt', 1, text);
    return wildcardCompletions(document, offset, wildcards).map((i) => [i.label, i.detail, (i.textEdit as { newText: string }).newText]);
  }

  it('after an open __: names starting with the typed text, then names containing it, closing __ added', () => {
    assert.deepStrictEqual(complete('a __an'), [
      ['animals/forest', '3 values', 'animals/forest__'],
      ['animals/sea', '1 value', 'animals/sea__'],
    ]);
    assert.deepStrictEqual(complete('a __es').map((i) => i[0]), ['animals/forest', 'times']);
  });

  it('no closing __ added when one follows; nothing after a closed wildcard', () => {
    assert.deepStrictEqual(complete('__ti__', 4), [['times', '3 values', 'times']]);
    assert.deepStrictEqual(complete('__times__ x'), []);
    assert.deepStrictEqual(complete('__times__ __'), complete('__'));
  });
});
