import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CodeActionRequest, CompletionRequest, Diagnostic } from 'vscode-languageserver-protocol/node';
import { FIXTURES } from '../unit/fixtures';
import { ServerUnderTest, URI } from './serverUnderTest';

describe('language server over stdio: tag lists', function () {
  this.timeout(20000);
  let server: ServerUnderTest;
  afterEach(() => server?.dispose());

  it("reads the webui's tagcomplete lists: completion, tag-parens-unescaped with its fix, a list edited on disk", async () => {
    const webui = fs.mkdtempSync(path.join(os.tmpdir(), 'sd-prompt-tags-'));
    try {
      const tags = path.join(webui, 'extensions', 'a1111-sd-webui-tagcomplete', 'tags');
      fs.mkdirSync(tags, { recursive: true });
      fs.copyFileSync(path.join(FIXTURES, 'tags', 'danbooru.csv'), path.join(tags, 'danbooru.csv'));
      server = new ServerUnderTest();
      server.settings = { webuiPath: webui };
      await server.initialize(false);
      const text = 'star (symbol), ahri (league of legends), lo';
      await server.open(text);
      /** The first publish, from the `from`-th on, with `count` tag-parens-unescaped warnings (awaited, no sleeps). */
      const publishedWith = async (count: number, from = 0) => {
        for (let i = from; ; i++) {
          const found = (await server.publishAfter(i)).diagnostics.filter((d: Diagnostic) => d.code === 'tag-parens-unescaped');
          if (found.length === count) return found;
        }
      };
      // The lists load after initialization; the warning shows they did.
      const first = await publishedWith(1);
      assert.deepStrictEqual(first[0].range, { start: { line: 0, character: 0 }, end: { line: 0, character: 13 } });
      const actions = await server.connection.sendRequest(CodeActionRequest.type, {
        textDocument: { uri: URI },
        range: first[0].range,
        context: { diagnostics: [first[0]] },
      });
      assert.deepStrictEqual(actions!.map((a) => a.title), ["Escape the brackets: 'star \\(symbol\\)'"]);

      const completion = await server.connection.sendRequest(CompletionRequest.type, { textDocument: { uri: URI }, position: { line: 0, character: text.length } });
      assert.ok(completion && !Array.isArray(completion));
      assert.strictEqual(completion.isIncomplete, true);
      assert.deepStrictEqual(
        completion.items.map((i) => [i.label, i.detail]),
        [
          ['long hair', 'general · 4.4M'],
          ['looking at viewer', 'general · 3.3M'],
          ['long sleeves', 'general · 1.6M'],
        ],
      );

      // A tag added to the list on disk: its unescaped brackets are reported without reopening anything.
      const before = server.publishCount;
      fs.appendFileSync(path.join(tags, 'danbooru.csv'), 'ahri_(league_of_legends),4,4127,ahri\n');
      const second = await publishedWith(2, before);
      assert.deepStrictEqual(second[1].range, { start: { line: 0, character: 15 }, end: { line: 0, character: 39 } });
      assert.deepStrictEqual(
        server.logged.filter((m) => m.startsWith('tags: ')).map((m) => m.replace(/\d+ ms$/, 'N ms')),
        ['tags: 31 tags from 1 list(s) read in N ms', 'tags: 32 tags from 1 list(s) read in N ms'],
      );
    } finally {
      fs.rmSync(webui, { recursive: true, force: true });
    }
  });
});
