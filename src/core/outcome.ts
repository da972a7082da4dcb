// One result shape for every step that can act, shared by logs, the summary and every sink.
import type { ActionType } from './policy.ts';

export type OutcomeStatus = 'done' | 'already' | 'would' | 'skipped' | 'failed';

export interface ActionOutcome {
  type: ActionType;
  status: OutcomeStatus;
  /** Human-readable why: the check that skipped it, the API error, "already cordoned", … */
  reason: string;
  /** Checks run for this action (dry-run reports them too). */
  checks?: string[];
  /** Small structured facts: object names, HTTP status, PDB name. Never secrets. */
  details?: Record<string, string | number | boolean | null>;
  durationMs?: number;
}

/** Outcome of the whole run, for the summary headline and the ops topic attribute. */
export function overallOutcome(outcomes: ActionOutcome[], dryRun: boolean): 'contained' | 'partial' | 'failed' | 'dry-run' | 'report-only' | 'skipped' {
  if (outcomes.length === 0) return 'report-only';
  if (dryRun && outcomes.every((o) => o.status === 'would' || o.status === 'skipped')) return 'dry-run';
  const acted = outcomes.filter((o) => o.status === 'done' || o.status === 'already').length;
  const failed = outcomes.filter((o) => o.status === 'failed').length;
  if (failed > 0) return acted > 0 ? 'partial' : 'failed';
  if (acted === 0) return 'skipped';
  return acted === outcomes.length ? 'contained' : 'partial';
}
