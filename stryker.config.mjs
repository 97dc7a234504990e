// Mutation testing (`npm run mutation`, not part of CI): Stryker plants one small bug at a time in the
// A1111 semantics, the token counter and the render math, runs the unit tests that cover it, and counts
// the bugs no test notices. Sources are mutated as TypeScript, compiled with tsc in Stryker's sandbox,
// and mocha runs the compiled tests from out/.
//
// Areas, run one after the other by scripts/mutation.mjs (MUTATION_AREA picks one), each with its own
// report and incremental file: a mutant in a module-level constant (a regex, a table) runs every test
// of its area, so the prompt service's mutants must not wait on the render tests, which build and run
// tiny ONNX models; and one area can be rerun (--incremental) without losing the others' results.
const SERVICE_TESTS = [
  'out/test/unit/conformance.test.js',
  'out/test/unit/a1111Differential.test.js',
  'out/test/unit/realPrompts.test.js',
  'out/test/unit/diagnostics.test.js',
  'out/test/unit/features.test.js',
  'out/test/unit/semantics/**/*.test.js',
  'out/test/unit/tokens/**/*.test.js',
  'out/test/unit/library/libraryFeatures.test.js',
  // `sd-prompt explain` and `tokens`, run in-process.
  'out/test/unit/cli.test.js',
];
const AREAS = {
  semantics: { mutate: ['server/src/service/semantics/**/*.ts'], spec: SERVICE_TESTS },
  tokens: { mutate: ['server/src/service/tokens/**/*.ts'], spec: SERVICE_TESTS },
  render: {
    mutate: ['server/src/render/lora/loraKeys.ts', 'server/src/render/lora/loraMath.ts', 'server/src/render/pipeline/**/*.ts'],
    spec: [
      'out/test/unit/render/loraKeys.test.js',
      'out/test/unit/render/loraMath.test.js',
      'out/test/unit/render/conditioning.test.js',
      'out/test/unit/render/schedulers.test.js',
      'out/test/unit/render/png.test.js',
      // Builds and runs a tiny pipeline (seconds a test).
      'out/test/unit/render/txt2img.test.js',
      // The render loop against numpy's transcription (exact latents, under a second in all).
      'out/test/unit/render/txt2imgGolden.test.js',
      'out/test/unit/render/tokenizerFiles.test.js',
      'out/test/unit/render/loraDyn.test.js',
      'out/test/unit/render/loraTextEncoderKeys.test.js',
      'out/test/unit/render/loraTucker.test.js',
      'out/test/unit/render/*Mutants.test.js',
      // A1111's noise generators and the k-diffusion samplers (render/pipeline/rng, samplers).
      'out/test/unit/rng/**/*.test.js',
      'out/test/unit/samplers/**/*.test.js',
    ],
  },
};
const area = process.env.MUTATION_AREA ?? 'semantics';
if (!AREAS[area]) throw new Error(`MUTATION_AREA must be one of ${Object.keys(AREAS).join(', ')}, not '${area}'`);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: AREAS[area].mutate,
  testRunner: 'mocha',
  mochaOptions: { spec: AREAS[area].spec },
  buildCommand: 'tsc -p tsconfig.mutation.json',
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.mutation.json',
  coverageAnalysis: 'perTest',
  // The dev machine has two cores shared with other work.
  concurrency: 1,
  timeoutMS: 20000,
  ignorePatterns: ['out', 'dist', '.vscode-test', '.cache', 'test-results', '.package', '*.vsix', 'reports', 'images'],
  reporters: ['clear-text', 'progress', 'html', 'json'],
  clearTextReporter: { allowColor: false, logTests: false, reportTests: false, reportScoreTable: true },
  htmlReporter: { fileName: `reports/mutation/${area}.html` },
  jsonReporter: { fileName: `reports/mutation/${area}.json` },
  // Used with --incremental: reruns only mutants whose code or covering tests changed since.
  incrementalFile: `reports/mutation/${area}-incremental.json`,
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
