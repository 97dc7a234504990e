import * as assert from 'assert';
import * as path from 'path';
import { main } from '../../../server/src/cli/main';
import { FIXTURES, readFixture } from '../fixtures';

/** The cases dynamicprompts 0.31.0 itself produced (test/fixtures/dynamic), each run through `sd-prompt expand`. */
interface DynamicCase {
  name: string;
  mode: 'random' | 'all';
  prompt: string;
  prompts: string[];
  negativePrompts?: string[];
}

const WILDCARDS = path.join(FIXTURES, 'dynamic/wildcards');

async function expand(args: string[], files: Record<string, string>) {
  let stdout = '';
  let stderr = '';
  const code = await main(['expand', ...args], {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    readFile: (p) => {
      if (!(p in files)) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      return files[p];
    },
    readStdin: () => '',
  });
  return { code, stdout, stderr };
}

describe('sd-prompt expand: the prompts sd-dynamic-prompts makes', () => {
  const { cases } = readFixture<{ cases: DynamicCase[] }>('dynamic/dynamic_cases.json');

  for (const c of cases) {
    it(`${c.name} (${c.mode}): the same prompts as dynamicprompts 0.31.0`, async () => {
      const args = ['case.prompt', '--wildcards', WILDCARDS, '--json', ...(c.mode === 'all' ? ['--all'] : [])];
      const r = await expand(args, { 'case.prompt': c.prompt });
      assert.strictEqual(r.stderr, '');
      assert.strictEqual(r.code, 0);
      const out = JSON.parse(r.stdout) as { prompts: string[]; negativePrompts: string[] };
      assert.deepStrictEqual(out.prompts, c.prompts);
      assert.deepStrictEqual(out.negativePrompts, c.negativePrompts ?? c.prompts.map(() => ''));
    });
  }

  it('text output: one prompt a line, each with its Negative prompt line when there is one', async () => {
    const basic = cases.find((c) => c.name === 'basic_batch3')!;
    const r = await expand(['b.prompt', '--wildcards', WILDCARDS], { 'b.prompt': basic.prompt });
    assert.strictEqual(r.code, 0);
    assert.strictEqual(
      r.stdout,
      'a short heron at noon\nNegative prompt: grain\na tall fox at dawn\nNegative prompt: noise\na short fox at noon\nNegative prompt: grain\n',
    );
    const pairs = cases.find((c) => c.name === 'pairs')!;
    const all = await expand(['p.prompt', '--all'], { 'p.prompt': pairs.prompt });
    assert.strictEqual(all.stdout, 'a,b\nb,a\n');
  });

  it("reads the Template: lines the extension writes after the parameters, not the image's own prompt", async () => {
    const file =
      'a short heron at noon\nNegative prompt: grain\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 5, Size: 512x512, Batch size: 3\n' +
      'Template: a {tall|short} __animals/forest__ at __times__\nNegative Template: {noise|grain}\n';
    const r = await expand(['t.prompt', '--wildcards', WILDCARDS, '--json'], { 't.prompt': file });
    assert.strictEqual(r.code, 0);
    const basic = cases.find((c) => c.name === 'basic_batch3')!;
    assert.deepStrictEqual(JSON.parse(r.stdout), { prompts: basic.prompts, negativePrompts: basic.negativePrompts });
  });

  it('Batch count multiplies the images; the seeds go on from Seed', async () => {
    const batch = 'a {tall|short} __animals/forest__ at __times__\nNegative prompt: {noise|grain}\nSteps: 20, Seed: 5, Size: 512x512, Batch size: 1, Batch count: 3\n';
    const r = await expand(['c.prompt', '--wildcards', WILDCARDS, '--json'], { 'c.prompt': batch });
    const basic = cases.find((c) => c.name === 'basic_batch3')!;
    assert.deepStrictEqual(JSON.parse(r.stdout).prompts, basic.prompts);
  });

  it('a wildcard with no file stays as written, as dynamicprompts leaves it', async () => {
    const r = await expand(['u.prompt', '--json'], { 'u.prompt': 'a __nothing__ here\nSteps: 20, Seed: 1, Size: 512x512\n' });
    assert.strictEqual(r.code, 0);
    assert.deepStrictEqual(JSON.parse(r.stdout).prompts, ['a __nothing__ here']);
  });

  it('a prompt dynamicprompts cannot read: file:line:column and the reason, exit 1', async () => {
    const r = await expand(['bad.prompt'], { 'bad.prompt': 'ok line\na {red|blue cat\nSteps: 20, Seed: 1, Size: 512x512\n' });
    assert.strictEqual(r.code, 1);
    assert.strictEqual(r.stdout, '');
    assert.strictEqual(r.stderr, "bad.prompt:2:3: Unbalanced braces: this '{' is never closed.\n");
    const negative = await expand(['n.prompt'], { 'n.prompt': 'a cat\nNegative prompt: blurry, 50% off\nSteps: 20, Seed: 1, Size: 512x512\n' });
    assert.strictEqual(negative.code, 1);
    assert.match(negative.stderr, /^n\.prompt:2:28: A '%' stops dynamicprompts/);
  });

  it('random mode needs a fixed Seed; --all does not', async () => {
    const file = '{a|b}\nSteps: 20, Seed: -1, Size: 512x512\n';
    const r = await expand(['s.prompt'], { 's.prompt': file });
    assert.strictEqual(r.code, 1);
    assert.match(r.stderr, /^s\.prompt:2:18: No fixed Seed/);
    const all = await expand(['s.prompt', '--all'], { 's.prompt': file });
    assert.strictEqual(all.code, 0);
    assert.strictEqual(all.stdout, 'a\nb\n');
  });

  it('bad usage exits 2 with the usage text', async () => {
    for (const args of [[], ['a.prompt', 'b.prompt'], ['a.prompt', '--wildcards'], ['a.prompt', '--max', '0'], ['a.prompt', '--frobnicate']]) {
      const r = await expand(args, { 'a.prompt': 'x' });
      assert.strictEqual(r.code, 2, args.join(' '));
      assert.match(r.stderr, /usage:\n/);
    }
    const missing = await expand(['a.prompt', '--wildcards', path.join(FIXTURES, 'dynamic/no-such-folder')], { 'a.prompt': 'x' });
    assert.strictEqual(missing.code, 2);
    assert.match(missing.stderr, /is not a folder/);
  });

  it('--all stops at --max and says so', async () => {
    const r = await expand(['m.prompt', '--all', '--max', '3', '--json'], { 'm.prompt': '{a|b|c|d}\nSteps: 20, Seed: 1, Size: 512x512\n' });
    assert.strictEqual(r.code, 0);
    assert.deepStrictEqual(JSON.parse(r.stdout).prompts, ['a', 'b', 'c']);
    assert.strictEqual(r.stderr, 'sd-prompt: stopped after 3 prompts (--max N lists more)\n');
  });

  it('--all with a wildcard no file gives: an error at it (dynamicprompts would repeat it forever)', async () => {
    const r = await expand(['m.prompt', '--all'], { 'm.prompt': 'x {2$$__nothing__|a}\nSteps: 20, Seed: 1, Size: 512x512\n' });
    assert.strictEqual(r.code, 1);
    assert.strictEqual(r.stderr, "m.prompt:1:7: No wildcard file gives '__nothing__': listing every combination of it would never end (dynamicprompts repeats it forever).\n");
  });
});
