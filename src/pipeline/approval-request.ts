// The responder's side of an approval (approval: required rules): before the dry
// run's summary with Contain / Dismiss goes out, keep in the ledger what the
// approved run will need, so a message never offers a decision that cannot be
// carried out. The person's decision is src/pipeline/approval-decision.ts.
import { errorText } from '../core/errors.ts';
import {
  approvalExpiry,
  approvalScope,
  MAX_NOTIFICATION_JSON,
  type ApprovalRequestRecord,
  type ApprovalStore,
  type ApprovedRun,
} from '../core/approval/approval.ts';
import type { FindingKey } from '../core/finding/key.ts';
import type { Plan } from '../core/plan/plan.ts';
import type { StepLogger } from '../core/ports.ts';
import type { SummaryApproval } from '../core/summary/document.ts';
import { DEFAULT_LEDGER_TIMEOUT_MS, withDeadline, type LedgerSession } from './ledger-session.ts';

export interface ApprovalRequestInput {
  plan: Plan;
  /** The dry run's ledger key (the summary id, the buttons' value). */
  key: FindingKey;
  /** The decoded NotificationMessage: the approved run re-plans from it. */
  notification: unknown;
  now: Date;
  approvals?: () => Promise<ApprovalStore>;
  /** Why the dry run's ledger session cannot hold the request (no ledger, unavailable, lost), or null. */
  ledgerProblem: string | null;
  timeoutMs: number;
  log: StepLogger;
  ids: Record<string, unknown>;
}

/**
 * Stores the approval request with the finding's ledger record and returns the
 * summary's approval: `awaiting` (the buttons) only once the request is stored,
 * else `refused` with the reason, so a message never offers a decision that
 * could not be carried out.
 */
export async function requestApproval(input: ApprovalRequestInput): Promise<SummaryApproval> {
  const { plan, log, ids } = input;
  const refused = (reason: string): SummaryApproval => {
    log.log('WARNING', 'approval', 'approval cannot be offered: the summary says why, with no buttons', { ...ids, reason });
    return { status: 'refused', expiresAt: null, by: null, reason };
  };
  if (plan.approval === null || plan.rule === null) return refused('the plan asks for no approval');
  if (!input.approvals) return refused('no ledger to keep the request (FIRESTORE_DATABASE unset): nothing can be approved');
  if (input.ledgerProblem !== null) return refused(`the ledger cannot keep the request (${input.ledgerProblem.slice(0, 200)})`);
  const notificationJson = JSON.stringify(input.notification);
  if (notificationJson.length > MAX_NOTIFICATION_JSON) return refused(`the finding is too large to keep for approval (${notificationJson.length} characters)`);
  const request: ApprovalRequestRecord = {
    rule: plan.rule,
    requestedAt: input.now.toISOString(),
    expiresAt: approvalExpiry(input.now, plan.approval.expiresMinutes).toISOString(),
    notificationJson,
    ...approvalScope(plan),
  };
  let kept: ApprovalRequestRecord;
  try {
    const store = await input.approvals();
    kept = await withDeadline('ledger record approval request', input.timeoutMs, () => store.recordRequest(input.key, request, input.now));
  } catch (error) {
    return refused(`the approval request could not be stored (${errorText(error).slice(0, 200)})`);
  }
  if (Date.parse(kept.expiresAt) <= input.now.getTime()) {
    return { status: 'expired', expiresAt: kept.expiresAt, by: null, reason: null };
  }
  log.log('NOTICE', 'approval', 'approval requested: the summary offers Contain / Dismiss', { ...ids, rule: plan.rule, expiresAt: kept.expiresAt });
  return { status: 'awaiting', expiresAt: kept.expiresAt, by: null, reason: null };
}

/** The approved run's summary names the person who approved it. */
export function approvedApproval(run: ApprovedRun): SummaryApproval {
  return { status: 'approved', expiresAt: null, by: run.by, reason: null };
}

/**
 * The summary's approval for a plan that has one (the pipeline calls it once the
 * summary is built, before it is recorded or sent): the approver for the approved
 * run, else the request kept and the buttons offered.
 */
export async function summaryApproval(input: {
  plan: Plan;
  key: FindingKey;
  notification: unknown;
  session: Pick<LedgerSession, 'counted' | 'lost' | 'unsafe'>;
  deps: { now: () => Date; log: StepLogger; approvals?: () => Promise<ApprovalStore>; approvedRun?: ApprovedRun; ledgerTimeoutMs?: number };
  ids: Record<string, unknown>;
}): Promise<SummaryApproval> {
  const { deps, session } = input;
  if (deps.approvedRun) return approvedApproval(deps.approvedRun);
  return requestApproval({
    plan: input.plan,
    key: input.key,
    notification: input.notification,
    now: deps.now(),
    ...(deps.approvals ? { approvals: deps.approvals } : {}),
    ledgerProblem: session.counted ? session.lost : (session.unsafe || 'no ledger session'),
    timeoutMs: deps.ledgerTimeoutMs ?? DEFAULT_LEDGER_TIMEOUT_MS,
    log: deps.log,
    ids: input.ids,
  });
}

