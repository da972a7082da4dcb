// What both ledger stores (Firestore, the local one) make of a finding document
// for `incidents` and `release`. Pure, so neither adapter loads the other's SDK;
// test/ledger-contract.test.ts holds both stores to the same behaviour.
import type { ApprovalState } from '../approval/approval.ts';
import type { ActionOutcome } from '../plan/outcome.ts';
import { ACTION_ORDER, type ActionType } from '../policy/policy.ts';
import type { BudgetEntry } from '../plan/budget.ts';
import type { IncidentRecord, ReleaseRecord, SinkDelivery } from '../ports.ts';
import type { Summary } from '../summary/document.ts';

/**
 * The documents both stores keep, the same fields under the same ids (`f-<sha256>` for a
 * finding, `b-<sha256(cluster)>` for a cluster's budget); only the time type differs
 * (Firestore Timestamps, ISO strings in the local file).
 */
export interface FindingDoc<Time> {
  kind: 'finding';
  schema: 1;
  findingName: string | null;
  eventTime: string | null;
  state: 'in-progress' | 'completed';
  owner: string | null;
  leaseExpiresAt: Time | null;
  attempt: number;
  outcomes: Partial<Record<ActionType, ActionOutcome>>;
  summaryJson: string | null;
  deliveries: Record<string, SinkDelivery>;
  createdAt: Time;
  updatedAt: Time;
  completedAt: Time | null;
  expireAt: Time;
  /** Absent until the first `release` (IncidentStore.recordRelease). */
  release?: ReleaseRecord | null;
  /** Absent unless the finding's rule requires approval (ApprovalStore, core/approval/approval.ts). */
  approval?: ApprovalState;
}

/** The document a first claim creates: in progress, owned by `owner` until `leaseExpiresAt`, nothing recorded yet. */
export function newFindingDoc<Time>(key: { findingName: string | null; eventTime: string | null }, owner: string, times: { lease: Time; now: Time; expireAt: Time }): FindingDoc<Time> {
  return {
    kind: 'finding',
    schema: 1,
    findingName: key.findingName,
    eventTime: key.eventTime,
    state: 'in-progress',
    owner,
    leaseExpiresAt: times.lease,
    attempt: 1,
    outcomes: {},
    summaryJson: null,
    deliveries: {},
    createdAt: times.now,
    updatedAt: times.now,
    completedAt: null,
    expireAt: times.expireAt,
  };
}

export interface BudgetDoc<Time> {
  kind: 'budget';
  cluster: string;
  entries: BudgetEntry[];
  updatedAt: Time;
  expireAt: Time;
}

/** A recorded release is replaced by a later one, except that a dry run never hides a real release. */
export function nextRelease(current: ReleaseRecord | null | undefined, incoming: ReleaseRecord): ReleaseRecord | null {
  if (incoming.dryRun && current && !current.dryRun) return null;
  return incoming;
}

/** The listing's view of a finding document; timestamps as ISO strings. */
export function incidentFromDoc(
  id: string,
  doc: {
    findingName: string | null;
    eventTime: string | null;
    state: 'in-progress' | 'completed';
    attempt: number;
    outcomes: Partial<Record<ActionType, ActionOutcome>> | undefined;
    summaryJson: string | null;
    release?: ReleaseRecord | null;
  },
  times: { createdAt: string; updatedAt: string; completedAt: string | null },
): IncidentRecord {
  let summary: IncidentRecord['summary'] = null;
  if (typeof doc.summaryJson === 'string') {
    try {
      const parsed = JSON.parse(doc.summaryJson) as Summary;
      summary = { headline: parsed.headline, outcome: parsed.outcome, target: parsed.target };
    } catch {
      summary = null;
    }
  }
  const outcomes = ACTION_ORDER.map((type) => doc.outcomes?.[type]).filter((o): o is ActionOutcome => o !== undefined);
  return {
    id,
    findingName: doc.findingName,
    eventTime: doc.eventTime,
    state: doc.state,
    attempt: doc.attempt,
    outcomes,
    summary,
    release: doc.release ?? null,
    ...times,
  };
}
