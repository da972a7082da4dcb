// Two kinds of failure decide ack vs retry. Pub/Sub redelivers for up to 7 days
// once retries are on, so only faults that can heal by waiting may throw.

/** A fault that can heal (5xx, 429 that is not a PDB refusal, timeouts, UNAVAILABLE): throw so Pub/Sub retries. */
export class TransientError extends Error {
  override readonly name = 'TransientError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A fault that waiting cannot fix (bad input, 403, 404, 422): log once and ack. */
export class PermanentError extends Error {
  override readonly name = 'PermanentError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export function isTransient(error: unknown): boolean {
  return error instanceof TransientError;
}

/** An error as one bounded line of text, for logs, ledger records and summary reasons. */
export function errorText(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 300);
}
