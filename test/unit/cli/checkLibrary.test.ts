import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../../../server/src/cli/main';
import { kohyaSd15, peftSd15 } from '../library/build';

/** `sd-prompt check` in this process: prompts from memory, LoRA folders on disk. */
async function check(args: string[], files: Record<string, string>) {
  let stdout = '';
  let stderr = '';
  const code = await main(['check', ...args], {
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

describe('sd-prompt check --lora-dir', () => {
  let lora: string;
  let lycoris: string;
  before(() => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-cli-check-'));
    lora = path.join(root, 'Lora');
    lycoris = path.join(root, 'LyCORIS');
    fs.mkdirSync(lora);
    fs.mkdirSync(lycoris);
    fs.writeFileSync(path.join(lora, 'catStyle_v2.safetensors'), kohyaSd15({ ss_output_name: 'catStyle' }));
    fs.writeFileSync(path.join(lora, 'catStyle_v2.json'), JSON.stringify({ 'activation text': 'catstyle' }));
    fs.writeFileSync(path.join(lora, 'old.pt'), 'a pickle');
    fs.writeFileSync(path.join(lycoris, 'peft.safetensors'), peftSd15());
  });
  after(() => fs.rmSync(path.dirname(lora), { recursive: true, force: true }));

  const prompt = 'a photo, <lora:catStyle:0.8>, <lora:nope:1>, <lora:old:1>, <lora:peft:1>, <lora:catStyl:1>';

  it('with LoRA folders (repeatable) the library diagnostics appear, cards included', async () => {
    const r = await check(['--lora-dir', lora, '--lora-dir', lycoris, 'p.prompt'], { 'p.prompt': prompt });
    assert.deepStrictEqual([r.code, r.stderr], [0, '']);
    assert.deepStrictEqual(r.stdout.split('\n'), [
      "p.prompt:1:16 hint lora-trigger-missing None of 'catStyle_v2''s trigger words is in the prompt (catstyle): many LoRAs do little without them.",
      `p.prompt:1:37 warning lora-unknown No LoRA named 'nope' in your LoRA folders: A1111 skips it ("networks not found").`,
      "p.prompt:1:52 warning lora-pickle 'old.pt' is a Python pickle: opening it can run any code in it. sd-prompt never opens it; prefer a .safetensors version.",
      "p.prompt:1:66 warning lora-key-style 'peft' stores PEFT/diffusers keys: A1111 loads it and silently applies nothing. It works in ComfyUI and in sd-prompt's renderer.",
      `p.prompt:1:81 warning lora-unknown No LoRA named 'catStyl' in your LoRA folders: A1111 skips it ("networks not found"). Did you mean 'catStyle'?`,
      '',
    ]);
  });

  it('without --lora-dir there are no library diagnostics; a --lora-dir that is not a folder is bad usage', async () => {
    const r = await check(['p.prompt'], { 'p.prompt': prompt });
    assert.deepStrictEqual([r.code, r.stdout], [0, '']);
    const missing = await check(['--lora-dir', path.join(lora, 'nope'), 'p.prompt'], { 'p.prompt': prompt });
    assert.strictEqual(missing.code, 2);
    assert.match(missing.stderr, new RegExp(`^sd-prompt: --lora-dir ${path.join(lora, 'nope')} is not a folder\n`));
    assert.strictEqual((await check(['--lora-dir'], {})).code, 2);
  });
});
