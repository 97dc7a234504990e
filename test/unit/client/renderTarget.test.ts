// Where Render Preview renders, from sdPrompt.render.backend / sdPrompt.render.server, and how a server's
// credentials are keyed: the pure choices behind the extension's backend settings.
import * as assert from 'assert';
import { credentialKey, describeTarget, normalizeServerUrl, renderTarget } from '../../../client/src/backends/renderTarget';

describe('client: render target from the backend settings', () => {
  it('local (or an empty setting) renders on this computer whatever the server says', () => {
    assert.deepStrictEqual(renderTarget('local', 'http://127.0.0.1:7860'), { kind: 'local' });
    assert.deepStrictEqual(renderTarget('', ''), { kind: 'local' });
  });

  it('a backend with a server URL gets the URL normalized (no trailing slash, no credentials, no query)', () => {
    assert.deepStrictEqual(renderTarget('a1111', ' http://127.0.0.1:7860/ '), { kind: 'a1111', url: 'http://127.0.0.1:7860' });
    assert.deepStrictEqual(renderTarget('comfyui', 'https://user:pw@gpu.lan:8443/comfy/?x=1'), { kind: 'comfyui', url: 'https://gpu.lan:8443/comfy' });
    assert.deepStrictEqual(renderTarget('swarmui', 'HTTP://Gpu.Lan:7801'), { kind: 'swarmui', url: 'http://gpu.lan:7801' });
  });

  it('a backend without a usable server, or an unknown backend, says what to set', () => {
    assert.deepStrictEqual(renderTarget('a1111', ''), {
      problem: 'sdPrompt.render.backend is a1111, but sdPrompt.render.server names no server: set its URL (e.g. http://127.0.0.1:7860)',
    });
    assert.deepStrictEqual(renderTarget('comfyui', 'ftp://gpu.lan'), {
      problem: "sdPrompt.render.server 'ftp://gpu.lan' is not an http:// or https:// URL (e.g. http://127.0.0.1:7860)",
    });
    assert.deepStrictEqual(renderTarget('comfyui', '127.0.0.1:8188'), {
      problem: "sdPrompt.render.server '127.0.0.1:8188' is not an http:// or https:// URL (e.g. http://127.0.0.1:7860)",
    });
    assert.deepStrictEqual(renderTarget('invokeai', 'http://x'), { problem: "sdPrompt.render.backend 'invokeai' is none of local, a1111, comfyui, swarmui" });
  });

  it('credentials are keyed per server: the same server however written, another port or host never', () => {
    assert.strictEqual(credentialKey('http://127.0.0.1:7860/'), 'sdPrompt.renderServer:http://127.0.0.1:7860');
    assert.strictEqual(credentialKey('http://127.0.0.1:7860'), credentialKey(' http://127.0.0.1:7860// '));
    assert.notStrictEqual(credentialKey('http://127.0.0.1:7860'), credentialKey('http://127.0.0.1:7861'));
    assert.notStrictEqual(credentialKey('http://127.0.0.1:7860'), credentialKey('https://127.0.0.1:7860'));
    assert.notStrictEqual(credentialKey('http://gpu.lan/a'), credentialKey('http://gpu.lan/b'));
    assert.strictEqual(normalizeServerUrl('not a url'), undefined);
  });

  it('names the target as the status bar and messages say it', () => {
    assert.strictEqual(describeTarget({ kind: 'a1111', url: 'http://127.0.0.1:7860' }, 'cpu'), 'AUTOMATIC1111/Forge at http://127.0.0.1:7860');
    assert.strictEqual(describeTarget({ kind: 'local' }, 'webgpu'), 'this computer (webgpu)');
  });
});
