// The response pipeline: decode → plan → (claim) → contain → evidence → report.
// Every dependency arrives through a small interface (core/ports.ts); the
// composition root (composition.ts) builds them. Nothing here imports an SDK.
import { decodeInput, DecodeError, type DecodedInput } from './core/envelope.ts';
import { isTransient } from './core/errors.ts';
import { plan as makePlan, type Plan } from './core/plan.ts';
import type { ActionType, Policy } from './core/policy.ts';
import type { ActionOutcome } from './core/outcome.ts';
import type { ClusterResponder, ContainmentResult, EvidenceGatherer, EvidenceReport, StepLogger } from './core/ports.ts';
import { buildSummary, findingKey, type Summary } from './core/summary.ts';
import { deliverSummary, openLedgerSession, refundUnusedBudget, reserveBudget, type ReportDeps } from './report.ts';

export interface PipelineDeps extends ReportDeps {
  policy: Policy;
  now: () => Date;
  log: StepLogger;
  forceDryRun?: boolean;
  /** Loaded only when a plan has actions, so the ignore path stays light. */
  clusterResponder?: () => Promise<ClusterResponder>;
  evidenceGatherer?: () => Promise<EvidenceGatherer>;
}

export interface PipelineResult {
  /** duplicate: the ledger shows this finding was already handled (redelivery, or another instance). */
  status: 'ignored' | 'responded' | 'malformed' | 'duplicate';
  decoded?: DecodedInput;
  plan?: Plan;
  containment?: ContainmentResult;
  evidence?: EvidenceReport;
  summary?: Summary;
  error?: string;
}

/**
 * Handles one input. Resolves for everything that must be acked (including
 * malformed input, logged once); rejects only with a TransientError so that
 * Pub/Sub redelivers.
 */
export async function handleInput(input: unknown, deps: PipelineDeps): Promise<PipelineResult> {
  const { log } = deps;
  const receivedAt = deps.now();
  let decoded: DecodedInput;
  try {
    decoded = decodeInput(input);
  } catch (error) {
    if (error instanceof DecodeError) {
      log.log('WARNING', 'decode', 'malformed message acked without processing', { error: error.message, path: error.path });
      return { status: 'malformed', error: error.message };
    }
    throw error;
  }
  const plan = makePlan(decoded, deps.policy, deps.now(), { forceDryRun: deps.forceDryRun === true });
  const ids = { finding: plan.finding.name, messageId: decoded.pubsub?.messageId ?? null };
  if (plan.decision === 'ignore') {
    log.log('DEBUG', 'scope', 'finding out of scope', { ...ids, reason: plan.reason, shape: decoded.shape });
    return { status: 'ignored', decoded, plan };
  }
  log.log('NOTICE', 'plan', plan.reason, {
    ...ids,
    rule: plan.rule,
    dryRun: plan.dryRun,
    actions: plan.actions.map((a) => a.type),
    target: plan.target,
    targetProblems: plan.targetProblems,
  });

  // Start loading the cluster client now (on a cold instance it is the largest module load) so
  // that it overlaps the ledger claim's round trips; a duplicate just leaves it loaded.
  const responderLoading = plan.actions.length > 0 ? deps.clusterResponder?.() : undefined;
  responderLoading?.catch(() => undefined); // awaited (and its error handled) below

  // Claim before acting: a redelivery or a racing instance must not act or report again.
  const key = findingKey(decoded.notification.finding);
  const session = await openLedgerSession(key, deps, { ...ids, key: key.id });
  if (session.duplicate) return { status: 'duplicate', decoded, plan };
  if (session.summary !== null) {
    // An earlier delivery acted and built the summary; only sinks it did not reach are left.
    await deliverSummary(session.summary, session, deps, ids);
    await session.complete();
    return { status: 'responded', decoded, plan, summary: session.summary };
  }

  let containment: ContainmentResult = { outcomes: [], snapshots: {}, warnings: [] };
  let deniedByBudget: ReadonlyMap<ActionType, string> = new Map();
  const containStart = deps.now().getTime();
  if (plan.actions.length > 0) {
    if (!responderLoading) {
      containment.outcomes = plan.actions.map<ActionOutcome>((a) => ({
        type: a.type,
        status: 'skipped',
        reason: 'no cluster access configured',
      }));
    } else {
      deniedByBudget = await reserveBudget(plan, key, deps.policy, session, deps, ids);
      try {
        const responder = await responderLoading;
        containment = await responder.contain({ plan, deniedByBudget, previous: session.previous });
      } catch (error) {
        if (isTransient(error)) {
          log.log('WARNING', 'contain', 'transient failure, Pub/Sub will redeliver', { ...ids, error: String(error) });
          await session.release();
          throw error;
        }
        // Ops must still hear about it: the summary reports the actions as failed.
        const reason = `containment error: ${error instanceof Error ? error.message : String(error)}`.slice(0, 500);
        log.log('ERROR', 'contain', 'containment failed', { ...ids, error: reason });
        containment = {
          outcomes: plan.actions.map<ActionOutcome>((a) => ({ type: a.type, status: 'failed', reason })),
          snapshots: {},
          warnings: [reason],
        };
      }
      await refundUnusedBudget(plan, key, containment.outcomes, deniedByBudget, deps, ids);
    }
    for (const outcome of containment.outcomes) {
      log.log(outcome.status === 'failed' ? 'ERROR' : 'NOTICE', `action:${outcome.type}`, outcome.reason, { ...ids, status: outcome.status });
    }
    await session.recordOutcomes(containment.outcomes);
  }
  const containmentMs = deps.now().getTime() - containStart;

  let evidence: EvidenceReport | undefined;
  if (deps.evidenceGatherer) {
    try {
      const gatherer = await deps.evidenceGatherer();
      evidence = await gatherer.gather(plan, containment.snapshots, { notification: decoded.notification });
    } catch (error) {
      // Evidence never costs the containment result or the summary (the gatherer itself does not
      // throw; this covers loading it: a missing module, a bad EVIDENCE_BUCKET).
      log.log('ERROR', 'evidence', 'evidence gatherer unavailable', { ...ids, error: String(error).slice(0, 300) });
      evidence = { queries: [], links: {}, bundle: null, notes: ['evidence incomplete: gatherer unavailable'] };
    }
  }
  const evidenceMs = deps.now().getTime() - containStart - containmentMs;

  const summary = buildSummary({
    key,
    plan,
    finding: decoded.notification.finding,
    containment,
    evidence: evidence ?? null,
    policy: deps.policy,
    timings: { receivedAt, publishTime: decoded.pubsub?.publishTime ?? null, containmentMs, evidenceMs: evidence ? evidenceMs : null },
    now: deps.now(),
  });
  await session.recordSummary(summary);
  await deliverSummary(summary, session, deps, ids);
  await session.complete();
  return { status: 'responded', decoded, plan, containment, ...(evidence ? { evidence } : {}), summary };
}
