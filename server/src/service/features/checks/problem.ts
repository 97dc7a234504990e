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
  | 'break-in-brackets'
  | 'keyword-case'
  | 'param-unknown-key'
  | 'param-not-number'
  | 'param-size'
  | 'param-sampler-unknown'
  | 'param-schedule-type-unknown';

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
