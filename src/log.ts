// Structured stdout logging: one JSON line per step. Cloud Logging parses
// `severity` and `message` out of JSON written to stdout by Cloud Run.
import type { Severity, StepLogger } from './core/ports.ts';

export function jsonLineLogger(
  write: (line: string) => void = (line) => process.stdout.write(line + '\n'),
  base: Record<string, unknown> = {},
): StepLogger & { child(fields: Record<string, unknown>): StepLogger } {
  const make = (bound: Record<string, unknown>) => ({
    log(severity: Severity, step: string, message: string, fields: Record<string, unknown> = {}) {
      write(JSON.stringify({ severity, step, message, ...bound, ...fields, time: new Date().toISOString() }));
    },
    child(fields: Record<string, unknown>) {
      return make({ ...bound, ...fields });
    },
  });
  return make(base);
}

/** For the CLI: steps go to stderr so stdout stays one JSON document. */
export function stderrLogger(): StepLogger & { child(fields: Record<string, unknown>): StepLogger } {
  return jsonLineLogger((line) => process.stderr.write(line + '\n'));
}
