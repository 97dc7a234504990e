import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../../../server/src/cli/main';
import { a1111Exif, jpeg, jpegExif, pngWithText } from './imageBuilders';

async function importCli(...args: string[]) {
  let stdout = '';
  let stderr = '';
  let both = '';
  const code = await main(['import', ...args], {
    stdout: (s) => ((stdout += s), (both += s)),
    stderr: (s) => ((stderr += s), (both += s)),
    readFile: () => assert.fail('import reads images itself'),
    readStdin: () => assert.fail('import reads no standard input'),
  });
  return { code, stdout, stderr, both };
}

describe('sd-prompt import IMAGE...', () => {
  let dir: string;
  const infotext = 'a lighthouse at dusk\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 9, Size: 512x512';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-cli-import-'));
    fs.writeFileSync(path.join(dir, 'a.png'), pngWithText({ parameters: infotext }));
    fs.writeFileSync(path.join(dir, 'b.jpg'), jpeg([jpegExif(a1111Exif('a fox\nSteps: 5, Seed: 1'))]));
    fs.writeFileSync(path.join(dir, 'plain.png'), pngWithText({}));
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'hello');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("prints one image's generation data as the .prompt, exit 0", async () => {
    const r = await importCli(path.join(dir, 'a.png'));
    assert.deepStrictEqual([r.code, r.stdout, r.stderr], [0, infotext + '\n', '']);
  });

  it('prints each of several images under a header line, names each file without data on stderr, and exits 1 at the end', async () => {
    const [a, b, plain, txt, missing] = ['a.png', 'b.jpg', 'plain.png', 'notes.txt', 'gone.png'].map((f) => path.join(dir, f));
    const r = await importCli(a, plain, b, txt, missing);
    assert.strictEqual(r.code, 1);
    assert.strictEqual(r.stdout, `# ==> ${a} <==\n${infotext}\n# ==> ${b} <==\na fox\nSteps: 5, Seed: 1\n`);
    assert.strictEqual(
      r.stderr,
      [
        `sd-prompt: ${plain}: PNG has no generation data (no text chunks)`,
        `sd-prompt: ${txt}: not a PNG, JPEG or WebP image (unknown signature)`,
        `sd-prompt: ${missing}: cannot read: no such file`,
        '',
      ].join('\n'),
    );
    // In file order: each error line where that file's .prompt would have been.
    assert.ok(r.both.indexOf(`sd-prompt: ${plain}:`) < r.both.indexOf(`# ==> ${b} <==`));
    assert.ok(r.both.indexOf(`# ==> ${a} <==`) < r.both.indexOf(`sd-prompt: ${plain}:`));
  });

  it('--json gives file, source, prompt, negativePrompt, parameters, notes and text, or the error', async () => {
    const [a, plain] = ['a.png', 'plain.png'].map((f) => path.join(dir, f));
    const r = await importCli('--json', a, plain);
    assert.strictEqual(r.code, 1);
    assert.deepStrictEqual(JSON.parse(r.stdout), [
      {
        file: a,
        source: 'a1111',
        prompt: 'a lighthouse at dusk',
        negativePrompt: 'blurry',
        parameters: { Steps: '20', Sampler: 'Euler a', 'CFG scale': '7', Seed: '9', Size: '512x512' },
        notes: [],
        text: infotext,
      },
      { file: plain, error: 'PNG has no generation data (no text chunks)' },
    ]);
  });

  it('refuses no files and unknown options as usage errors (exit 2)', async () => {
    const none = await importCli();
    assert.strictEqual(none.code, 2);
    assert.match(none.stderr, /^sd-prompt: import needs one or more IMAGE files \(PNG, JPEG or WebP\)\n/);
    const bad = await importCli('--yaml', 'x.png');
    assert.strictEqual(bad.code, 2);
    assert.match(bad.stderr, /^sd-prompt: unknown option '--yaml'\n/);
  });
});
