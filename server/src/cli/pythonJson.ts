import { pyFloatRepr } from '../service/semantics/pyNumbers';

/** A number Python holds as a float: printed `1.0`, not `1`, as `json.dumps` would. */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** JSON like Python's `json.dumps(..., indent=2, ensure_ascii=False)`, with PyFloat values as floats. */
export function pythonJson(value: unknown, indent = 2): string {
  const pad = (level: number) => ' '.repeat(indent * level);
  const write = (v: unknown, level: number): string => {
    if (v instanceof PyFloat) return pyFloatRepr(v.value);
    if (v === null || v === undefined) return 'null';
    if (typeof v === 'number') return Number.isFinite(v) ? String(v) : pyFloatRepr(v);
    if (typeof v === 'string' || typeof v === 'boolean') return JSON.stringify(v);
    if (Array.isArray(v)) {
      if (v.length === 0) return '[]';
      return `[\n${v.map((x) => pad(level + 1) + write(x, level + 1)).join(',\n')}\n${pad(level)}]`;
    }
    const entries = (v instanceof Map ? [...v.entries()] : Object.entries(v as Record<string, unknown>)).filter(([, x]) => x !== undefined);
    if (entries.length === 0) return '{}';
    return `{\n${entries.map(([k, x]) => `${pad(level + 1)}${JSON.stringify(k)}: ${write(x, level + 1)}`).join(',\n')}\n${pad(level)}}`;
  };
  return write(value, 0);
}
