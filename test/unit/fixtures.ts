import * as fs from 'fs';
import * as path from 'path';

/** The shared third-party fixtures, next to the repository (see ../shared/fixtures/README.md). */
export const FIXTURES = path.resolve(__dirname, '../../../../shared/fixtures');

export function readFixture<T = unknown>(relative: string): T {
  const file = path.join(FIXTURES, relative);
  if (!fs.existsSync(file)) {
    throw new Error(`Fixture ${file} is missing: these tests need ../shared/fixtures beside the repository.`);
  }
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

/** A fixture file's bytes. */
export function fixtureBytes(relative: string): Uint8Array {
  const file = path.join(FIXTURES, relative);
  if (!fs.existsSync(file)) {
    throw new Error(`Fixture ${file} is missing: these tests need ../shared/fixtures beside the repository.`);
  }
  return fs.readFileSync(file);
}
