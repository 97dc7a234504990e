// Select Render Device's list: this computer's devices first, then the backends named with their server.
import * as assert from 'assert';
import { renderTargetItems } from '../../../client/src/backends/renderTargetItems';
import { DEVICE_SETTINGS, DeviceSetting } from '../../../common/src/renderDevices';

const DESCRIPTIONS = Object.fromEntries(DEVICE_SETTINGS.map((d) => [d, `about ${d}`])) as Record<DeviceSetting, string>;

describe('client: Select Render Device items', () => {
  it('local: the devices, the current one marked, then the three backends asking for a URL', () => {
    const { items, current } = renderTargetItems(DEVICE_SETTINGS, DESCRIPTIONS, { device: 'cpu', backend: 'local', server: '' });
    assert.deepStrictEqual(
      items.map((i) => i.label),
      ['auto', 'webgpu', 'cuda', 'dml', 'coreml', 'cpu', 'AUTOMATIC1111/Forge…', 'ComfyUI…', 'SwarmUI…'],
    );
    assert.strictEqual(current, 'cpu');
    assert.deepStrictEqual(items.filter((i) => i.description.endsWith('(current)')).map((i) => i.label), ['cpu']);
    assert.deepStrictEqual(items.slice(6).map((i) => i.backend), ['a1111', 'comfyui', 'swarmui']);
  });

  it('a backend with a server: each backend named with the URL, the chosen one current, no device current', () => {
    const { items, current } = renderTargetItems(DEVICE_SETTINGS, DESCRIPTIONS, { device: 'cpu', backend: 'comfyui', server: 'http://gpu.lan:8188' });
    assert.deepStrictEqual(items.slice(6).map((i) => i.label), ['AUTOMATIC1111/Forge at http://gpu.lan:8188', 'ComfyUI at http://gpu.lan:8188', 'SwarmUI at http://gpu.lan:8188']);
    assert.strictEqual(current, 'ComfyUI at http://gpu.lan:8188');
    assert.deepStrictEqual(items.filter((i) => i.description.endsWith('(current)')).map((i) => i.label), ['ComfyUI at http://gpu.lan:8188']);
  });
});
