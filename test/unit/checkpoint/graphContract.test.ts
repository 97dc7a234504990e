import * as assert from 'assert';
import * as path from 'path';
import { loadCheckpoint } from '../../../server/src/render/checkpoint/loadCheckpoint';
import { PipelineComponent, SdArchitecture, WeightSource } from '../../../server/src/render/sdGraphs/architecture';
import { buildSdGraphs } from '../../../server/src/render/sdGraphs/pipelineGraphs';
import { TINY_SD1_ARCHITECTURE, TINY_SD2_ARCHITECTURE, TINY_SDXL_ARCHITECTURE, writeCheckpoint } from '../../../server/src/render/testModel/generateCheckpoint';
import { useTempFolder } from './tempFolder';

/**
 * The contract between the checkpoint reader and the graph builders (sdGraphs/architecture.ts): the graphs of a
 * checkpoint's architecture ask for exactly the weights the reader's table holds, by the same names and shapes,
 * so no weight is missing and none is read for nothing.
 */
describe('checkpoint ↔ graph builders', () => {
  const root = useTempFolder('sd-ckpt-graphs-');

  const families: [string, SdArchitecture][] = [
    ['sd1', TINY_SD1_ARCHITECTURE],
    ['sd2', TINY_SD2_ARCHITECTURE],
    ['sdxl', TINY_SDXL_ARCHITECTURE],
  ];
  for (const [family, architecture] of families) {
    it(`${family}: the graphs ask for every table weight once, each with the table's shape`, async () => {
      const file = path.join(root(), `${family}.safetensors`);
      writeCheckpoint(file, { architecture, dtype: 'F16', seed: 2 });
      const loaded = await loadCheckpoint(file);
      const asked: string[] = [];
      const spy: WeightSource = {
        weight(component: PipelineComponent, name: string) {
          asked.push(`${component}:${name}`);
          return loaded.weights.weight(component, name);
        },
      };
      buildSdGraphs(loaded.architecture, { dtype: 'float32', weights: { kind: 'source', source: spy } });
      assert.deepStrictEqual([...asked].sort(), loaded.weights.table.map((e) => `${e.component}:${e.name}`).sort());
    });
  }
});
