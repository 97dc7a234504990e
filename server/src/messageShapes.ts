import {
  GENERATION_DATA_REQUEST,
  GenerationDataParams,
  LORA_LIST_REQUEST,
  CHECKPOINT_LIST_REQUEST,
  CheckpointListParams,
  LoraListParams,
  MERGE_REPORT_NOTIFICATION,
  MergeReportParams,
  RENDER_LORAS_REQUEST,
  RenderLorasParams,
  SELECTION_PROMPT_REQUEST,
  SelectionPromptParams,
  SERVER_LORAS_NOTIFICATION,
  ServerLorasParams,
  RENDER_PROMPT_REQUEST,
  RenderPromptParams,
  TOKEN_COUNT_REQUEST,
  TokenCountParams,
} from '../../common/src/protocol';

/**
 * The shapes of the extension's own messages (common/src/protocol.ts), checked where they enter the
 * server. JSON-RPC hands over whatever the sender wrote: a report whose `loras` is not an array had
 * been kept, and every later diagnostics pass over that file threw. A message that does not fit is
 * refused with a line that names the message and the field, and nothing of it is kept.
 */

/** Why `value` (found at `at`) does not fit, or undefined when it does. */
type Check = (value: unknown, at: string) => string | undefined;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string (${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)})`;
  if (typeof value === 'number') return `the number ${value}`;
  return typeof value === 'object' ? 'an object' : typeof value === 'undefined' ? 'missing' : `a ${typeof value}`;
}

const string: Check = (v, at) => (typeof v === 'string' ? undefined : `${at} should be a string, not ${describe(v)}`);

const count: Check = (v, at) =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 ? undefined : `${at} should be a whole number of 0 or more, not ${describe(v)}`;

const arrayOf =
  (item: Check): Check =>
  (v, at) => {
    if (!Array.isArray(v)) return `${at} should be an array, not ${describe(v)}`;
    for (let i = 0; i < v.length; i++) {
      const problem = item(v[i], `${at}[${i}]`);
      if (problem) return problem;
    }
    return undefined;
  };

/** An object with these fields; a field whose check is wrapped in `optional` may be absent (or undefined/null). */
const object =
  (fields: Record<string, Check | { optional: Check }>): Check =>
  (v, at) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return `${at} should be an object, not ${describe(v)}`;
    const record = v as Record<string, unknown>;
    for (const [key, field] of Object.entries(fields)) {
      const value = record[key];
      if (typeof field !== 'function' && (value === undefined || value === null)) continue;
      const problem = (typeof field === 'function' ? field : field.optional)(value, `${at}.${key}`);
      if (problem) return problem;
    }
    return undefined;
  };

const optional = (check: Check) => ({ optional: check });

/** A field that must be there but may be null (`loras: null` while the server's list is unknown). */
const nullOr =
  (check: Check): Check =>
  (v, at) =>
    v === null ? undefined : check(v, at);

/** A seed as A1111 takes it: a whole number (-1 for a random one). */
const seed: Check = (v, at) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= -1 ? undefined : `${at} should be a whole number of -1 or more, not ${describe(v)}`);

const textDocument = object({ uri: string });

/** What each checked message's params are once they pass. */
export interface CheckedParams {
  [TOKEN_COUNT_REQUEST]: TokenCountParams;
  [LORA_LIST_REQUEST]: LoraListParams;
  [CHECKPOINT_LIST_REQUEST]: CheckpointListParams;
  [RENDER_LORAS_REQUEST]: RenderLorasParams;
  [GENERATION_DATA_REQUEST]: GenerationDataParams;
  [SELECTION_PROMPT_REQUEST]: SelectionPromptParams;
  [MERGE_REPORT_NOTIFICATION]: MergeReportParams;
  [SERVER_LORAS_NOTIFICATION]: ServerLorasParams;
  [RENDER_PROMPT_REQUEST]: RenderPromptParams;
}

const SHAPES: Record<keyof CheckedParams, Check> = {
  [TOKEN_COUNT_REQUEST]: object({ textDocument, position: object({ line: count, character: count }) }),
  [LORA_LIST_REQUEST]: object({ textDocument: optional(textDocument) }),
  [CHECKPOINT_LIST_REQUEST]: object({ text: optional(string), vae: optional(string) }),
  [RENDER_LORAS_REQUEST]: object({ text: string }),
  [GENERATION_DATA_REQUEST]: object({ text: string }),
  [SELECTION_PROMPT_REQUEST]: object({ text: string, selected: string }),
  [MERGE_REPORT_NOTIFICATION]: object({
    textDocument,
    model: string,
    loras: arrayOf(
      object({ name: string, matched: count, unmatched: arrayOf(string), mismatched: arrayOf(string), error: optional(string), code: optional(string) }),
    ),
  }),
  [SERVER_LORAS_NOTIFICATION]: object({
    backend: string,
    server: string,
    loras: nullOr(arrayOf(object({ name: string, alias: optional(string), path: optional(string) }))),
    error: optional(string),
  }),
  [RENDER_PROMPT_REQUEST]: object({ text: string, seed: optional(seed) }),
};

/**
 * The params as their type when they fit its shape, else a problem that names the message and the
 * field (`sdPrompt/mergeReport: params.loras should be an array, not an object`).
 * A message without params (`sdPrompt/loraList` may be sent bare) is checked as `{}`.
 */
export function checkParams<M extends keyof CheckedParams>(method: M, params: unknown): { params: CheckedParams[M] } | { problem: string } {
  const problem = SHAPES[method](params ?? {}, 'params');
  return problem ? { problem: `${method}: ${problem}` } : { params: (params ?? {}) as CheckedParams[M] };
}
