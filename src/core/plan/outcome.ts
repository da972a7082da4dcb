// One result shape for every step that can act, shared by logs, the summary and every sink.
import type { ActionType, OVERALL_OUTCOMES } from '../policy/policy.ts';

/**
 * - done / already: true on the cluster now (re-read after the writes).
 * - partial: the write landed but does not achieve all it claims to (an allow
 *   policy still admits traffic to an "isolated" pod); the reason names what is left.
 * - ineffective: the write landed and does nothing (NetworkPolicy on a cluster
 *   that does not enforce NetworkPolicy, or on a hostNetwork pod).
 * - pending: failed on a fault that can heal; the message is redelivered and
 *   the action retried, up to the containment round cap.
 */
export type OutcomeStatus = 'done' | 'already' | 'would' | 'skipped' | 'failed' | 'partial' | 'ineffective' | 'pending';

export interface ActionOutcome {
  type: ActionType;
  status: OutcomeStatus;
  /** Human-readable why: the check that skipped it, the API error, "already cordoned", … */
  reason: string;
  /** Checks run for this action (dry-run reports them too). */
  checks?: string[];
  /**
   * Small structured facts: object names, HTTP status, PDB name. Never secrets. `wrote: true` on a
   * `pending` outcome: part of the action landed before the fault (reported now, not hidden by the retry).
   */
  details?: Record<string, string | number | boolean | null>;
  durationMs?: number;
}

/** Whether the action changed, or tried and failed to change, the cluster in this delivery. */
export function wroteToCluster(o: ActionOutcome): boolean {
  return o.status === 'done' || o.status === 'partial' || o.status === 'ineffective' || o.status === 'failed' || o.details?.wrote === true;
}

/** Statuses that mean the action's effect is in force on the cluster. */
export function isInForce(status: OutcomeStatus): boolean {
  return status === 'done' || status === 'already';
}

export type OverallOutcome = (typeof OVERALL_OUTCOMES)[number];

/**
 * Outcome of the whole run, for the summary headline and the ops topic attribute.
 * `excepted`: a policy exception matched (the finding is expected); it plans no actions.
 */
export function overallOutcome(outcomes: ActionOutcome[], dryRun: boolean, excepted = false): OverallOutcome {
  if (excepted && outcomes.length === 0) return 'excepted';
  if (outcomes.length === 0) return 'report-only';
  if (dryRun && outcomes.every((o) => o.status === 'would' || o.status === 'skipped')) return 'dry-run';
  const acted = outcomes.filter((o) => isInForce(o.status)).length;
  // Written but not holding (partial, ineffective) is never "contained"; it did land, so it is not "failed" either.
  const landedShort = outcomes.filter((o) => o.status === 'partial' || o.status === 'ineffective').length;
  const notLanded = outcomes.filter((o) => o.status === 'failed' || o.status === 'pending').length;
  if (landedShort > 0 || notLanded > 0) return acted + landedShort > 0 ? 'partial' : 'failed';
  if (acted === 0) return 'skipped';
  return acted === outcomes.length ? 'contained' : 'partial';
}
