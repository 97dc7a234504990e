import * as assert from 'assert';
import * as path from 'path';
import { main } from '../../../server/src/cli/main';
import { NodeFileSystem } from '../../../server/src/node/nodeFileSystem';
import { loadWildcardLibrary, WildcardLibrary } from '../../../server/src/service/dynamic/wildcardLibrary';
import { renderPrompt, RenderPromptOptions } from '../../../server/src/service/features/renderPrompt';
import { parseSections } from '../../../server/src/service/syntax/sections';
import { FIXTURES, readFixture } from '../fixtures';

/** The cases dynamicprompts 0.31.0 itself produced (test/fixtures/dynamic). */
interface DynamicCase {
  name: string;
  mode: 'random' | 'all';
  prompt: string;
  prompts: string[];
  negativePrompts?: string[];
}

const NO_WILDCARDS = new WildcardLibrary(new Map());
const on = (extra: Partial<RenderPromptOptions> = {}): RenderPromptOptions => ({ enabled: true, wildcards: NO_WILDCARDS, defaultSteps: 20, ...extra });

/** `sd-prompt expand FILE --json` on a text. */
async function expandCli(text: string): Promise<{ prompts: string[]; negativePrompts: string[] }> {
  let stdout = '';
  const code = await main(['expand', 'f.prompt', '--json'], {
    stdout: (s) => (stdout += s),
    stderr: () => undefined,
    readFile: () => text,
    readStdin: () => '',
  });
  assert.strictEqual(code, 0);
  return JSON.parse(stdout);
}

describe('renderPrompt: the variant Render Preview renders', () => {
  const ball = '{red|blue} ball\nNegative prompt: lowres\nSteps: 12, Sampler: Euler a, CFG scale: 7, Seed: 7, Size: 64x64';

  it('a {red|blue} file: the first image variant for the seed, with Template: after the parameters', async () => {
    const r = renderPrompt(ball, on());
    assert.deepStrictEqual(r, {
      promptText: 'blue ball\nNegative prompt: lowres\nSteps: 12, Sampler: Euler a, CFG scale: 7, Seed: 7, Size: 64x64\nTemplate: {red|blue} ball\nNegative Template: lowres',
      template: { prompt: '{red|blue} ball', negativePrompt: 'lowres' },
      variant: 'variant for seed 7: blue ball',
    });
    // The same choice `sd-prompt expand` makes for that seed.
    assert.strictEqual((await expandCli(ball)).prompts[0], 'blue ball');
  });

  it("the request's seed picks the variant and is written into the parameter line", async () => {
    const seeds = [7, 8, 9, 10, 11, 12];
    const variants = seeds.map((seed) => parseSections(renderPrompt(ball, on({ seed })).promptText));
    const texts = seeds.map((seed) => renderPrompt(ball, on({ seed })).promptText);
    const firstWords = texts.map((t) => t.split(' ')[0]);
    // Cross-checked with `sd-prompt expand` for each seed, and both colours occur.
    const cli = await Promise.all(seeds.map((seed) => expandCli(ball.replace('Seed: 7', `Seed: ${seed}`))));
    assert.deepStrictEqual(
      firstWords,
      cli.map((c) => c.prompts[0].split(' ')[0]),
    );
    assert.deepStrictEqual([...new Set(firstWords)].sort(), ['blue', 'red']);
    assert.deepStrictEqual(
      variants.map((v, i) => texts[i].slice(v.parameters!.span.start, v.parameters!.span.end)),
      seeds.map((seed) => `Steps: 12, Sampler: Euler a, CFG scale: 7, Seed: ${seed}, Size: 64x64`),
    );
  });

  it('matches dynamicprompts 0.31.0 for each random case: the file seed gives image 1, seed + 1 image 2', async () => {
    const library = await loadWildcardLibrary(new NodeFileSystem(), [path.join(FIXTURES, 'dynamic/wildcards')]);
    const { cases } = readFixture<{ cases: DynamicCase[] }>('dynamic/dynamic_cases.json');
    const random = cases.filter((c) => c.mode === 'random' && !/Variation seed strength/.test(c.prompt) && !/^Template:/m.test(c.prompt));
    assert.ok(random.length >= 3, `${random.length} random cases`);
    for (const c of random) {
      const seed = Number(/Seed: (\d+)/.exec(c.prompt)![1]);
      for (const [i, s] of [[0, undefined], [1, seed + 1]] as const) {
        if (i >= c.prompts.length) continue;
        const text = renderPrompt(c.prompt, on({ wildcards: library, seed: s })).promptText;
        const sections = parseSections(text);
        assert.strictEqual(text.slice(sections.positive.content.start, sections.positive.content.end), c.prompts[i], `${c.name} image ${i + 1}`);
        const negative = sections.negative ? text.slice(sections.negative.content.start, sections.negative.content.end) : '';
        assert.strictEqual(negative, (c.negativePrompts ?? [])[i] ?? '', `${c.name} image ${i + 1} negative`);
      }
    }
  });

  it('dynamic prompts off, or no dynamic parts: the text comes back unchanged', () => {
    assert.deepStrictEqual(renderPrompt(ball, on({ enabled: false })), { promptText: ball });
    const plain = 'a (red:1.2) ball, [day:night:5]\nNegative prompt: lowres\nSteps: 12, Seed: 7';
    assert.deepStrictEqual(renderPrompt(plain, on()), { promptText: plain });
  });

  it('a file without a seed gets one (random, as A1111 picks it) written where the render reads it', () => {
    const r = renderPrompt('{red|blue} ball\nSteps: 9, Sampler: Euler, CFG scale: 5', on({ randomSeed: () => 31337 }));
    assert.strictEqual(r.promptText.split('\n')[1], 'Steps: 9, Sampler: Euler, CFG scale: 5, Seed: 31337');
    const bare = renderPrompt('{red|blue} ball', on({ randomSeed: () => 5, defaultSteps: 30 }));
    assert.deepStrictEqual(bare.promptText.split('\n').slice(1), ['Steps: 30, Seed: 5', 'Template: {red|blue} ball']);
    assert.deepStrictEqual(parseSections(bare.promptText).templates?.positive !== undefined, true);
    const seedMinusOne = renderPrompt('{red|blue} ball\nSteps: 9, Seed: -1, CFG scale: 5', on({ randomSeed: () => 5 }));
    assert.strictEqual(seedMinusOne.promptText.split('\n')[1], 'Steps: 9, Seed: 5, CFG scale: 5');
  });

  it('a pasted image with Template: lines: the templates are expanded again and kept as they were', () => {
    const pasted = 'red ball\nSteps: 12, Seed: 8\nTemplate: {red|blue} ball';
    const r = renderPrompt(pasted, on({ seed: 7 }));
    assert.strictEqual(r.promptText, 'blue ball\nSteps: 12, Seed: 7\nTemplate: {red|blue} ball');
    assert.deepStrictEqual(r.template, { prompt: '{red|blue} ball', negativePrompt: '' });
  });

  it('a dynamic negative prompt is named in the variant; a long prompt is cut for the panel', () => {
    const r = renderPrompt(`${'word '.repeat(40)}{a|b}\nNegative prompt: {noise|grain}\nSteps: 5, Seed: 5`, on());
    assert.match(r.variant!, /^variant for seed 5: (word ){19}word… \(negative: (noise|grain)\)$/);
  });

  it('a template dynamicprompts cannot read: the text is rendered as it is, and the variant says why and where', () => {
    const r = renderPrompt('a {red|blue ball\nSteps: 5, Seed: 5', on());
    assert.strictEqual(r.promptText, 'a {red|blue ball\nSteps: 5, Seed: 5');
    assert.match(r.variant!, /^not expanded \(line 1, column \d+\): /);
  });
});
