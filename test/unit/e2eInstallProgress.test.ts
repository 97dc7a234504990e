// The progress lines of code-server's first install (test/e2e/install.mjs), which npm start runs: a person
// sees which step npm is on instead of minutes of silence.
import * as assert from 'assert';
import * as path from 'path';
import { pathToFileURL } from 'url';

interface InstallProgress {
  line(text: string): string | undefined;
  summary(): string;
}

async function installProgress(): Promise<InstallProgress> {
  const file = path.resolve(__dirname, '../../../test/e2e/install.mjs');
  const module = (await import(pathToFileURL(file).href)) as { installProgress: () => InstallProgress };
  return module.installProgress();
}

describe('e2e install progress', () => {
  it('names the step when it starts: downloading, then each install script', async () => {
    const progress = await installProgress();
    assert.strictEqual(progress.summary(), 'resolving packages');
    const started = [
      'npm http fetch GET 200 https://registry.npmjs.org/code-server 120ms (cache miss)',
      'npm http fetch GET 200 https://registry.npmjs.org/argon2 80ms (cache miss)',
      '> argon2@0.44.0 install',
      'prebuild-install info looking for local prebuild',
      '> code-server@4.139.1 postinstall',
    ].map((l) => progress.line(l));
    assert.deepStrictEqual(started, ['downloading packages', undefined, 'running argon2@0.44.0 install', undefined, 'running code-server@4.139.1 postinstall']);
  });

  it("the heartbeat says how many packages were fetched, then the script's last meaningful line (not compiler warnings)", async () => {
    const progress = await installProgress();
    for (let i = 0; i < 3; i++) progress.line(`npm http fetch GET 200 https://registry.npmjs.org/p${i} 10ms`);
    assert.strictEqual(progress.summary(), 'downloading packages (3 fetched)');
    for (const l of [
      '> @vscode/spdlog@0.15.8 install',
      '  CXX(target) Release/obj.target/spdlog/src/logger.o',
      '../deps/spdlog/include/spdlog/fmt/bundled/core.h:1:2: warning: unused variable [-Wunused]',
      '    |       ^~~~~~~',
      'In file included from ../src/main.cc:1:',
    ]) {
      progress.line(l);
    }
    assert.strictEqual(progress.summary(), 'running @vscode/spdlog@0.15.8 install: CXX(target) Release/obj.target/spdlog/src/logger.o');
  });
});
