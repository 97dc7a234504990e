/** Bad command-line usage: the CLI prints the message with its usage text and exits 2. */
export class UsageError extends Error {}
