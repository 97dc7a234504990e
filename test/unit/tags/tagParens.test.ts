import * as assert from 'assert';
import { Diagnostic, TextEdit, WorkspaceEdit } from 'vscode-languageserver-types';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { createPromptLanguageService, DEFAULT_SETTINGS } from '../../../server/src/service';
import { TagRecord } from '../../../server/src/service/tags/tagCsv';
import { TagIndex } from '../../../server/src/service/tags/tagIndex';

const tags: TagRecord[] = [
  { name: 'ahri_(league_of_legends)', category: 4, postCount: 4127, aliases: ['ahri'] },
  { name: 'star_(symbol)', category: 0, postCount: 237573, aliases: [] },
  { name: 'fate_(series)', category: 3, postCount: 324179, aliases: [] },
  { name: 'long_hair', category: 0, postCount: 4350743, aliases: [] },
];
const service = createPromptLanguageService({ tags: () => TagIndex.build([{ path: '/danbooru.csv', tags }]) });
let version = 0;

function check(text: string) {
  const doc = TextDocument.create(`file:///p${++version}.prompt`, 'sd-prompt', 1, text);
  const diagnostics = service.diagnostics(doc, DEFAULT_SETTINGS).filter((d) => d.code === 'tag-parens-unescaped');
  const text_ = (d: Diagnostic) => text.slice(doc.offsetAt(d.range.start), doc.offsetAt(d.range.end));
  /** The document after applying the diagnostic's quick fix. */
  const fixed = (d: Diagnostic) => {
    const actions = service.codeActions(doc, [d]);
    const edits = (actions[0].edit as WorkspaceEdit).changes![doc.uri] as TextEdit[];
    return { title: actions[0].title, preferred: actions[0].isPreferred, edits, result: TextDocument.applyEdits(doc, edits) };
  };
  return { diagnostics, covered: diagnostics.map(text_), fixed };
}

describe('tag-parens-unescaped', () => {
  it('warns where a known tag was written with its brackets unescaped, over the whole tag', () => {
    const { diagnostics, covered, fixed } = check('1girl, ahri (league of legends), smile');
    assert.deepStrictEqual(covered, ['ahri (league of legends)']);
    const d = diagnostics[0];
    assert.strictEqual(d.severity, 2);
    assert.deepStrictEqual(d.range, { start: { line: 0, character: 7 }, end: { line: 0, character: 31 } });
    assert.strictEqual(
      d.message,
      "'ahri (league of legends)' is the tag ahri_(league_of_legends), but A1111 reads its unescaped brackets as emphasis: the model gets 'league of legends' weighted ×1.1 and never the tag. Write 'ahri \\(league of legends\\)' (as tag autocomplete inserts it: 'ahri \\(league of legends\\)').",
    );
    const fix = fixed(d);
    assert.strictEqual(fix.title, "Escape the brackets: 'ahri \\(league of legends\\)'");
    assert.strictEqual(fix.preferred, true);
    assert.deepStrictEqual(fix.edits, [
      { range: { start: { line: 0, character: 12 }, end: { line: 0, character: 13 } }, newText: '\\(' },
      { range: { start: { line: 0, character: 30 }, end: { line: 0, character: 31 } }, newText: '\\)' },
    ]);
    assert.strictEqual(fix.result, '1girl, ahri \\(league of legends\\), smile');
    // Once fixed, nothing to say.
    assert.deepStrictEqual(check(fix.result).diagnostics, []);
  });

  it('finds the tag in the underscore spelling, without a space, after other words and inside emphasis', () => {
    assert.deepStrictEqual(check('ahri_(league_of_legends)').covered, ['ahri_(league_of_legends)']);
    assert.deepStrictEqual(check('a star(symbol) here').covered, ['star(symbol)']);
    // Only the words that make the tag are covered.
    assert.deepStrictEqual(check('1girl with ahri (league of legends)').covered, ['ahri (league of legends)']);
    assert.deepStrictEqual(check('(fate (series):1.2), x').covered, ['fate (series)']);
    assert.deepStrictEqual(check('a\nNegative prompt: star (symbol)').covered, ['star (symbol)']);
  });

  it('maps the range past a LoRA tag A1111 removed before reading the brackets', () => {
    const { covered, fixed, diagnostics } = check('<lora:x:0.5> fate (series)');
    assert.deepStrictEqual(covered, ['fate (series)']);
    assert.strictEqual(fixed(diagnostics[0]).result, '<lora:x:0.5> fate \\(series\\)');
  });

  it('says nothing for emphasis that is no tag, weighted brackets, escaped brackets, or no lists', () => {
    assert.deepStrictEqual(check('long hair (smile), (ahri)').diagnostics, []);
    assert.deepStrictEqual(check('ahri (league of legends:1.2)').diagnostics, []);
    assert.deepStrictEqual(check('ahri \\(league of legends\\)').diagnostics, []);
    assert.deepStrictEqual(check('(league of legends)').diagnostics, []);
    assert.deepStrictEqual(check('ahri (league (of) legends)').diagnostics, []);
    const none = createPromptLanguageService();
    const doc = TextDocument.create('file:///none.prompt', 'sd-prompt', 1, 'ahri (league of legends)');
    assert.deepStrictEqual(none.diagnostics(doc, DEFAULT_SETTINGS).filter((d) => d.code === 'tag-parens-unescaped'), []);
  });
});
