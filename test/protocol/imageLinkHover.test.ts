import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { pathToFileURL } from 'url';
import { DidOpenTextDocumentNotification, Hover, HoverRequest } from 'vscode-languageserver-protocol/node';
import { encodePng } from '../../server/src/render/pipeline/png';
import { ServerUnderTest } from './serverUnderTest';

describe('hover on an image link over LSP: the image read from disk by the server', function () {
  this.timeout(20000);
  let server: ServerUnderTest;
  let folder: string;
  before(() => {
    folder = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-hover-'));
    fs.mkdirSync(path.join(folder, 'out'));
    const infotext = 'a red ball\nNegative prompt: lowres\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 7, Size: 8x8';
    fs.writeFileSync(path.join(folder, 'out', '00001-7.png'), encodePng(2, 2, new Uint8Array(12), { parameters: infotext }));
  });
  after(() => fs.rmSync(folder, { recursive: true, force: true }));
  afterEach(() => server?.dispose());

  it('a relative path in a comment, an absolute path and a missing file', async () => {
    server = new ServerUnderTest();
    await server.initialize(true);
    const uri = pathToFileURL(path.join(folder, 'ball.prompt')).href;
    const absolute = path.join(folder, 'out', '00001-7.png').split(path.sep).join('/');
    const text = `a cat # from out/00001-7.png\n${absolute}\nout/gone.png`;
    await server.connection.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri, languageId: 'sd-prompt', version: 1, text } });
    const hoverAt = async (line: number, character: number) =>
      ((await server.connection.sendRequest(HoverRequest.type, { textDocument: { uri }, position: { line, character } })) as Hover | null);
    const relative = await hoverAt(0, 15);
    assert.deepStrictEqual(relative?.range, { start: { line: 0, character: 13 }, end: { line: 0, character: 28 } });
    assert.strictEqual(
      (relative!.contents as { value: string }).value,
      `**Generation data** (A1111, PNG) of \`${absolute}\`\n\n\`\`\`text\na red ball\nNegative prompt: lowres\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 7, Size: 8x8\n\`\`\``,
    );
    assert.deepStrictEqual((await hoverAt(1, 3))?.contents, relative!.contents);
    const missing = path.join(folder, 'out', 'gone.png').split(path.sep).join('/');
    assert.strictEqual(((await hoverAt(2, 5))!.contents as { value: string }).value, `\`${missing}\`: no such file.`);
  });
});
