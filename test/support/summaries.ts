// A Summary built the way the pipeline builds it, from a notification fixture,
// for the tests of the summary and of what the sinks make of it.
import { decodeInput } from '../../src/core/finding/envelope.ts';
import type { ActionOutcome } from '../../src/core/plan/outcome.ts';
import { plan as makePlan } from '../../src/core/plan/plan.ts';
import { validatePolicy, type Policy } from '../../src/core/policy/policy.ts';
import type { EvidenceReport } from '../../src/core/ports.ts';
import { buildSummary, type SummaryTimings } from '../../src/core/summary/summary.ts';
import { type Summary } from '../../src/core/summary/document.ts';
import { findingKey } from '../../src/core/finding/key.ts';
import { noteSummary } from './summary-check.ts';

export const SUMMARY_NOW = new Date('2026-11-20T14:03:40.000Z');

export const enforcingPolicy = (extra: Record<string, unknown> = {}): Policy =>
  validatePolicy({ dryRun: false, rules: [{ name: 'contain', actions: ['label-pod', 'isolate-pod', 'delete-pod'] }], ...extra });

export interface SummaryCase {
  policy?: Policy;
  /** Default: every planned action done. */
  outcomes?: ActionOutcome[];
  evidence?: EvidenceReport | null;
  warnings?: string[];
  timings?: SummaryTimings;
}

export function summaryFor(notification: Record<string, any>, options: SummaryCase = {}): Summary {
  const policy = options.policy ?? enforcingPolicy();
  const decoded = decodeInput(notification);
  const plan = makePlan(decoded, policy, SUMMARY_NOW);
  const summary = buildSummary({
    key: findingKey(decoded.notification.finding),
    plan,
    finding: decoded.notification.finding,
    containment: {
      outcomes: options.outcomes ?? plan.actions.map((a) => ({ type: a.type, status: 'done', reason: 'ok' })),
      snapshots: {},
      warnings: options.warnings ?? [],
    },
    evidence: options.evidence ?? null,
    policy,
    timings: options.timings ?? { receivedAt: SUMMARY_NOW },
    now: SUMMARY_NOW,
  });
  noteSummary(summary, 'summaryFor');
  return summary;
}
