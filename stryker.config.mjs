// Mutation testing (`npm run mutation`, not part of CI): Stryker plants one small bug at a time in the
// A1111 semantics, the token counter and the render math, runs the unit tests that cover it, and counts
// the bugs no test notices. Sources are mutated as TypeScript, compiled with tsc in Stryker's sandbox,
// and mocha runs the compiled tests from out/.
//
// Areas, run one after the other by scripts/mutation.mjs (MUTATION_AREA picks one), each with its own
// report and incremental file: a mutant in a module-level constant (a regex, a table) runs every test
// of its area, so the prompt service's mutants must not wait on the render tests, which build and run
// tiny ONNX models; and one area can be rerun (--incremental) without losing the others' results.
// A run with `--mutate FILE[:LINES]` (scripts/mutation.mjs passes the files on in MUTATION_MUTATE) runs
// only the tests that exercise those files when TESTS_OF lists them all: every mutant's test run, the
// initial run and each static mutant's run (a module constant, code in a `before` hook: they run every
// spec file) then load and run a few spec files instead of the whole area's. It writes its own report
// and incremental file (MUTATION_RUN names them), so a per-file run never drops another file's results.
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
      'out/test/unit/hires/**/*.test.js',
    ],
  },
};
const RENDER_LORA_FAST = [
  'out/test/unit/render/loraKeys.test.js',
  'out/test/unit/render/loraKeysMutants.test.js',
  'out/test/unit/render/loraTextEncoderKeys.test.js',
  'out/test/unit/render/loraMath.test.js',
  'out/test/unit/render/loraMathMutants.test.js',
  'out/test/unit/render/loraTucker.test.js',
  'out/test/unit/render/loraDyn.test.js',
];
const SAMPLER_TESTS = [
  'out/test/unit/render/schedulers.test.js',
  'out/test/unit/samplers/schedules.test.js',
  'out/test/unit/samplers/samplers.test.js',
  'out/test/unit/samplers/secondOrderSteps.test.js',
  'out/test/unit/samplers/brownianTree.test.js',
  'out/test/unit/samplers/samplerParameters.test.js',
  // The sampler and schedule of every real prompt's parameter line (fast: no render).
  'out/test/unit/samplers/realPrompts.test.js',
  // Not render.test.js: it runs the tiny pipeline (seconds a mutant).
  'out/test/unit/samplers/*Mutants.test.js',
  'out/test/unit/render/schedulersMutants.test.js',
];
/**
 * The spec files that exercise each file (by path, or by folder ending in `/`), for per-file runs. A
 * `*Mutants.test.js` not written yet is only a warning from mocha: name a new one here and it runs.
 */
const TESTS_OF = {
  // Not tokenizerSearch/bundledTokenizer: they test where the files are found, and each of their tests
  // builds the real tokenizer again (seconds, instrumented) for every mutant of the encoder they reach.
  'server/src/service/tokens/clipTokenizer.ts': [
    'out/test/unit/tokens/clipTokenizer.test.js',
    'out/test/unit/tokens/clipTokenizerMutants.test.js',
    'out/test/unit/tokens/clipCleanupGolden.test.js',
    'out/test/unit/tokens/clipCleanupOffsets.test.js',
  ],
  'server/src/render/lora/loraKeys.ts': RENDER_LORA_FAST,
  'server/src/render/lora/loraMath.ts': RENDER_LORA_FAST,
  'server/src/render/pipeline/schedulers.ts': SAMPLER_TESTS,
  'server/src/render/pipeline/conditioning.ts': [
    'out/test/unit/render/conditioning.test.js',
    'out/test/unit/render/conditioningMutants.test.js',
  ],
  'server/src/render/pipeline/png.ts': ['out/test/unit/render/png.test.js', 'out/test/unit/render/pngMutants.test.js'],
  'server/src/render/pipeline/tokenizerFiles.ts': ['out/test/unit/render/tokenizerFiles.test.js'],
  'server/src/render/pipeline/rgb8.ts': ['out/test/unit/hires/hiresParameters.test.js', 'out/test/unit/render/rgb8.test.js'],
  'server/src/render/pipeline/ngmsParameters.ts': ['out/test/unit/hires/hiresParameters.test.js', 'out/test/unit/render/infotextMutants.test.js', 'out/test/unit/render/ngmsParametersMutants.test.js'],
  'server/src/render/pipeline/txt2img.ts': [
    'out/test/unit/render/txt2img.test.js',
    'out/test/unit/render/txt2imgGolden.test.js',
    'out/test/unit/render/txt2img*Mutants.test.js',
    'out/test/unit/samplers/samplerParameters.test.js',
    'out/test/unit/rng/renderNoise.test.js',
    // The second pass and NGMS (tiny-model renders), and clip skip on checkpoint graphs: without them the
    // first run left 126 of txt2img's mutants uncovered.
    'out/test/unit/hires/hiresRender.test.js',
    'out/test/unit/sdGraphs/clipSkip.test.js',
  ],
  'server/src/render/pipeline/rng/': ['out/test/unit/rng/**/*.test.js', 'out/test/unit/render/rngMutants.test.js'],
  'server/src/render/pipeline/samplers/': [...SAMPLER_TESTS, 'out/test/unit/render/samplersMutants.test.js'],
  // hiresRender.test.js renders on the tiny model (seconds a test); the others are pure arithmetic.
  'server/src/render/pipeline/hires/': ['out/test/unit/hires/**/*.test.js', 'out/test/unit/render/hiresMutants.test.js'],
};
const area = process.env.MUTATION_AREA ?? 'semantics';
if (!AREAS[area]) throw new Error(`MUTATION_AREA must be one of ${Object.keys(AREAS).join(', ')}, not '${area}'`);

/** The union of TESTS_OF for the files of `--mutate` (a range `:10-50` after a name is allowed), or undefined. */
function testsOfMutated(mutate) {
  const files = (mutate ?? '').split(',').map((f) => f.trim().replace(/:[\d:-]+$/, '')).filter(Boolean);
  if (!files.length) return undefined;
  const lists = files.map((file) => TESTS_OF[file] ?? Object.entries(TESTS_OF).find(([k]) => k.endsWith('/') && file.startsWith(k))?.[1]);
  return lists.every(Boolean) ? [...new Set(lists.flat())] : undefined;
}
const spec = testsOfMutated(process.env.MUTATION_MUTATE) ?? AREAS[area].spec;
const run = process.env.MUTATION_RUN ?? area;

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: AREAS[area].mutate,
  testRunner: 'mocha',
  mochaOptions: { spec },
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
  htmlReporter: { fileName: `reports/mutation/${run}.html` },
  jsonReporter: { fileName: `reports/mutation/${run}.json` },
  // Used with --incremental: reruns only mutants whose code or covering tests changed since.
  incrementalFile: `reports/mutation/${run}-incremental.json`,
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
