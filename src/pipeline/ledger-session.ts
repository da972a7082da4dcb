// The ledger session (claim, record, complete) and the blast-radius budget the
// pipeline runs around containment; the summary's delivery to the sinks is
// src/pipeline/summary-delivery.ts. Only ports from core/ports.ts: no SDK here.
//
// Exactly once per finding, although Pub/Sub redelivers and instances race:
// - claim the finding key before acting; another live claim → TransientError
//   (Pub/Sub retries later), a completed one → ack as duplicate, an expired or
//   released one → take over and resume from what was recorded;
// - record outcomes (passed on as ContainmentRequest.previous), then the built
//   summary, then each sink's delivery, so a retry resends only what is missing.
import { budgetedActions, budgetKind } from '../core/plan/budget.ts';
import { errorText, TransientError } from '../core/errors.ts';
import type { ActionOutcome } from '../core/plan/outcome.ts';
import type { Plan } from '../core/plan/plan.ts';
import type { ActionType, Policy } from '../core/policy/policy.ts';
import type { Budget, Ledger, LedgerClaim, SinkDelivery } from '../core/ports.ts';
import type { FindingKey } from '../core/finding/key.ts';
import type { Summary } from '../core/summary/document.ts';
import type { DeliveryDeps } from './summary-delivery.ts';

export interface ReportDeps extends DeliveryDeps {
  /** Firestore in production; absent → no dedupe, and destructive actions are refused (no budget store). */
  ledger?: () => Promise<Ledger>;
  budget?: () => Promise<Budget>;
  /**
   * Upper bound for each ledger or budget call. The Firestore client retries an
   * unreachable endpoint for minutes, past the function's timeout: a call that
   * has not answered by then counts as "ledger unavailable", never as a hang.
   */
  ledgerTimeoutMs?: number;
}

export const DEFAULT_LEDGER_TIMEOUT_MS = 5_000;

type Ids = Record<string, unknown>;

/** The ledger or budget store did not answer within ReportDeps.ledgerTimeoutMs. */
export class LedgerTimeoutError extends Error {
  override readonly name = 'LedgerTimeoutError';
}

/** Rejects after `ms` with a LedgerTimeoutError; the abandoned call is left to finish or fail on its own. */
export async function withDeadline<T>(what: string, ms: number, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LedgerTimeoutError(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** What one delivery of a message knows about the finding's history, with or without a ledger. */
export interface LedgerSession {
  readonly duplicate: boolean;
  /** For a duplicate: when the ledger completed the finding (null when it does not say). */
  readonly completedAt?: string | null;
  /** Deliveries of this finding the ledger has counted, this one included (1 without a ledger). */
  readonly attempt: number;
  /** The ledger holds this finding's claim, so `attempt` counts rounds and a retry resumes from the record. */
  readonly counted: boolean;
  readonly previous: ReadonlyMap<ActionType, ActionOutcome>;
  readonly summary: Summary | null;
  readonly deliveries: Readonly<Record<string, SinkDelivery>>;
  /** Why destructive actions cannot be allowed (no ledger/budget store), if so. */
  readonly unsafe: string | null;
  /** Set once a ledger write failed or timed out mid-run: later writes are skipped, the summary says so. */
  readonly lost: string | null;
  /** These never throw and never wait past the ledger timeout; a failure sets `lost`. Writes run in order. */
  recordOutcomes(outcomes: ActionOutcome[]): Promise<void>;
  recordSummary(summary: Summary): Promise<void>;
  recordDelivery(sink: string, delivery: SinkDelivery): Promise<void>;
  complete(): Promise<void>;
  /** Best effort: lets the redelivery take over at once. Never throws. */
  release(): Promise<void>;
}

export function noLedgerSession(unsafe: string, fields: Partial<LedgerSession> = {}): LedgerSession {
  return {
    duplicate: false,
    attempt: 1,
    counted: false,
    previous: new Map(),
    summary: null,
    deliveries: {},
    unsafe,
    lost: null,
    recordOutcomes: async () => {},
    recordSummary: async () => {},
    recordDelivery: async () => {},
    complete: async () => {},
    release: async () => {},
    ...fields,
  };
}

/**
 * Claims the finding. Throws TransientError only when another instance holds
 * it. A ledger that fails, permanently or not, or does not answer in time, does
 * not stop the response: the run goes on without dedupe, the non-destructive
 * actions proceed (they are idempotent) and every destructive one is refused.
 */
export async function openLedgerSession(key: FindingKey, deps: ReportDeps, ids: Ids): Promise<LedgerSession> {
  const { log } = deps;
  if (!deps.ledger) {
    log.log('WARNING', 'ledger', 'no ledger configured (FIRESTORE_DATABASE unset): redeliveries are not deduplicated', ids);
    return noLedgerSession('no ledger configured (FIRESTORE_DATABASE unset)');
  }
  const timeoutMs = deps.ledgerTimeoutMs ?? DEFAULT_LEDGER_TIMEOUT_MS;
  let ledger: Ledger;
  let claim: LedgerClaim;
  try {
    // Loading the client is CPU-bound and cannot hang; the deadline is for the network calls.
    ledger = await deps.ledger();
    claim = await withDeadline('ledger claim', timeoutMs, () => ledger.claim(key, deps.now()));
  } catch (error) {
    const message = errorText(error);
    log.log('ERROR', 'ledger', 'ledger unavailable: containing without dedupe, destructive actions refused', { ...ids, error: message });
    return noLedgerSession(`ledger unavailable (${message.slice(0, 160)})`);
  }
  if (claim.kind === 'completed') {
    log.log('INFO', 'ledger', 'finding already handled: acked as duplicate', { ...ids, key: key.id, completedAt: claim.completedAt });
    return noLedgerSession('', { duplicate: true, completedAt: claim.completedAt });
  }
  if (claim.kind === 'busy') {
    log.log('INFO', 'ledger', 'finding is being handled by another instance: retry later', { ...ids, key: key.id, leaseExpiresAt: claim.leaseExpiresAt });
    throw new TransientError(`finding ${key.id} is claimed by another instance until ${claim.leaseExpiresAt}`);
  }
  const { token } = claim;
  if (claim.attempt > 1) {
    log.log('NOTICE', 'ledger', 'resuming a finding an earlier delivery started', {
      ...ids,
      key: key.id,
      attempt: claim.attempt,
      recordedOutcomes: [...claim.previous.keys()],
      summaryBuilt: claim.summary !== null,
      deliveries: claim.deliveries,
    });
  }
  let lost: string | null = null;
  let queue: Promise<void> = Promise.resolve();
  // One document, one writer at a time: parallel transactions on it only contend.
  const write = (what: string, work: () => Promise<void>): Promise<void> =>
    (queue = queue.then(async () => {
      if (lost !== null) return;
      try {
        await withDeadline(what, timeoutMs, work);
      } catch (error) {
        lost = `${what} failed (${errorText(error).slice(0, 160)})`;
        log.log('ERROR', 'ledger', 'ledger lost mid-run: the response goes on and is reported, without dedupe', { ...ids, error: lost });
      }
    }));
  return {
    duplicate: false,
    attempt: claim.attempt,
    counted: true,
    previous: claim.previous,
    summary: claim.summary,
    deliveries: claim.deliveries,
    unsafe: null,
    get lost() {
      return lost;
    },
    recordOutcomes: (outcomes) => write('ledger record outcomes', () => ledger.recordOutcomes(key, token, outcomes, deps.now())),
    recordSummary: (summary) => write('ledger record summary', () => ledger.recordSummary(key, token, summary, deps.now())),
    recordDelivery: (sink, delivery) => write('ledger record delivery', () => ledger.recordDelivery(key, token, sink, delivery, deps.now())),
    complete: () => write('ledger complete', () => ledger.complete(key, token, deps.now())),
    release: async () => {
      await queue;
      try {
        await withDeadline('ledger release', timeoutMs, () => ledger.release(key, token, deps.now()));
      } catch (error) {
        log.log('WARNING', 'ledger', 'could not release the claim; the retry waits for the lease to expire', { ...ids, error: errorText(error) });
      }
    },
  };
}

/**
 * Reserves budget for the plan's destructive actions and returns the ones
 * refused: "budget: …" when over the limits, "no budget: …" when no budget store
 * could be asked (none configured, the ledger unavailable). Dry-run reserves nothing.
 */
export async function reserveBudget(plan: Plan, key: FindingKey, policy: Policy, session: LedgerSession, deps: ReportDeps, ids: Ids): Promise<Map<ActionType, string>> {
  const actions = budgetedActions(plan);
  const denied = new Map<ActionType, string>();
  if (actions.length === 0 || plan.target === null) return denied;
  const refuseAll = (why: string) => {
    // "no budget:", not "budget:": nothing was exceeded, there was no budget to ask (the headline must not say otherwise).
    for (const a of actions) denied.set(a, `no budget: ${why}: destructive actions are refused`);
    return denied;
  };
  if (session.unsafe !== null) return refuseAll(session.unsafe);
  if (!deps.budget) return refuseAll('no budget store configured');
  const timeoutMs = deps.ledgerTimeoutMs ?? DEFAULT_LEDGER_TIMEOUT_MS;
  try {
    const budget = await deps.budget();
    const target = plan.target;
    const decision = await withDeadline('budget reserve', timeoutMs, () => budget.reserve({
      key: key.id,
      cluster: target.clusterName,
      namespace: target.namespace,
      actions,
      limits: policy.budget,
      now: deps.now(),
    }));
    if (decision.denied.size > 0) {
      deps.log.log('WARNING', 'budget', 'blast-radius budget exceeded: actions refused', {
        ...ids,
        denied: Object.fromEntries(decision.denied),
        granted: decision.granted,
      });
    }
    return decision.denied;
  } catch (error) {
    // Without a budget no destructive action may run; the rest of the plan still does.
    deps.log.log('ERROR', 'budget', 'budget store unavailable: destructive actions refused', { ...ids, error: errorText(error) });
    return refuseAll(`budget store unavailable (${errorText(error).slice(0, 120)})`);
  }
}

/** Gives back reservations for budgeted actions that did not change anything (skipped by a guard, not attempted). */
export async function refundUnusedBudget(plan: Plan, key: FindingKey, outcomes: ActionOutcome[], deniedByBudget: ReadonlyMap<ActionType, string>, deps: ReportDeps, ids: Ids): Promise<void> {
  if (!deps.budget || plan.target === null || plan.dryRun) return;
  const unused = outcomes
    .filter((o) => budgetKind(o.type) !== undefined && !deniedByBudget.has(o.type) && (o.status === 'skipped' || o.status === 'would'))
    .map((o) => o.type);
  if (unused.length === 0) return;
  try {
    const timeoutMs = deps.ledgerTimeoutMs ?? DEFAULT_LEDGER_TIMEOUT_MS;
    const budget = await deps.budget();
    await withDeadline('budget refund', timeoutMs, () =>
      budget.refund({ key: key.id, cluster: plan.target!.clusterName, namespace: plan.target!.namespace, actions: unused, now: deps.now() }),
    );
  } catch (error) {
    // Keeping the reservation only makes the budget stricter: never fail the run over it.
    deps.log.log('WARNING', 'budget', 'could not refund unused budget', { ...ids, actions: unused, error: String(error).slice(0, 300) });
  }
}
