import * as assert from 'assert';
import { parsePromptDocument } from '../../../server/src/service/syntax/document';
import { NgmsParameterError, readNgms } from '../../../server/src/render/pipeline/ngmsParameters';

/** NGMS / NGMS all steps as A1111 reads them back from a parameter line (surviving Stryker mutants of ngmsParameters.ts). */
function read(line: string) {
  const text = `a cat\n${line}`;
  return readNgms(text, parsePromptDocument(text).sections.parameters?.entries ?? []);
}

function messageOf(line: string): string {
  try {
    read(line);
  } catch (error) {
    assert.ok(error instanceof NgmsParameterError);
    return error.message;
  }
  assert.fail(`no error for ${line}`);
}

describe('NGMS settings on the parameter line', () => {
  it('reads NGMS, quoted or not, and NGMS all steps as True or False in any case, quoted too', () => {
    assert.strictEqual(read('Steps: 20, Seed: 1'), undefined);
    assert.deepStrictEqual(read('Steps: 20, NGMS: 0.5'), { sMinUncond: 0.5, allSteps: false });
    assert.deepStrictEqual(read('Steps: 20, NGMS: "2"'), { sMinUncond: 2, allSteps: false });
    assert.deepStrictEqual(read('Steps: 20, NGMS: "0.25"'), { sMinUncond: 0.25, allSteps: false });
    assert.deepStrictEqual(read('Steps: 20, NGMS: 0'), { sMinUncond: 0, allSteps: false });
    assert.deepStrictEqual(read('Steps: 20, NGMS: 1, NGMS all steps: True'), { sMinUncond: 1, allSteps: true });
    assert.deepStrictEqual(read('Steps: 20, NGMS: 1, NGMS all steps: "TRUE"'), { sMinUncond: 1, allSteps: true });
    assert.deepStrictEqual(read('Steps: 20, NGMS: 1, NGMS all steps: false'), { sMinUncond: 1, allSteps: false });
    assert.deepStrictEqual(read('Steps: 20, NGMS: 1, NGMS all steps: "False"'), { sMinUncond: 1, allSteps: false });
  });

  it('a bad value is an error with its line, column and the value as written', () => {
    assert.strictEqual(messageOf('Steps: 20, NGMS: -1'), "line 2, column 18: NGMS: '-1' is not a number of at least 0");
    assert.strictEqual(messageOf('Steps: 20, NGMS: inf'), "line 2, column 18: NGMS: 'inf' is not a number of at least 0");
    assert.strictEqual(messageOf('Steps: 20, NGMS: "x"'), `line 2, column 18: NGMS: '"x"' is not a number of at least 0`);
    assert.strictEqual(messageOf('Steps: 20, NGMS: 1, NGMS all steps: yes'), "line 2, column 37: NGMS all steps: 'yes' is not True or False");
    assert.strictEqual(messageOf('Steps: 20, NGMS: 1, NGMS all steps: "True'), `line 2, column 37: NGMS all steps: '"True' is not True or False`);
    // Only a value wholly in quotes loses them.
    assert.strictEqual(messageOf('Steps: 20, NGMS: 1"2"'), `line 2, column 18: NGMS: '1"2"' is not a number of at least 0`);
    assert.strictEqual(messageOf('Steps: 20, NGMS: "2"5'), `line 2, column 18: NGMS: '"2"5' is not a number of at least 0`);
    assert.strictEqual(messageOf('Steps: 20, NGMS: 1, NGMS all steps: "tr"ue'), `line 2, column 37: NGMS all steps: '"tr"ue' is not True or False`);
    assert.strictEqual(messageOf('Steps: 20, NGMS: 1, NGMS all steps: tr"ue"'), `line 2, column 37: NGMS all steps: 'tr"ue"' is not True or False`);
    // The place counts lines up to the value, not to the end of the file.
    assert.strictEqual(messageOf('Steps: 20, NGMS: -1\nTemplate: a cat'), "line 2, column 18: NGMS: '-1' is not a number of at least 0");
  });
});
