import * as assert from 'assert';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { createPromptLanguageService, DEFAULT_SETTINGS, SEMANTIC_TOKEN_TYPES } from '../../server/src/service';

const service = createPromptLanguageService();
let version = 0;
const open = (text: string) => TextDocument.create(`file:///t${++version}.prompt`, 'sd-prompt', 1, text);

/** Hover markdown at the first occurrence of `needle` (plus `delta` characters), and the hovered text. */
async function hover(text: string, needle: string, delta = 0) {
  const doc = open(text);
  const h = await service.hover(doc, doc.positionAt(text.indexOf(needle) + delta), DEFAULT_SETTINGS);
  if (!h) return undefined;
  const range = h.range!;
  return { value: (h.contents as { value: string }).value, text: text.slice(doc.offsetAt(range.start), doc.offsetAt(range.end)) };
}

describe('hover', () => {
  it('emphasis: effective weight and the chain of brackets', async () => {
    const h = (await hover('a ((b:1.5)) c', 'b'));
    assert.deepStrictEqual(h, {
      value: '**Weight 1.65** (×1.5 ×1.1): A1111 multiplies this text\'s token embeddings by 1.65.',
      text: '(b:1.5)',
    });
    assert.strictEqual((await hover('a [[b]] c', 'b'))!.value.startsWith('**Weight 0.8264** (÷1.1 ÷1.1)'), true);
    assert.strictEqual((await hover('a b c', 'b')), undefined);
    // Prompt-editing brackets are not emphasis: only the round group counts.
    assert.match((await hover('([a|c||d]:1.5) [x:(y):3]', 'c'))!.value, /^\*\*Prompt editing|^\*\*Alternation/);
    assert.match((await hover('([a|c||d]:1.5)', 'c'))!.value, /\*\*Weight 1\.5\*\* \(×1\.5\)/);
    assert.match((await hover('[x:(y):3]', 'y'))!.value, /\*\*Weight 1\.1\*\* \(×1\.1\)/);
  });

  it('prompt editing: which steps each part is used in, with the file\'s Steps', async () => {
    const h = (await hover('a [cat:dog:0.25] b\nSteps: 20, Sampler: Euler a, CFG scale: 7', 'cat'));
    assert.deepStrictEqual(h, {
      value: "**Prompt editing** (20 steps): 'cat' in steps 1–5, 'dog' in steps 6–20.",
      text: '[cat:dog:0.25]',
    });
    assert.strictEqual((await hover('[a|b]', 'a'))!.value, "**Alternation**: a different option every step — 'a' on steps 1, 3, …; 'b' on steps 2, 4, ….");
  });

  it('a tag shows the multipliers A1111 resolves', async () => {
    const h = (await hover('x <lora:detail:0.6:unet=0.2> y', 'detail'));
    assert.strictEqual(h!.text, '<lora:detail:0.6:unet=0.2>');
    assert.strictEqual(h!.value, '**LoRA** `detail`\n\n| text encoder | UNet | dyn |\n|---|---|---|\n| 0.6 | 0.2 | — |');
    assert.match((await hover('<lora:x:abc>', 'x'))!.value, /raises `ValueError: could not convert string to float: 'abc'`/);
    assert.match((await hover('a\nNegative prompt: <lora:x:1>', 'x'))!.value, /does not apply it/);
  });

  it('BREAK and AND', async () => {
    assert.match((await hover('a BREAK b', 'BREAK'))!.value, /ends the current 75-token chunk/);
    assert.match((await hover('(a BREAK b)', 'BREAK'))!.value, /not a chunk break; the word is encoded with weight -1.1/);
    assert.match((await hover('a AND b', 'AND'))!.value, /composable diffusion/);
  });
});

describe('formatting', () => {
  const format = (text: string) => {
    const doc = open(text);
    return TextDocument.applyEdits(doc, service.format(doc));
  };
  it('normalizes tags and changes nothing else', () => {
    assert.strictEqual(
      format('(a:1.2),  <lora: x : 0.8 >, [b:c:0.5]\nNegative prompt: <lyco:y: te=0.5 :unet= 1 >'),
      '(a:1.2),  <lora:x:0.8>, [b:c:0.5]\nNegative prompt: <lyco:y:te=0.5:unet=1>',
    );
  });
  it('Format Selection rewrites only the tags the selection touches', () => {
    const text = '<lora: a :1>, b, <lora: c :2>\nNegative prompt: <lyco: d : 0.5 >';
    const formatRange = (start: number, end: number) => {
      const doc = open(text);
      const range = { start: doc.positionAt(start), end: doc.positionAt(end) };
      return TextDocument.applyEdits(doc, service.format(doc, range));
    };
    const second = text.indexOf('<lora: c');
    const secondEnd = text.indexOf('>', second) + 1;
    // Inside the second tag's name.
    assert.strictEqual(formatRange(second + 8, second + 9), '<lora: a :1>, b, <lora:c:2>\nNegative prompt: <lyco: d : 0.5 >');
    // From inside the first tag to inside the negative prompt's tag: all three.
    assert.strictEqual(formatRange(3, text.indexOf(' d ')), '<lora:a:1>, b, <lora:c:2>\nNegative prompt: <lyco:d:0.5>');
    // Between the tags: nothing; a selection that ends at a tag's `<` or starts at its `>` touches it.
    assert.strictEqual(formatRange(13, second - 1), text);
    assert.strictEqual(formatRange(13, second), '<lora: a :1>, b, <lora:c:2>\nNegative prompt: <lyco: d : 0.5 >');
    assert.strictEqual(formatRange(secondEnd, secondEnd + 1), '<lora: a :1>, b, <lora:c:2>\nNegative prompt: <lyco: d : 0.5 >');
    assert.strictEqual(formatRange(secondEnd + 1, secondEnd + 2), text);
  });

  it('leaves tags it cannot rewrite safely', () => {
    const text = '<lora:x: abc >, <foo: a :1>, <lora:y:0.5 # note\n>';
    assert.strictEqual(format(text), '<lora:x: abc >, <foo: a :1>, <lora:y:0.5 # note\n>');
  });
});

describe('outline and folding', () => {
  it('symbols: parts, tags, parameters', () => {
    const doc = open('a <lora:x:1>\nb <hypernet:h:0.5>\nNegative prompt: c\nSteps: 20, Sampler: Euler a, CFG scale: 7');
    const symbols = service.documentSymbols(doc);
    assert.deepStrictEqual(
      symbols.map((s) => [s.name, s.range.start.line, s.range.end.line, (s.children ?? []).map((c) => `${c.name} ${c.detail}`)]),
      [
        ['Prompt', 0, 1, ['<lora:x> 1', '<hypernet:h> 0.5']],
        ['Negative prompt', 2, 2, []],
        ['Parameters', 3, 3, ['Steps 20', 'Sampler Euler a', 'CFG scale 7']],
      ],
    );
  });
  it('folding: multi-line parts and comment blocks', () => {
    const doc = open('# one\n# two\na,\nb\nNegative prompt: x,\ny');
    assert.deepStrictEqual(
      service.foldingRanges(doc).map((r) => [r.startLine, r.endLine, r.kind]),
      [[0, 3, undefined], [4, 5, undefined], [0, 1, 'comment']],
    );
  });
});

describe('semantic tokens', () => {
  it('marks real keywords, ignored tags and numbers', () => {
    const text = 'a AND (b BREAK c) BREAK <Lora:x:1>';
    const data = service.semanticTokens(open(text));
    const tokens: [string, string, number][] = [];
    let line = 0;
    let char = 0;
    for (let i = 0; i < data.length; i += 5) {
      line += data[i];
      char = data[i] === 0 ? char + data[i + 1] : data[i + 1];
      tokens.push([text.substr(char, data[i + 2]), SEMANTIC_TOKEN_TYPES[data[i + 3]], data[i + 4]]);
    }
    assert.deepStrictEqual(tokens, [
      ['AND', 'keyword', 0],
      ['BREAK', 'keyword', 1],
      ['BREAK', 'keyword', 0],
      ['Lora', 'type', 1],
      ['x', 'function', 1],
      ['1', 'number', 1],
    ]);
  });
});

describe('robustness', () => {
  it('every feature survives random text at every offset', async function () {
    // 300 texts × every offset × every feature: seconds on a busy machine; a guard against crashes, not a speed test.
    this.timeout(60_000);
    let seed = 12345;
    const alphabet = '([{<>}]):|\\#,. \nABDEKNRaAND BREAK lora:x:1 Negative prompt: Steps: 1,0é\u0000\uD83D\uDE00';
    for (let n = 0; n < 300; n++) {
      let text = '';
      const length = (seed % 60) + 1;
      for (let i = 0; i < length; i++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        text += alphabet[seed % alphabet.length];
      }
      const doc = open(text);
      const diagnostics = service.diagnostics(doc, DEFAULT_SETTINGS);
      service.format(doc);
      service.documentSymbols(doc);
      service.foldingRanges(doc);
      service.semanticTokens(doc);
      service.codeActions(doc, diagnostics);
      for (let offset = 0; offset <= text.length; offset++) await service.hover(doc, doc.positionAt(offset), DEFAULT_SETTINGS);
      for (const d of diagnostics) {
        assert.ok(doc.offsetAt(d.range.start) <= doc.offsetAt(d.range.end), `range order in ${JSON.stringify(text)}`);
      }
    }
  });
});
