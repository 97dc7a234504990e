/**
 * `NGMS` (negative guidance minimum sigma, A1111's s_min_uncond) and `NGMS all steps`
 * (s_min_uncond_all) from a parameter line, as A1111 reads them back as setting overrides.
 */
import { pyFloat } from '../../service/semantics/pyNumbers';
import type { ParameterEntry } from '../../service/syntax/sections';

export class NgmsParameterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NgmsParameterError';
  }
}

/** Undefined without an `NGMS` key (A1111's default 0: never skip). */
export function readNgms(text: string, entries: readonly ParameterEntry[]): { sMinUncond: number; allSteps: boolean } | undefined {
  const find = (key: string) => entries.filter((e) => e.key === key).pop();
  const fail = (entry: ParameterEntry, why: string): never => {
    const before = text.slice(0, entry.valueSpan.start);
    const line = before.split('\n').length;
    const column = entry.valueSpan.start - before.lastIndexOf('\n');
    throw new NgmsParameterError(`line ${line}, column ${column}: ${entry.key}: '${entry.value.trim()}' ${why}`);
  };
  const entry = find('NGMS');
  if (!entry) return undefined;
  const n = pyFloat(entry.value.trim().replace(/^"(.*)"$/, '$1'));
  if (n === undefined || !Number.isFinite(n) || n < 0) return fail(entry, 'is not a number of at least 0');
  const all = find('NGMS all steps');
  let allSteps = false;
  if (all) {
    const v = all.value.trim().replace(/^"(.*)"$/, '$1').toLowerCase();
    if (v !== 'true' && v !== 'false') fail(all, 'is not True or False');
    allSteps = v === 'true';
  }
  return { sMinUncond: n, allSteps };
}
