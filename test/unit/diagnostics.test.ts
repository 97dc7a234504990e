import * as assert from 'assert';
import { findProblems } from '../../server/src/service/features/diagnostics';
import { DEFAULT_SETTINGS, PromptSettings } from '../../server/src/service/settings';
import { parsePromptDocument } from '../../server/src/service/syntax/document';

/** Problems of `text` as [code, severity, covered text] plus spans, for exact assertions. */
function problems(text: string, settings: PromptSettings = DEFAULT_SETTINGS) {
  return findProblems(parsePromptDocument(text), settings).map((p) => ({
    code: p.code,
    severity: p.severity,
    at: [p.span.start, p.span.end],
    text: text.slice(p.span.start, p.span.end),
    message: p.message,
    fixes: p.fixes?.map((f) => f.edits.map((e) => ({ at: [e.span.start, e.span.end], newText: e.newText }))),
  }));
}

function only(text: string, settings?: PromptSettings) {
  const list = problems(text, settings);
  assert.strictEqual(list.length, 1, `expected one problem in ${JSON.stringify(text)}, got ${JSON.stringify(list, null, 1)}`);
  return list[0];
}

describe('diagnostics', () => {
  it('a clean prompt has none', () => {
    assert.deepStrictEqual(problems('masterpiece, (best quality:1.2), <lora:add_detail:0.8>, 1girl BREAK night sky\nNegative prompt: lowres\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 512x512'), []);
  });

  it('tag name with spaces: exact range of the name, trim fix', () => {
    const p = only('a, <lora: add_detail :0.8>');
    assert.strictEqual(p.code, 'tag-name-whitespace');
    assert.strictEqual(p.severity, 'warning');
    assert.deepStrictEqual(p.at, [9, 21]);
    assert.strictEqual(p.text, ' add_detail ');
    assert.match(p.message, /will not find 'add_detail'/);
    assert.deepStrictEqual(p.fixes, [[{ at: [9, 21], newText: 'add_detail' }]]);
  });

  it('tag type in the wrong case is removed and ignored', () => {
    const p = only('<Lora:x:0.5>');
    assert.strictEqual(p.code, 'tag-type-case');
    assert.deepStrictEqual(p.at, [1, 5]);
    assert.deepStrictEqual(p.fixes, [[{ at: [1, 5], newText: 'lora' }]]);
  });

  it('unknown type suggests the closest known one', () => {
    const p = only('<lroa:x:0.5>');
    assert.strictEqual(p.code, 'tag-type-unknown');
    assert.match(p.message, /Did you mean 'lora'\?/);
  });

  it('non-numeric and empty weights are errors that drop all LoRAs', () => {
    const p = only('<lora:x:abc>');
    assert.deepStrictEqual([p.code, p.severity, p.text], ['lora-weight-invalid', 'error', 'abc']);
    assert.match(p.message, /applies none of this generation's LoRAs/);
    const empty = only('<lora:x:>');
    assert.deepStrictEqual([empty.code, empty.at], ['lora-weight-invalid', [0, 9]]);
    assert.match(empty.message, /^An empty weight/);
    const dyn = only('<lora:x:0.5:0.5:1.5>');
    assert.deepStrictEqual([dyn.code, dyn.text], ['lora-weight-invalid', '1.5']);
    assert.match(dyn.message, /not an integer \(dyn\)/);
    const unnamed = only('<lora:te=0.5>');
    assert.deepStrictEqual([unnamed.code, unnamed.at], ['lora-weight-invalid', [0, 13]]);
    assert.match(unnamed.message, /IndexError/);
  });

  it('weights outside sdPrompt.lora.weightRange, te/unet included, with clamp fixes', () => {
    const p = only('<lora:x:1.5>');
    assert.deepStrictEqual([p.code, p.severity, p.at], ['lora-weight-range', 'warning', [8, 11]]);
    assert.deepStrictEqual(p.fixes, [[{ at: [8, 11], newText: '1' }]]);
    const named = only('<lora:x:0.5:unet=-0.3>');
    assert.deepStrictEqual([named.code, named.text], ['lora-weight-range', '-0.3']);
    assert.deepStrictEqual(named.fixes, [[{ at: [17, 21], newText: '0' }]]);
    const wide = { ...DEFAULT_SETTINGS, lora: { ...DEFAULT_SETTINGS.lora, weightRange: { min: -2, max: 2 } } };
    assert.deepStrictEqual(problems('<lora:x:1.5>', wide), []);
  });

  it('a tag with an empty or blank name: the whole tag, for lora and hypernet alike', () => {
    const blank = only('a, <lora: :0.5>');
    assert.deepStrictEqual([blank.code, blank.severity, blank.at, blank.fixes], ['tag-name-empty', 'warning', [3, 15], undefined]);
    assert.strictEqual(blank.message, 'This lora tag has no name: A1111 removes it and finds nothing to apply.');
    const empty = only('<hypernet::0.5>');
    assert.deepStrictEqual([empty.code, empty.at], ['tag-name-empty', [0, 15]]);
    assert.strictEqual(empty.message, 'This hypernet tag has no name: A1111 removes it and finds nothing to apply.');
  });

  it('dyn below 1 keeps no rank: positional and named', () => {
    const positional = only('<lora:x:0.5:0.5:0>');
    assert.deepStrictEqual([positional.code, positional.severity, positional.at], ['lora-dyn-range', 'warning', [16, 17]]);
    assert.strictEqual(positional.message, 'dyn 0 keeps no rank: dyn is the number of the LoRA\'s ranks to use and must be 1 or more.');
    const named = only('<lora:x:0.5:dyn=-2>');
    assert.deepStrictEqual([named.code, named.text], ['lora-dyn-range', '-2']);
    assert.match(named.message, /^dyn -2 keeps no rank/);
    assert.deepStrictEqual(problems('<lora:x:0.5:0.5:1> <lora:y:0.5:dyn=8>'), []);
  });

  it('prompt editing that never switches, with the steps of the file or of the settings', () => {
    const late = only('a [b:25] c');
    assert.deepStrictEqual([late.code, late.severity, late.at, late.fixes], ['schedule-never-switches', 'information', [2, 8], undefined]);
    // A1111 clamps the step to the step count (min(steps, int(25))).
    assert.strictEqual(late.message, "'b' is added after step 20 of 20: it never appears.");
    const never = only('a [b:c:30]\nSteps: 30, Sampler: Euler a');
    assert.deepStrictEqual([never.code, never.text], ['schedule-never-switches', '[b:c:30]']);
    assert.strictEqual(never.message, "This edit switches after step 30 of 30: 'c' never appears.");
    const first = only('[b:c:0] a');
    assert.deepStrictEqual([first.code, first.at], ['schedule-never-switches', [0, 7]]);
    assert.strictEqual(first.message, "This edit switches before the first step: 'b' never appears.");
    // Step 29 of 30 switches; so does a fraction; and 25 of the setting's 40 steps.
    assert.deepStrictEqual(problems('a [b:c:29] [d:e:0.99]\nSteps: 30, Sampler: Euler a'), []);
    assert.deepStrictEqual(problems('a [b:25]', { ...DEFAULT_SETTINGS, steps: 40 }), []);
  });

  it('an unknown schedule type, with a fix when one is close', () => {
    const near = only('a\nSteps: 20, Sampler: Euler a, Schedule type: Karas');
    assert.deepStrictEqual([near.code, near.severity, near.text], ['param-schedule-type-unknown', 'warning', 'Karas']);
    assert.strictEqual(near.message, "Unknown schedule type 'Karas': A1111 uses the sampler's default schedule instead. Did you mean 'Karras'?");
    assert.deepStrictEqual(near.fixes, [[{ at: [46, 51], newText: 'Karras' }]]);
    const far = only('a\nSteps: 20, Hires schedule type: "Zigzag"');
    assert.deepStrictEqual([far.code, far.text, far.fixes], ['param-schedule-type-unknown', '"Zigzag"', undefined]);
    assert.strictEqual(far.message, `Unknown schedule type '"Zigzag"': A1111 uses the sampler's default schedule instead.`);
    assert.deepStrictEqual(problems('a\nSteps: 20, Schedule type: Align Your Steps'), []);
  });

  it('weight 0 is reported as doing nothing', () => {
    assert.strictEqual(only('<lora:x:0>').code, 'lora-weight-zero');
  });

  it('an unclosed tag stays literal text', () => {
    const p = only('a, <lora:x:0.5, b');
    assert.deepStrictEqual([p.code, p.at], ['tag-unclosed', [3, 17]]);
  });

  it('a tag with a space after < is literal text', () => {
    const p = only('< lora:x:0.5>');
    assert.strictEqual(p.code, 'tag-malformed');
    assert.deepStrictEqual(p.fixes, [[{ at: [0, 7], newText: '<lora:' }]]);
  });

  it('# inside a tag cuts it', () => {
    const list = problems('a <lora:x#y:1>\nb');
    assert.deepStrictEqual(list.map((p) => [p.code, p.at]), [['tag-unclosed', [2, 9]], ['comment-in-tag', [9, 10]]]);
  });

  it('unbalanced brackets: unclosed opener and stray closer', () => {
    const list = problems('(a, b] c');
    assert.deepStrictEqual(list.map((p) => [p.code, p.at]), [['bracket-unclosed', [0, 1]], ['bracket-unmatched', [5, 6]]]);
    assert.match(list[0].message, /weighted ×1.1/);
  });

  it('an AND part closes its own brackets', () => {
    const list = problems('(a AND b)');
    assert.deepStrictEqual(list.map((p) => [p.code, p.at]), [['bracket-unclosed', [0, 1]], ['bracket-unmatched', [8, 9]]]);
  });

  it('emphasis weights that make A1111 raise', () => {
    const p = only('(a:1.2.3)');
    assert.deepStrictEqual([p.code, p.severity, p.text], ['emphasis-weight-invalid', 'error', '1.2.3']);
    assert.deepStrictEqual(only('(a:.)').at, [3, 4]);
  });

  it('[a:1.2] written as a weight never shows a', () => {
    const p = only('x [a:1.2] y');
    assert.deepStrictEqual([p.code, p.at], ['schedule-weight-confusion', [2, 9]]);
    assert.match(p.message, /never appears/);
    assert.deepStrictEqual(p.fixes, [[{ at: [2, 9], newText: '(a:1.2)' }]]);
  });

  it('a stray | turns prompt editing off for the whole prompt', () => {
    const p = only('a | b, [cat:dog:0.5]');
    assert.deepStrictEqual([p.code, p.at], ['schedule-disabled', [2, 3]]);
    // Without any prompt editing, a | changes nothing and is not reported.
    assert.deepStrictEqual(problems('a | b'), []);
  });

  it('a step number too large for int() stops the generation', () => {
    const p = only('x [a:b:1e999]');
    assert.deepStrictEqual([p.code, p.severity, p.text], ['schedule-overflow', 'error', '1e999']);
  });

  it('[a:b:c:3] is not prompt editing', () => {
    const p = only('[a:b:c:3]');
    assert.deepStrictEqual([p.code, p.at], ['schedule-malformed', [0, 9]]);
  });

  it('BREAK inside brackets is not a chunk break', () => {
    const p = only('(a BREAK b)');
    assert.deepStrictEqual([p.code, p.at], ['break-in-brackets', [3, 8]]);
  });

  it('lowercase break/and as their own item', () => {
    const list = problems('a, break, b\nc, And');
    assert.deepStrictEqual(list.map((p) => [p.code, p.text]), [['keyword-case', 'break'], ['keyword-case', 'And']]);
    assert.deepStrictEqual(problems('cats and dogs, a coffee break'), []);
  });

  it('LoRA tags in the negative prompt are not applied', () => {
    const p = only('a\nNegative prompt: <lora:x:0.5>, lowres');
    assert.deepStrictEqual([p.code, p.at], ['tag-in-negative', [19, 31]]);
  });

  it('the same LoRA twice', () => {
    const p = only('<lora:x:0.8> a <lora:x:0.5>');
    assert.deepStrictEqual([p.code, p.at], ['lora-duplicate', [15, 27]]);
    assert.match(p.message, /last tag's weight \(0\.5\) 2 times/);
  });

  it('parameter line: unknown key, numbers, size, sampler', () => {
    const list = problems('a\nSteps: x, Sampler: Euler b, CFG scale: high, Seed: 1, Size: 512*512, Stepz: 3');
    assert.deepStrictEqual(
      list.map((p) => [p.code, p.severity, p.text]),
      [
        ['param-not-number', 'error', 'x'],
        ['param-sampler-unknown', 'warning', 'Euler b'],
        ['param-not-number', 'error', 'high'],
        ['param-size', 'error', '512*512'],
        ['param-unknown-key', 'warning', 'Stepz'],
      ],
    );
    assert.match(list[1].message, /Did you mean 'Euler a'\?/);
  });

  it('never throws on junk, on a 1 MB line or on 400,000 open brackets, and reports at most 100 problems of a kind', function () {
    // A guard against hangs and crashes, not a speed test (bench/ measures speed): a loaded machine takes seconds.
    this.timeout(60_000);
    const counts = (text: string) => {
      const byCode: Record<string, number> = {};
      for (const p of findProblems(parsePromptDocument(text), DEFAULT_SETTINGS)) byCode[p.code] = (byCode[p.code] ?? 0) + 1;
      return byCode;
    };
    let junk = '';
    let seed = 7;
    for (let i = 0; i < 20000; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      junk += String.fromCharCode(seed % 0x2fff);
    }
    assert.deepStrictEqual(counts(junk + '([<:|\\'), { 'bracket-unmatched': 1 });
    assert.deepStrictEqual(counts('word, (emph:1.1), [a:b:0.5], <lora:x:1> '.repeat(26000)), { 'lora-duplicate': 100 });
    assert.deepStrictEqual(counts('('.repeat(200000) + '['.repeat(200000) + '<lora:'.repeat(50000)), { 'bracket-unclosed': 100, 'tag-unclosed': 100 });
  });
});
