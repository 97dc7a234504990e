// Bundles the client, the language server and the CLI into dist/ (what the .vsix ships).
// Type checking is tsc's job (`npm run build` runs it first); esbuild only bundles.
import * as esbuild from 'esbuild';

const watch = process.argv.includes('--watch');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'warning',
};
const builds = [
  { ...common, entryPoints: ['client/src/extension.ts'], outfile: 'dist/client.js', external: ['vscode'] },
  // onnxruntime-node is a native module: loaded from node_modules at run time, never bundled.
  { ...common, entryPoints: ['server/src/node/main.ts'], outfile: 'dist/server.js', external: ['onnxruntime-node'] },
  { ...common, entryPoints: ['server/src/cli/main.ts'], outfile: 'dist/cli.js', external: ['onnxruntime-node'] },
  { ...common, entryPoints: ['server/src/render/worker.ts'], outfile: 'dist/renderWorker.js', external: ['onnxruntime-node'] },
  // The merge's product threads, started by the render worker from beside it (productPool.ts).
  { ...common, entryPoints: ['server/src/render/merge/productWorker.ts'], outfile: 'dist/productWorker.js', external: ['onnxruntime-node'] },
];
if (watch) {
  for (const options of builds) await (await esbuild.context(options)).watch();
} else {
  await Promise.all(builds.map((options) => esbuild.build(options)));
}
