import * as assert from 'assert';
import { findProblems } from '../../../server/src/service/features/diagnostics';
import { checkDynamic } from '../../../server/src/service/features/checks/dynamicChecks';
import { Problem } from '../../../server/src/service/features/checks/problem';
import { WildcardLibrary } from '../../../server/src/service/dynamic/wildcardLibrary';
import { DEFAULT_SETTINGS } from '../../../server/src/service/settings';
import { parsePromptDocument } from '../../../server/src/service/syntax/document';

const ON = { ...DEFAULT_SETTINGS, dynamicPrompts: { enable: true } };
const dynamicCodes = (problems: Problem[]) => problems.filter((p) => p.code.startsWith('dynamic') || p.code === 'wildcard-unknown');

describe('dynamic prompt diagnostics', () => {
  it('off: each {a|b} and __name__ gets an information that A1111 passes it to CLIP as written', () => {
    const text = 'a {red|blue} cat, __colors__, {just braces}\nSteps: 20, Seed: 1, Size: 512x512';
    const problems = dynamicCodes(findProblems(parsePromptDocument(text), DEFAULT_SETTINGS));
    assert.deepStrictEqual(problems.map((p) => [p.code, p.severity, p.span]), [
      ['dynamic-prompts-off', 'information', { start: 2, end: 12 }],
      ['dynamic-prompts-off', 'information', { start: 18, end: 28 }],
    ]);
    assert.match(problems[0].message, /passes this '\{\.\.\.\|\.\.\.\}' to CLIP as written/);
  });

  it('off: at most 100 informations, as the pass keeps per code', () => {
    const out: Problem[] = [];
    checkDynamic(parsePromptDocument('{a|b} '.repeat(150)), DEFAULT_SETTINGS, out);
    assert.strictEqual(out.length, 100);
    assert.deepStrictEqual(out[99].span, { start: 594, end: 599 });
  });

  it('on: what stops dynamicprompts, in the positive and the negative prompt, at document ranges', () => {
    const text = 'a {red|blue cat\nNegative prompt: {4$$x|y}\nSteps: 20, Seed: 1, Size: 512x512';
    const problems = dynamicCodes(findProblems(parsePromptDocument(text), ON));
    assert.deepStrictEqual(problems.map((p) => [p.code, p.severity, p.span]), [
      ['dynamic-unbalanced-brace', 'error', { start: 2, end: 3 }],
      ['dynamic-impossible-range', 'warning', { start: 34, end: 35 }],
    ]);
  });

  it('on: dynamicprompts skips a # comment itself (the webui runs it before stripping comments)', () => {
    const text = 'x # {\n{a||b}';
    const problems = dynamicCodes(findProblems(parsePromptDocument(text), ON));
    assert.deepStrictEqual(problems.map((p) => [p.code, p.span]), [['dynamic-empty-option', { start: 9, end: 9 }]]);
  });

  it('on: an unknown wildcard with a fix to the closest name; a stray } can be removed', () => {
    const out: Problem[] = [];
    checkDynamic(parsePromptDocument('__colours__ }'), ON, out, WildcardLibrary.fromValues({ colors: ['red'] }));
    assert.deepStrictEqual(out.map((p) => [p.code, p.span, p.fixes?.map((f) => [f.title, f.edits])]), [
      ['wildcard-unknown', { start: 2, end: 9 }, [["Change to '__colors__'", [{ span: { start: 2, end: 9 }, newText: 'colors' }]]]],
      ['dynamic-unbalanced-brace', { start: 12, end: 13 }, [["Remove the '}'", [{ span: { start: 12, end: 13 }, newText: '' }]]]],
    ]);
  });

  it('with Template: lines, the templates are checked, not the prompt they gave', () => {
    const text = 'a red cat }\nSteps: 20, Seed: 1, Size: 512x512\nTemplate: a {red|blue cat\nNegative Template: {x|y}';
    const doc = parsePromptDocument(text);
    assert.deepStrictEqual(doc.sections.parameters?.entries.map((e) => e.key), ['Steps', 'Seed', 'Size']);
    const problems = dynamicCodes(findProblems(doc, ON));
    assert.deepStrictEqual(problems.map((p) => [p.code, p.span]), [['dynamic-unbalanced-brace', { start: 58, end: 59 }]]);
  });
});
