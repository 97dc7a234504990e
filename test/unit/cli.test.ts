import * as assert from 'assert';
import * as path from 'path';
import { main } from '../../server/src/cli/main';
import { NodeFileSystem } from '../../server/src/node/nodeFileSystem';
import { loadTokenizer } from '../../server/src/service/tokens/tokenizerFiles';
import { FIXTURES, readFixture } from './fixtures';

/** Runs the CLI with in-memory files and standard input. */
async function cli(args: string[], files: Record<string, string> = {}, stdin = '') {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    readFile: (p) => {
      if (!(p in files)) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      return files[p];
    },
    readStdin: () => stdin,
  });
  return { code, stdout, stderr };
}

describe('sd-prompt CLI', () => {
  const files = {
    'good.prompt': 'a cat, (fluffy:1.2)\nSteps: 20, Sampler: Euler a, CFG scale: 7',
    'bad.prompt': 'a <lora:x:abc>, <lora: y :0.5>',
  };

  it('check: file:line:col severity code message, exit 1 on an error', async () => {
    const r = await cli(['check', 'good.prompt', 'bad.prompt'], files);
    assert.strictEqual(r.code, 1);
    assert.deepStrictEqual(
      r.stdout.trim().split('\n').map((l) => l.split(' ').slice(0, 3).join(' ')),
      ['bad.prompt:1:11 error lora-weight-invalid', 'bad.prompt:1:23 warning tag-name-whitespace'],
    );
  });

  it('check: exit 0 with warnings only, JSON with LSP ranges', async () => {
    const r = await cli(['check', '--format', 'json', 'w.prompt'], { 'w.prompt': '<lora:x:1.5>' });
    assert.strictEqual(r.code, 0);
    assert.deepStrictEqual(JSON.parse(r.stdout), [
      {
        file: 'w.prompt',
        range: { start: { line: 0, character: 8 }, end: { line: 0, character: 11 } },
        severity: 'warning',
        code: 'lora-weight-range',
        message: JSON.parse(r.stdout)[0].message,
      },
    ]);
    assert.match(JSON.parse(r.stdout)[0].message, /above the usual range 0 to 1/);
  });

  it('bad usage exits 2 with a message', async () => {
    assert.strictEqual((await cli([])).code, 2);
    assert.strictEqual((await cli(['check'])).code, 2);
    assert.strictEqual((await cli(['check', '--format', 'xml', 'a'])).code, 2);
    const missing = await cli(['check', 'nope.prompt']);
    assert.strictEqual(missing.code, 2);
    assert.match(missing.stderr, /cannot read nope.prompt: no such file/);
    assert.strictEqual((await cli(['explain', '--steps', 'x', '-'])).code, 2);
  });

  it('explain: A1111 function results in fixture shapes, with Python floats', async () => {
    const r = await cli(['explain', '--steps', '10', '-'], {}, 'a (b:1.5) [c:d:5] <lora:x:0.5> AND e:2');
    assert.strictEqual(r.code, 0);
    const out = JSON.parse(r.stdout);
    assert.deepStrictEqual(out.parse_prompt, {
      prompt: 'a (b:1.5) [c:d:5]  AND e:2',
      extra_networks: { lora: [{ items: ['x', '0.5'], positional: ['x', '0.5'], named: {} }] },
    });
    assert.deepStrictEqual(out.get_learned_conditioning_prompt_schedules, [
      [5, 'a (b:1.5) c <lora:x:0.5> AND e:2'],
      [10, 'a (b:1.5) d <lora:x:0.5> AND e:2'],
    ]);
    assert.deepStrictEqual(out.get_multicond_prompt_list.res_indexes, [[[0, 1], [1, 2]]]);
    assert.deepStrictEqual(out.pipeline.lora_activation_args, [{ name: 'x', te_multiplier: 0.5, unet_multiplier: 0.5, dyn_dim: null }]);
    assert.deepStrictEqual(
      out.pipeline.subprompts.map((s: { text: string; schedule: { end_at_step: number }[] }) => [s.text, s.schedule.map((x) => x.end_at_step)]),
      [['a (b:1.5) [c:d:5]', [5, 10]], [' e', [10]]],
    );
    // Python's json.dumps prints floats with a decimal point and BREAK's int -1 without.
    assert.match(r.stdout, /"res_indexes": \[\s*\[\s*\[\s*0,\s*1\.0\s*\],\s*\[\s*1,\s*2\.0\s*\]/);
    const br = await cli(['explain', '-'], {}, 'a BREAK b');
    assert.match(br.stdout, /"BREAK",\s*-1\n/);
  });

  it('explain --old-scheduling and --hires-steps change the schedule as A1111 does', async () => {
    // `1.0` is a fraction (all 10 steps) in the new scheduling and step 1 in the old; with hires
    // steps, whole numbers count from the base steps and fractions from 1.0 (A1111 1.6+).
    const schedules = async (...args: string[]) =>
      JSON.parse((await cli(['explain', ...args, '-'], {}, '[a:b:1.0] [c:d:15] [e:f:1.5]')).stdout).get_learned_conditioning_prompt_schedules;
    assert.deepStrictEqual(await schedules('--steps', '10'), [[10, 'a c e']]);
    assert.deepStrictEqual(await schedules('--steps', '10', '--old-scheduling'), [[1, 'a c e'], [10, 'b c f']]);
    assert.deepStrictEqual(await schedules('--steps', '10', '--hires-steps', '20'), [[5, 'b c e'], [10, 'b d e'], [20, 'b d f']]);
    assert.strictEqual((await cli(['explain', '--hires-steps', '0', '-'])).code, 2);
  });

  it('check --format=json is --format json', async () => {
    const files = { 'w.prompt': '<lora:x:1.5>' };
    assert.strictEqual((await cli(['check', '--format=json', 'w.prompt'], files)).stdout, (await cli(['check', '--format', 'json', 'w.prompt'], files)).stdout);
    assert.strictEqual(JSON.parse((await cli(['check', '--format=json', 'w.prompt'], files)).stdout)[0].code, 'lora-weight-range');
  });

  it('explain of a .prompt file uses its positive prompt and its Steps', async () => {
    const r = await cli(['explain', 'f.prompt'], { 'f.prompt': '[a:b:0.5] # note\nNegative prompt: x\nSteps: 30, Sampler: Euler, CFG scale: 7' });
    const out = JSON.parse(r.stdout);
    assert.deepStrictEqual(out.get_learned_conditioning_prompt_schedules, [[15, 'a \n'], [30, 'b \n']]);
  });
});

describe('sd-prompt tokens', function () {
  // Each run loads CLIP's 49,408-entry vocabulary: seconds on a loaded 2-core machine.
  this.timeout(20000);
  const fsNode = new NodeFileSystem();
  const clip = path.join(FIXTURES, 'clip');
  const run = async (args: string[], stdin: string, files: Record<string, string> = {}) => {
    let stdout = '';
    let stderr = '';
    const code = await main(args, {
      stdout: (s) => (stdout += s),
      stderr: (s) => (stderr += s),
      readFile: (p) => files[p],
      readStdin: () => stdin,
      loadTokenizer: (dir) => loadTokenizer(fsNode, { tokenizerPath: dir, home: '/nonexistent-home' }),
    });
    return { code, stdout, stderr };
  };
  const reference = readFixture<{ cases: { prompt: string; ids: number[]; n_tokens: number }[] }>('clip/reference_tokens.json');

  for (const c of reference.cases) {
    it(`--raw gives CLIP's ids: ${JSON.stringify(c.prompt).slice(0, 60)}`, async () => {
      const r = await run(['tokens', '--raw', '--json', '--tokenizer', clip, '-'], c.prompt);
      const out = JSON.parse(r.stdout);
      assert.deepStrictEqual([out.ids, out.count, out.approximate], [c.ids, c.n_tokens, false]);
    });
  }

  it('the webui counter: a BREAK b is 76/150, empty is 0/75, chunk offsets in the input', async () => {
    const br = JSON.parse((await run(['tokens', '--json', '--tokenizer', clip, '-'], 'a BREAK b')).stdout);
    assert.deepStrictEqual(br, {
      ids: [320, 321],
      count: 76,
      target: 150,
      chunks: [{ start: 0, end: 1, tokens: 1 }, { start: 8, end: 9, tokens: 1 }],
      approximate: false,
    });
    const empty = JSON.parse((await run(['tokens', '--json', '--tokenizer', clip, '-'], '')).stdout);
    assert.deepStrictEqual([empty.count, empty.target, empty.ids], [0, 75, []]);
    // Comments and tags are removed; emphasis is applied (no bracket tokens).
    const file = 'a cat, <lora:x:1> (dog:1.2) # comment\nSteps: 20, Sampler: Euler a, CFG scale: 7';
    const r = JSON.parse((await run(['tokens', '--json', '--tokenizer', clip, 'f.prompt'], '', { 'f.prompt': file })).stdout);
    assert.deepStrictEqual([r.ids, r.count, r.chunks], [[320, 2368, 267, 1929], 4, [{ start: 0, end: 22, tokens: 4 }]]);
  });

  it('a missing tokenizer folder: a clear message and an approximate count', async () => {
    const r = await run(['tokens', '--tokenizer', '/no/such/folder', '-'], 'a photo of a cat');
    assert.strictEqual(r.code, 0);
    assert.match(r.stderr, /\/no\/such\/folder \(no vocab\.json or merges\.txt\)/);
    assert.strictEqual(r.stdout.split('\n')[0], '≈5/75 tokens (approximate: no tokenizer files found)');
  });
});
