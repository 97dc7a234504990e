import { pyFloat, pyInt } from '../../semantics/pyNumbers';
import { PromptDocument } from '../../syntax/document';
import { KNOWN_PARAMETER_KEYS, KNOWN_SAMPLERS, KNOWN_SCHEDULE_TYPES, isKnownParameterKey } from '../../syntax/parameters';
import { Problem } from './problem';
import { closest } from './suggest';

const INTEGER_KEYS = new Set(['Steps', 'Seed', 'Clip skip', 'Hires steps', 'Variation seed', 'ENSD']);
const NUMBER_KEYS = new Set(['CFG scale', 'Denoising strength', 'Hires upscale', 'Variation seed strength', 'Eta', 'Hires CFG Scale']);
const SIZE_KEYS = new Set(['Size', 'First pass size', 'Seed resize from', 'Hires resize']);

/** The parameter line: keys A1111 knows, numbers where it parses numbers, a real sampler. */
export function checkParameters(doc: PromptDocument, out: Problem[]): void {
  const line = doc.sections.parameters;
  if (!line) return;
  for (const entry of line.entries) {
    const { key, value, keySpan, valueSpan } = entry;
    const unquoted = value.replace(/^"(.*)"$/s, '$1');
    if (!isKnownParameterKey(key)) {
      const suggestion = closest(key, KNOWN_PARAMETER_KEYS, 2);
      out.push({
        code: 'param-unknown-key',
        severity: suggestion ? 'warning' : 'information',
        span: keySpan,
        message: suggestion
          ? `Unknown parameter '${key}': A1111 ignores it when reading these parameters. Did you mean '${suggestion}'?`
          : `Unknown parameter '${key}': A1111 and its built-in extensions do not use it (an extension may).`,
        fixes: suggestion ? [{ title: `Change to '${suggestion}'`, edits: [{ span: keySpan, newText: suggestion }], preferred: true }] : undefined,
      });
      continue;
    }
    if (INTEGER_KEYS.has(key) && pyInt(unquoted) === undefined) {
      out.push({
        code: 'param-not-number',
        severity: 'error',
        span: valueSpan,
        message: `${key} must be a whole number, not '${value}': A1111 cannot use this parameter.`,
      });
    } else if (NUMBER_KEYS.has(key) && pyFloat(unquoted) === undefined) {
      out.push({
        code: 'param-not-number',
        severity: 'error',
        span: valueSpan,
        message: `${key} must be a number, not '${value}': A1111 cannot use this parameter.`,
      });
    } else if (SIZE_KEYS.has(key) && !/^\d+x\d+$/.test(unquoted)) {
      out.push({
        code: 'param-size',
        severity: 'error',
        span: valueSpan,
        message: `${key} must be WIDTHxHEIGHT in pixels (like 512x768), not '${value}'.`,
      });
    } else if (key === 'Sampler' || key === 'Hires sampler') {
      if (!(KNOWN_SAMPLERS as readonly string[]).includes(unquoted)) {
        const suggestion = closest(unquoted, KNOWN_SAMPLERS, 3);
        out.push({
          code: 'param-sampler-unknown',
          severity: 'warning',
          span: valueSpan,
          message: `Unknown sampler '${value}': A1111 falls back to its default sampler.${suggestion ? ` Did you mean '${suggestion}'?` : ''}`,
          fixes: suggestion ? [{ title: `Change to '${suggestion}'`, edits: [{ span: valueSpan, newText: suggestion }], preferred: true }] : undefined,
        });
      }
    } else if (key === 'Schedule type' || key === 'Hires schedule type') {
      if (!(KNOWN_SCHEDULE_TYPES as readonly string[]).includes(unquoted)) {
        const suggestion = closest(unquoted, KNOWN_SCHEDULE_TYPES, 3);
        out.push({
          code: 'param-schedule-type-unknown',
          severity: 'warning',
          span: valueSpan,
          message: `Unknown schedule type '${value}': A1111 uses the sampler's default schedule instead.${suggestion ? ` Did you mean '${suggestion}'?` : ''}`,
          fixes: suggestion ? [{ title: `Change to '${suggestion}'`, edits: [{ span: valueSpan, newText: suggestion }] }] : undefined,
        });
      }
    }
  }
}

/** The file's `Steps:` value when it is a positive whole number. */
export function stepsOf(doc: PromptDocument): number | undefined {
  const entry = doc.sections.parameters?.entries.find((e) => e.key === 'Steps');
  const steps = entry ? pyInt(entry.value) : undefined;
  return steps !== undefined && steps >= 1 ? steps : undefined;
}
