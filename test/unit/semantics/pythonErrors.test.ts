import * as assert from 'assert';
import { a1111ParsePrompt, a1111ParsePromptAttention } from '../../../server/src/service/semantics/a1111';
import { loraActivation } from '../../../server/src/service/semantics/extraNetworks';

/** What A1111's Lora extension raises for the first LoRA tag of `prompt`, or its arguments. */
const activate = (prompt: string) => loraActivation(a1111ParsePrompt(prompt).extra_networks.lora[0]);

/**
 * A weight Python cannot read makes A1111 raise, and the message names the text with Python's
 * repr: quotes chosen by content, escapes for backslashes, line breaks and unprintable characters.
 * Users search for these messages, so they are A1111's word for word.
 */
describe("A1111's exceptions, word for word", () => {
  const floatError = (repr: string) => `ValueError: could not convert string to float: ${repr}`;

  it('quotes: single by default, double when the text has only single quotes', () => {
    assert.strictEqual((activate('<lora:x:abc>') as { error: string }).error, floatError("'abc'"));
    assert.strictEqual((activate("<lora:x:it's>") as { error: string }).error, floatError(`"it's"`));
    assert.strictEqual((activate(`<lora:x:say "hi">`) as { error: string }).error, floatError(`'say "hi"'`));
    assert.strictEqual((activate(`<lora:x:"it's">`) as { error: string }).error, floatError(`'"it\\'s"'`));
  });

  it('escapes: backslash, line breaks, tab, control and format characters, unprintable spaces', () => {
    assert.strictEqual((activate('<lora:x:a\\b>') as { error: string }).error, floatError("'a\\\\b'"));
    assert.strictEqual((activate('<lora:x:1\n2\r3\t4>') as { error: string }).error, floatError("'1\\n2\\r3\\t4'"));
    assert.strictEqual((activate('<lora:x:1\x1c2\x7f>') as { error: string }).error, floatError("'1\\x1c2\\x7f'"));
    assert.strictEqual((activate('<lora:x:1\u200b\u00a02>') as { error: string }).error, floatError("'1\\u200b\\xa02'"));
    assert.strictEqual((activate('<lora:x:1\u30002>') as { error: string }).error, floatError("'1\\u30002'"));
    assert.strictEqual((activate('<lora:x:\udb80\udc00>') as { error: string }).error, floatError("'\\U000f0000'"));
    // Printable text outside ASCII stays as it is.
    assert.strictEqual((activate('<lora:x:é😀 1>') as { error: string }).error, floatError("'é😀 1'"));
  });

  it('dyn is read with int(): its own message, and which argument raised', () => {
    assert.deepStrictEqual(activate('<lora:x:1:1:\t>'), {
      error: "ValueError: invalid literal for int() with base 10: '\\t'",
      item: '\t',
      argument: 'dyn',
    });
    assert.deepStrictEqual(activate('<lora:x:1:unet=u>'), { error: floatError("'u'"), item: 'u', argument: 'unet' });
  });

  it('an emphasis weight that float() rejects', () => {
    assert.deepStrictEqual(a1111ParsePromptAttention('(a:1..2)'), { error: floatError("'1..2'") });
  });
});
