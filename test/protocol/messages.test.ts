import * as assert from 'assert';
import { Diagnostic, DocumentDiagnosticRequest, ErrorCodes, ResponseError } from 'vscode-languageserver-protocol/node';
import { GENERATION_DATA_REQUEST, MERGE_REPORT_NOTIFICATION, MergeReportParams, TOKEN_COUNT_REQUEST } from '../../common/src/protocol';
import { ServerUnderTest, URI } from './serverUnderTest';

describe("the extension's messages are checked where they enter the server", function () {
  this.timeout(20000);
  let server: ServerUnderTest;
  afterEach(() => server?.dispose());

  const pull = async () =>
    ((await server.connection.sendRequest(DocumentDiagnosticRequest.type, { textDocument: { uri: URI } })) as { items: Diagnostic[] }).items.map((d) => [
      d.code,
      d.range.start.character,
      d.range.end.character,
    ]);

  it('a merge report whose loras is not an array is refused with its field named, and later diagnostics still come', async () => {
    server = new ServerUnderTest();
    await server.initialize(true);
    await server.open('a cat <lora:old:1.5>');
    assert.deepStrictEqual(await pull(), [['lora-weight-range', 16, 19]]);
    await server.connection.sendNotification(MERGE_REPORT_NOTIFICATION, { textDocument: { uri: URI }, model: 'sd15-onnx', loras: { old: 'broken' } });
    // Messages are handled in order, and the log line goes out before the answer to the pull after it.
    assert.deepStrictEqual(await pull(), [['lora-weight-range', 16, 19]]);
    assert.deepStrictEqual(
      server.logged.filter((line) => line.includes('sdPrompt/mergeReport')),
      ['ignored sdPrompt/mergeReport: params.loras should be an array, not an object'],
    );
    // A good report after the bad one shows as before.
    const good: MergeReportParams = {
      textDocument: { uri: URI },
      model: 'sd15-onnx',
      loras: [{ name: 'old', matched: 0, unmatched: [], mismatched: [], error: 'cloneofsimo keys: not supported' }],
    };
    await server.connection.sendNotification(MERGE_REPORT_NOTIFICATION, good);
    assert.deepStrictEqual(await pull(), [
      ['lora-merge-failed', 12, 15],
      ['lora-weight-range', 16, 19],
    ]);
  });

  it('a bad entry deep in a merge report is named by its index, and the report the file had stays', async () => {
    server = new ServerUnderTest();
    await server.initialize(true);
    await server.open('a cat <lora:old:1>');
    const good: MergeReportParams = {
      textDocument: { uri: URI },
      model: 'sd15-onnx',
      loras: [{ name: 'old', matched: 0, unmatched: [], mismatched: [], error: 'cloneofsimo keys: not supported' }],
    };
    await server.connection.sendNotification(MERGE_REPORT_NOTIFICATION, good);
    assert.deepStrictEqual(await pull(), [['lora-merge-failed', 12, 15]]);
    await server.connection.sendNotification(MERGE_REPORT_NOTIFICATION, {
      ...good,
      loras: [{ name: 'old', matched: 1, unmatched: [], mismatched: [] }, { name: 'new', matched: 1, unmatched: ['a', 7], mismatched: [] }],
    });
    assert.deepStrictEqual(await pull(), [['lora-merge-failed', 12, 15]]);
    assert.deepStrictEqual(
      server.logged.filter((line) => line.includes('sdPrompt/mergeReport')),
      ['ignored sdPrompt/mergeReport: params.loras[1].unmatched[1] should be a string, not the number 7'],
    );
  });

  it('a request with params of the wrong shape answers InvalidParams naming the request and the field', async () => {
    server = new ServerUnderTest();
    await server.initialize(true);
    await server.open('a cat');
    await assert.rejects(server.connection.sendRequest(GENERATION_DATA_REQUEST, { text: 5 }), (e: ResponseError<unknown>) => {
      assert.strictEqual(e.code, ErrorCodes.InvalidParams);
      assert.strictEqual(e.message, 'sdPrompt/generationData: params.text should be a string, not the number 5');
      return true;
    });
    await assert.rejects(server.connection.sendRequest(TOKEN_COUNT_REQUEST, { textDocument: { uri: URI }, position: { line: -1, character: 0 } }), (e: ResponseError<unknown>) => {
      assert.strictEqual(e.message, 'sdPrompt/tokenCount: params.position.line should be a whole number of 0 or more, not the number -1');
      return true;
    });
    // The server goes on answering.
    assert.deepStrictEqual(await server.connection.sendRequest(GENERATION_DATA_REQUEST, { text: 'a cat' }), { infotext: 'a cat' });
  });
});
