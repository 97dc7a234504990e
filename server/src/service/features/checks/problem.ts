import { Span } from '../../semantics/spans';

/**
 * A problem found in a prompt, in document offsets. Codes are stable: users filter on them,
 * and the CLI prints them.
 */
export type ProblemCode =
  | 'tag-name-whitespace'
  | 'tag-name-empty'
  | 'tag-type-case'
  | 'tag-type-unknown'
  | 'tag-unclosed'
  | 'tag-malformed'
  | 'comment-in-tag'
  | 'tag-in-negative'
  | 'lora-weight-invalid'
  | 'lora-weight-range'
  | 'lora-weight-zero'
  | 'lora-dyn-range'
  | 'lora-duplicate'
  | 'bracket-unclosed'
  | 'bracket-unmatched'
  | 'emphasis-weight-invalid'
  | 'schedule-weight-confusion'
  | 'schedule-never-switches'
  | 'schedule-malformed'
  | 'schedule-disabled'
  | 'schedule-overflow'
  | 'break-in-brackets'
  | 'keyword-case'
  | 'lora-unknown'
  | 'lora-missing-on-server'
  | 'lora-subfolder'
  | 'lora-alias-ambiguous'
  | 'lora-pickle'
  | 'lora-unreadable'
  | 'lora-key-style'
  | 'lora-base-model'
  | 'lora-trigger-missing'
  | 'lora-weight-sum'
  | 'lora-merge-failed'
  | 'lora-merge-nonfinite'
  | 'lora-merge-unmatched'
  | 'lora-merge-mismatched'
  | 'hypernet-unknown'
  | 'chunk-splits-word'
  | 'chunk-splits-trigger'
  | 'param-unknown-key'
  | 'param-not-number'
  | 'param-size'
  | 'param-sampler-unknown'
  | 'param-schedule-type-unknown'
  | 'model-unknown'
  | 'model-hash-mismatch'
  | 'vae-unknown'
  | 'tag-parens-unescaped'
  | 'dynamic-unbalanced-brace'
  | 'dynamic-syntax'
  | 'dynamic-empty-option'
  | 'dynamic-impossible-range'
  | 'dynamic-prompts-off'
  | 'wildcard-unknown';

export type Severity = 'error' | 'warning' | 'information' | 'hint';

export interface Fix {
  title: string;
  edits: { span: Span; newText: string }[];
  preferred?: boolean;
}

export interface Problem {
  code: ProblemCode;
  severity: Severity;
  span: Span;
  message: string;
  fixes?: Fix[];
}

/**
 * At most this many problems of one code per document: past that more squiggles help nobody,
 * and a pasted megabyte of brackets must not produce a million diagnostics.
 */
export const MAX_PROBLEMS_PER_CODE = 100;

/** Drops problems past MAX_PROBLEMS_PER_CODE of each code, keeping document order. */
export function capPerCode(problems: Problem[]): Problem[] {
  const counts = new Map<string, number>();
  return problems.filter((p) => {
    const n = (counts.get(p.code) ?? 0) + 1;
    counts.set(p.code, n);
    return n <= MAX_PROBLEMS_PER_CODE;
  });
}
