import * as assert from 'assert';
import { CancellationTokenSource, LSPErrorCodes, ResponseError } from 'vscode-languageserver';
import { runSafe } from '../../../server/src/runSafe';

describe('runSafe', () => {
  it('a failing request answers its empty result and logs a line that names the request', async () => {
    const logged: string[] = [];
    const result = await runSafe(
      'textDocument/diagnostic',
      new CancellationTokenSource().token,
      { items: [] },
      async () => {
        throw new TypeError('report.loras.map is not a function');
      },
      (m) => logged.push(m),
    );
    assert.deepStrictEqual(result, { items: [] });
    assert.strictEqual(logged.length, 1);
    assert.strictEqual(logged[0].split('\n')[0], 'textDocument/diagnostic failed: TypeError: report.loras.map is not a function');
  });

  it('a request cancelled before it runs answers RequestCancelled without running', async () => {
    const source = new CancellationTokenSource();
    source.cancel();
    let ran = false;
    const result = await runSafe('textDocument/hover', source.token, null, async () => {
      ran = true;
      return null;
    }, () => undefined);
    assert.ok(result instanceof ResponseError);
    assert.strictEqual(result.code, LSPErrorCodes.RequestCancelled);
    assert.strictEqual(ran, false);
  });
});
