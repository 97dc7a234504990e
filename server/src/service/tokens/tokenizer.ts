/**
 * What the token features need from a tokenizer: ids with the input range each came from.
 * `ClipTokenizer` (exact, from vocab.json + merges.txt) and `ApproximateTokenizer` (no files:
 * an estimate, always shown with "≈") both provide it.
 */
export interface PromptTokenizer {
  readonly approximate: boolean;
  /** Id of the `,</w>` token (A1111 backtracks chunk cuts to the last comma); -1 when unknown. */
  readonly commaId: number;
  encodeWithOffsets(text: string): { ids: number[]; offsets: [number, number][] };
  decode(ids: number[]): string;
}
