import * as assert from 'assert';
import { ServerRestartPolicy } from '../../../client/src/serverRestarts';

describe('language server restarts', () => {
  it('restarts four times within three minutes, then stays stopped with one message', () => {
    let now = 0;
    const policy = new ServerRestartPolicy(4, 180_000, () => now);
    for (let i = 0; i < 4; i++) {
      now += 10_000;
      assert.strictEqual(policy.closed(), 'restart');
    }
    now += 10_000;
    assert.deepStrictEqual(policy.closed(), {
      stop: 'The SD Prompt language server stopped 5 times in 3 minutes and was not restarted: diagnostics, hover and completion are off until the window is reloaded.',
    });
  });

  it('crashes spread over more than three minutes keep being restarted', () => {
    let now = 0;
    const policy = new ServerRestartPolicy(4, 180_000, () => now);
    for (let i = 0; i < 12; i++) {
      now += 60_000;
      assert.strictEqual(policy.closed(), 'restart', `crash ${i + 1}`);
    }
  });
});
