import * as fs from 'fs';
import * as path from 'path';

/** The third-party fixtures the tests use, copied into the repository (provenance and licenses: test/fixtures/README.md). */
export const FIXTURES = path.resolve(__dirname, '../../../test/fixtures');

export function readFixture<T = unknown>(relative: string): T {
  const file = path.join(FIXTURES, relative);
  if (!fs.existsSync(file)) {
    throw new Error(`Fixture ${file} is missing: it belongs in test/fixtures (see its README).`);
  }
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

/** A fixture file's bytes. */
export function fixtureBytes(relative: string): Uint8Array {
  const file = path.join(FIXTURES, relative);
  if (!fs.existsSync(file)) {
    throw new Error(`Fixture ${file} is missing: it belongs in test/fixtures (see its README).`);
  }
  return fs.readFileSync(file);
}
