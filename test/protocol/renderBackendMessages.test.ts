import * as assert from 'assert';
import { Diagnostic, DocumentDiagnosticRequest, ErrorCodes, ResponseError } from 'vscode-languageserver-protocol/node';
import { RENDER_PROMPT_REQUEST, RenderPromptResult, SERVER_LORAS_NOTIFICATION, ServerLorasParams } from '../../common/src/protocol';
import { main } from '../../server/src/cli/main';
import { ServerUnderTest, URI } from './serverUnderTest';

/** `sd-prompt expand FILE --json` on a text: the prompts the CLI lists for the file's seed. */
async function expandCli(text: string): Promise<string[]> {
  let stdout = '';
  const code = await main(['expand', 'f.prompt', '--json'], { stdout: (s) => (stdout += s), stderr: () => undefined, readFile: () => text, readStdin: () => '' });
  assert.strictEqual(code, 0);
  return (JSON.parse(stdout) as { prompts: string[] }).prompts;
}

describe('render backend messages over LSP: the server LoRA list and the render prompt', function () {
  this.timeout(20000);
  let server: ServerUnderTest;
  afterEach(() => server?.dispose());

  const pull = async () =>
    ((await server.connection.sendRequest(DocumentDiagnosticRequest.type, { textDocument: { uri: URI } })) as { items: Diagnostic[] }).items
      .filter((d) => String(d.code).startsWith('lora-'))
      .map((d) => [d.code, d.range.start.character, d.range.end.character, d.message]);

  it('sdPrompt/serverLoras: a LoRA the server lacks is a diagnostic while the list is known; a malformed list changes nothing', async () => {
    server = new ServerUnderTest();
    server.settings = {};
    await server.initialize(true);
    await server.open('a cat <lora:ink:1>, <lora:add_detial:0.5>');
    assert.deepStrictEqual(await pull(), []);
    const list: ServerLorasParams = { backend: 'a1111', server: 'http://gpu-box:7860', loras: [{ name: 'ink' }, { name: 'add_detail', alias: 'detail_tweaker' }] };
    await server.connection.sendNotification(SERVER_LORAS_NOTIFICATION, list);
    const missing = [
      'lora-missing-on-server',
      26,
      36,
      "The render server http://gpu-box:7860 (A1111) has no LoRA 'add_detial': a render there stops before it starts. Did you mean 'add_detail'?",
    ];
    // Messages are handled in order: the pull after the notification sees its list.
    assert.deepStrictEqual(await pull(), [missing]);
    await server.connection.sendNotification(SERVER_LORAS_NOTIFICATION, { ...list, loras: [{ name: 'ink' }, { alias: 'x' }] });
    assert.deepStrictEqual(await pull(), [missing]);
    assert.deepStrictEqual(
      server.logged.filter((line) => line.includes('sdPrompt/serverLoras')),
      ['ignored sdPrompt/serverLoras: params.loras[1].name should be a string, not missing'],
    );
    // The list unknown again (a local backend, or the server unreachable): nothing from it.
    await server.connection.sendNotification(SERVER_LORAS_NOTIFICATION, { ...list, loras: null, error: 'connection refused' });
    assert.deepStrictEqual(await pull(), []);
    assert.ok(server.logged.includes('the LoRA list of http://gpu-box:7860 is not known: connection refused'), server.logged.join('\n'));
  });

  it('sdPrompt/renderPrompt: the variant for the seed with Template: lines, as sd-prompt expand picks it; off: the text unchanged', async () => {
    server = new ServerUnderTest();
    server.settings = { dynamicPrompts: { enable: true } };
    await server.initialize(true);
    const text = '{red|blue} ball\nSteps: 12, Sampler: Euler a, CFG scale: 7, Seed: 7, Size: 64x64\n';
    const first = (await server.connection.sendRequest(RENDER_PROMPT_REQUEST, { text })) as RenderPromptResult;
    assert.deepStrictEqual(first, {
      promptText: 'blue ball\nSteps: 12, Sampler: Euler a, CFG scale: 7, Seed: 7, Size: 64x64\nTemplate: {red|blue} ball',
      template: { prompt: '{red|blue} ball', negativePrompt: '' },
      variant: 'variant for seed 7: blue ball',
    });
    assert.deepStrictEqual(await expandCli(text), ['blue ball']);
    const reseeded = (await server.connection.sendRequest(RENDER_PROMPT_REQUEST, { text, seed: 9 })) as RenderPromptResult;
    const expected = (await expandCli(text.replace('Seed: 7', 'Seed: 9')))[0];
    assert.strictEqual(reseeded.promptText, `${expected}\nSteps: 12, Sampler: Euler a, CFG scale: 7, Seed: 9, Size: 64x64\nTemplate: {red|blue} ball`);

    await assert.rejects(server.connection.sendRequest(RENDER_PROMPT_REQUEST, { text, seed: 1.5 }), (e: ResponseError<unknown>) => {
      assert.strictEqual(e.code, ErrorCodes.InvalidParams);
      assert.strictEqual(e.message, 'sdPrompt/renderPrompt: params.seed should be a whole number of -1 or more, not the number 1.5');
      return true;
    });

    server.settings = { dynamicPrompts: { enable: false } };
    await server.connection.sendNotification('workspace/didChangeConfiguration', { settings: null });
    assert.deepStrictEqual(await server.connection.sendRequest(RENDER_PROMPT_REQUEST, { text }), { promptText: text });
  });
});
