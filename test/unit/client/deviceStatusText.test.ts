// The render status bar item: where renders run, and what ran the last one.
import * as assert from 'assert';
import { deviceStatusText } from '../../../client/src/deviceStatusText';

describe('client: render status bar text', () => {
  it('a backend: its name, and the server in the tooltip with the last render there', () => {
    const settings = { device: 'cpu', backend: 'a1111', server: 'http://gpu.lan:7860/' };
    assert.deepStrictEqual(deviceStatusText(settings, undefined), {
      text: '$(cloud) a1111',
      tooltip: 'Renders on AUTOMATIC1111/Forge at http://gpu.lan:7860. Click to change.',
    });
    assert.deepStrictEqual(deviceStatusText(settings, { device: 'a1111', server: 'http://gpu.lan:7860' }), {
      text: '$(cloud) a1111',
      tooltip: 'Renders on AUTOMATIC1111/Forge at http://gpu.lan:7860 (the last render ran on AUTOMATIC1111/Forge at http://gpu.lan:7860). Click to change.',
    });
  });

  it('local: the device, and the one auto picked', () => {
    const settings = { device: 'auto', backend: 'local', server: '' };
    assert.deepStrictEqual(deviceStatusText(settings, { device: 'cpu' }), { text: '$(chip) auto: cpu', tooltip: 'Render device: auto (the last render ran on cpu). Click to change.' });
    // Back to local after a server render: the device, the tooltip says where the last one ran.
    assert.deepStrictEqual(deviceStatusText(settings, { device: 'comfyui', server: 'http://gpu.lan:8188' }), {
      text: '$(chip) auto',
      tooltip: 'Render device: auto (the last render ran on ComfyUI at http://gpu.lan:8188). Click to change.',
    });
  });

  it('a backend without a server: a warning that says what to set', () => {
    assert.deepStrictEqual(deviceStatusText({ device: 'cpu', backend: 'swarmui', server: '' }, undefined), {
      text: '$(warning) swarmui',
      tooltip: 'Render backend: sdPrompt.render.backend is swarmui, but sdPrompt.render.server names no server: set its URL (e.g. http://127.0.0.1:7860). Click to change.',
    });
  });
});
