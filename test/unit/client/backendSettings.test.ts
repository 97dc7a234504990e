// The backend settings as VS Code reads them from package.json: the choices the engine has, and the
// protection that an untrusted workspace cannot point renders (and so the prompts) at its own server.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { BACKEND_KINDS } from '../../../server/src/render/api';

const manifest = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../../package.json'), 'utf8'));
const properties: Record<string, { enum?: string[]; default?: unknown; scope?: string; markdownDescription?: string }> = manifest.contributes.configuration.properties;

describe('client: backend settings in package.json', () => {
  it('sdPrompt.render.backend offers local and every backend the engine has, local by default', () => {
    const backend = properties['sdPrompt.render.backend'];
    assert.deepStrictEqual(backend.enum, ['local', ...BACKEND_KINDS]);
    assert.strictEqual(backend.default, 'local');
    assert.strictEqual(properties['sdPrompt.render.server'].default, '');
  });

  it('an untrusted workspace cannot set the backend or the server (its values are ignored)', () => {
    const restricted: string[] = manifest.capabilities.untrustedWorkspaces.restrictedConfigurations;
    assert.deepStrictEqual(restricted.filter((k) => k.startsWith('sdPrompt.render.')).sort(), ['sdPrompt.render.backend', 'sdPrompt.render.server']);
  });

  it('credentials have a command and no setting: nothing named user or password is in the settings', () => {
    assert.deepStrictEqual(Object.keys(properties).filter((k) => /user|password|credential|token$/i.test(k)), []);
    const command = manifest.contributes.commands.find((c: { command: string }) => c.command === 'sdPrompt.setRenderServerCredentials');
    assert.deepStrictEqual(command, { command: 'sdPrompt.setRenderServerCredentials', title: 'Set Render Server Credentials…', category: 'SD Prompt' });
  });
});
