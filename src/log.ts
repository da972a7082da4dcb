// Structured stdout logging: one JSON line per step. Cloud Logging parses
// `severity` and `message` out of JSON written to stdout by Cloud Run.
import type { Severity, StepLogger } from './core/ports.ts';

const RANK: Record<Severity, number> = { DEBUG: 0, INFO: 1, NOTICE: 2, WARNING: 3, ERROR: 4, CRITICAL: 5 };

export interface JsonLineLogger extends StepLogger {
  child(fields: Record<string, unknown>): JsonLineLogger;
}

export function jsonLineLogger(
  write: (line: string) => void = (line) => process.stdout.write(line + '\n'),
  minSeverity: Severity = 'DEBUG',
  base: Record<string, unknown> = {},
): JsonLineLogger {
  return {
    log(severity, step, message, fields = {}) {
      if (RANK[severity] < RANK[minSeverity]) return;
      write(JSON.stringify({ severity, message, step, ...base, ...fields }));
    },
    child(fields) {
      return jsonLineLogger(write, minSeverity, { ...base, ...fields });
    },
  };
}
