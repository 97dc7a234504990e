import { pyFloat, pyInt } from '../../../service/semantics/pyNumbers';
import type { ParameterEntry } from '../../../service/syntax/sections';
import { RNG_SOURCES, RngSource } from './noiseGenerator';
import { resolveSeed } from './seeds';

/**
 * What decides a render's noise besides `Seed` and `Size`, read from the parameter line as A1111
 * reads pasted generation data: `RNG` (its `randn_source` setting: GPU, CPU or NV), `Variation
 * seed` and `Variation seed strength` (subseed, subseed_strength), `Seed resize from: WxH`, and
 * `ENSD` / `Eta noise seed delta` (its `eta_noise_seed_delta` setting).
 */
export interface NoiseParameters {
  source: RngSource;
  /** The variation seed; -1 resolved to a random one when a strength makes it count (-1 when unused and absent). */
  subseed: number;
  subseedStrength: number;
  /** Present only when both sides are above 0, as A1111 uses it. */
  seedResizeFrom?: { width: number; height: number };
  etaNoiseSeedDelta: number;
}

/** A parameter the noise cannot be made from; the message names the key, its value and where it is. */
export class NoiseParameterError extends Error {}

/**
 * The noise parameters of a parameter line. `defaultSource` is the `sdPrompt.render.rngSource`
 * setting, used when the line has no `RNG:`; A1111's default is GPU. Throws NoiseParameterError
 * for a value A1111 could not use (an unknown RNG, a strength that is not a number, a size that
 * is not WxH).
 */
export function readNoiseParameters(text: string, entries: readonly ParameterEntry[], defaultSource: RngSource = 'GPU'): NoiseParameters {
  const read = new EntryReader(text, entries);
  const rng = read.raw('RNG');
  let source = defaultSource;
  if (rng !== undefined) {
    const known = RNG_SOURCES.find((s) => s.toLowerCase() === rng.value.toLowerCase());
    if (!known) throw read.error(rng, `is not one of ${RNG_SOURCES.join(', ')}`);
    source = known;
  }
  const strength = read.float('Variation seed strength') ?? 0;
  const resize = read.size('Seed resize from');
  return {
    source,
    subseed: strength !== 0 ? resolveSeed(read.int('Variation seed')) : (read.int('Variation seed') ?? -1),
    subseedStrength: strength,
    seedResizeFrom: resize && resize.width > 0 && resize.height > 0 ? resize : undefined,
    etaNoiseSeedDelta: read.int('ENSD') ?? read.int('Eta noise seed delta') ?? 0,
  };
}

/**
 * How many images one parameter line makes: `Batch size` × `Batch count` (each 1 when absent).
 * A render makes the first; `sd-prompt noise` shows them all.
 */
export function readBatchImages(text: string, entries: readonly ParameterEntry[]): number {
  const read = new EntryReader(text, entries);
  const size = read.int('Batch size') ?? 1;
  const count = read.int('Batch count') ?? 1;
  for (const [key, n] of [['Batch size', size], ['Batch count', count]] as const) {
    if (n < 1) throw read.error(read.raw(key)!, 'must be 1 or more');
  }
  return size * count;
}

interface RawValue {
  key: string;
  value: string;
  offset: number;
}

class EntryReader {
  constructor(
    private readonly text: string,
    private readonly entries: readonly ParameterEntry[],
  ) {}

  raw(key: string): RawValue | undefined {
    // A1111 keeps the last of a repeated key (it builds a dict).
    const entry = this.entries.filter((e) => e.key === key).pop();
    if (!entry) return undefined;
    // The parameter line's parser leaves no blanks around a value.
    let value = entry.value;
    if (value.startsWith('"')) {
      try {
        value = String(JSON.parse(value));
      } catch {
        // A broken quote is read as written.
      }
    }
    return { key, value, offset: entry.valueSpan.start };
  }

  int(key: string): number | undefined {
    const raw = this.raw(key);
    if (!raw) return undefined;
    const n = pyInt(raw.value);
    if (n === undefined || !Number.isSafeInteger(n)) throw this.error(raw, 'is not a whole number');
    return n;
  }

  float(key: string): number | undefined {
    const raw = this.raw(key);
    if (!raw) return undefined;
    const n = pyFloat(raw.value);
    if (n === undefined || !Number.isFinite(n)) throw this.error(raw, 'is not a number');
    return n;
  }

  size(key: string): { width: number; height: number } | undefined {
    const raw = this.raw(key);
    if (!raw) return undefined;
    const m = /^(-?\d+)x(-?\d+)$/.exec(raw.value);
    if (!m) throw this.error(raw, 'is not WIDTHxHEIGHT (like 512x768)');
    return { width: Number(m[1]), height: Number(m[2]) };
  }

  error(raw: RawValue, why: string): NoiseParameterError {
    const before = this.text.slice(0, raw.offset);
    const line = before.split('\n').length;
    const column = raw.offset - before.lastIndexOf('\n');
    return new NoiseParameterError(`line ${line}, column ${column}: ${raw.key}: '${raw.value}' ${why}`);
  }
}
