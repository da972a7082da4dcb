// The response pipeline: decode → plan → (claim) → contain → evidence → report.
// Every dependency arrives through a small interface (core/ports.ts); the
// composition root (composition.ts) builds them. Nothing here imports an SDK.
import { decodeInput, DecodeError, type DecodedInput } from './core/envelope.ts';
import { isTransient, TransientError } from './core/errors.ts';
import { plan as makePlan, type Plan } from './core/plan.ts';
import type { ActionType, Policy } from './core/policy.ts';
import { wroteToCluster, type ActionOutcome } from './core/outcome.ts';
import type { ClusterResponder, ContainmentResult, EvidenceGatherer, EvidenceReport, StepLogger } from './core/ports.ts';
import { buildSummary, findingKey, type Summary } from './core/summary.ts';
import { deliverSummary, openLedgerSession, refundUnusedBudget, reserveBudget, type LedgerSession, type ReportDeps } from './report.ts';

export interface PipelineDeps extends ReportDeps {
  policy: Policy;
  now: () => Date;
  log: StepLogger;
  forceDryRun?: boolean;
  /** The function's timeout: the delivery's time budget (actions, evidence, then the summary). */
  timeoutMs?: number;
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
    // INFO, not DEBUG: at the default LOG_LEVEL this line is what the findings_ignored and
    // findings_received metrics count (terraform/monitoring.tf). One short line, no I/O beyond it.
    log.log('INFO', 'scope', 'finding out of scope', { ...ids, reason: plan.reason, shape: decoded.shape });
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

  // Time budget of this delivery, from the function's timeout: actions start in the first
  // part, evidence has the next, and the summary always has room to go out.
  const timeoutMs = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const startBy = receivedAt.getTime() + timeoutMs * 0.4;
  const evidenceBy = receivedAt.getTime() + timeoutMs * 0.65;

  // Claim before acting: a redelivery or a racing instance must not act or report again.
  const key = findingKey(decoded.notification.finding);
  const session = await openLedgerSession(key, deps, { ...ids, key: key.id });
  if (session.duplicate) return { status: 'duplicate', decoded, plan };
  if (session.summary !== null) {
    // An earlier delivery acted and built the final summary; only sinks it did not reach are left.
    await deliverSummary(session.summary, session, deps, ids);
    await session.complete();
    return { status: 'responded', decoded, plan, summary: session.summary };
  }

  let containment: ContainmentResult = { outcomes: [], snapshots: {}, warnings: [] };
  let deniedByBudget: ReadonlyMap<ActionType, string> = new Map();
  const containStart = deps.now().getTime();
  const maxRounds = deps.policy.guards.maxContainmentRounds;
  if (plan.actions.length > 0) {
    if (!responderLoading) {
      containment.outcomes = plan.actions.map<ActionOutcome>((a) => ({
        type: a.type,
        status: 'skipped',
        reason: 'no cluster access configured',
      }));
    } else {
      deniedByBudget = await reserveBudget(plan, key, deps.policy, session, deps, ids);
      // Each outcome is recorded the moment it is known, so a crash or a timeout later in the
      // run still leaves the record of every write (and the redelivery does not repeat it).
      const known = new Map<ActionType, ActionOutcome>();
      const onOutcome = async (outcome: ActionOutcome) => {
        known.set(outcome.type, outcome);
        void session.recordOutcomes([outcome]);
      };
      try {
        const responder = await responderLoading;
        containment = await responder.contain({ plan, deniedByBudget, previous: session.previous, onOutcome, startBy });
      } catch (error) {
        const reason = `containment error: ${error instanceof Error ? error.message : String(error)}`.slice(0, 500);
        if (isTransient(error) && known.size === 0 && (!session.counted || session.attempt < maxRounds)) {
          // Thrown before any write (cluster unreachable, preflight read 503): nothing to report yet.
          log.log('WARNING', 'contain', 'transient failure before any write, Pub/Sub will redeliver', { ...ids, error: reason, attempt: session.attempt });
          await session.release();
          throw error;
        }
        // Ops must still hear about it: what was done is reported as done, the rest as failed.
        log.log('ERROR', 'contain', 'containment failed', { ...ids, error: reason });
        containment = {
          outcomes: plan.actions.map<ActionOutcome>((a) => known.get(a.type) ?? { type: a.type, status: 'failed', reason }),
          snapshots: {},
          warnings: [reason],
        };
      }
    }
  }
  const round = decideRound(containment.outcomes, session, maxRounds);
  if (round.kind === 'silent-retry') {
    log.log('WARNING', 'contain', 'actions pending and nothing written yet: Pub/Sub will redeliver', { ...ids, attempt: session.attempt });
    await session.recordOutcomes(containment.outcomes);
    await session.release();
    throw new TransientError(`actions pending retry: ${round.pending.join(', ')}`);
  }
  if (round.kind === 'final') containment.outcomes = containment.outcomes.map((o) => giveUp(o, session, maxRounds));
  if (plan.actions.length > 0 && containment.outcomes.length > 0 && responderLoading) {
    await refundUnusedBudget(plan, key, containment.outcomes, deniedByBudget, deps, ids);
    for (const outcome of containment.outcomes) {
      log.log(outcome.status === 'failed' ? 'ERROR' : outcome.status === 'pending' ? 'WARNING' : 'NOTICE', `action:${outcome.type}`, outcome.reason, {
        ...ids,
        status: outcome.status,
      });
    }
  }
  if (containment.outcomes.length > 0) await session.recordOutcomes(containment.outcomes);
  const containmentMs = deps.now().getTime() - containStart;

  let evidence: EvidenceReport | undefined;
  if (deps.evidenceGatherer && round.kind === 'final') {
    evidence = await gatherEvidence(deps, plan, containment, decoded, evidenceBy, ids);
  }
  const evidenceMs = deps.now().getTime() - containStart - containmentMs;

  const earlierSummarySent = Object.values(session.deliveries).some((d) => d.status === 'sent' && d.round !== undefined && d.round < session.attempt);
  const built = buildSummary({
    key,
    plan,
    finding: decoded.notification.finding,
    containment: { ...containment, warnings: [...ledgerWarnings(session), ...containment.warnings] },
    evidence: evidence ?? null,
    policy: deps.policy,
    timings: { receivedAt, publishTime: decoded.pubsub?.publishTime ?? null, containmentMs, evidenceMs: evidence ? evidenceMs : null },
    now: deps.now(),
    round: { round: session.attempt, update: earlierSummarySent, retrying: round.kind === 'report-and-retry' },
  });
  if (round.kind === 'report-and-retry') {
    // Something was written: ops hear it now, not after the retries; the final summary follows.
    await deliverSummary(built, session, deps, ids);
    log.log('WARNING', 'contain', 'actions pending after the writes were reported: Pub/Sub will redeliver', { ...ids, attempt: session.attempt, pending: round.pending });
    await session.release();
    throw new TransientError(`actions pending retry after writes were reported: ${round.pending.join(', ')}`);
  }
  await session.recordSummary(built);
  await deliverSummary(built, session, deps, ids);
  await session.complete();
  return { status: 'responded', decoded, plan, containment, ...(evidence ? { evidence } : {}), summary: built };
}

const DEFAULT_TIMEOUT_MS = 120_000;

type Round = { kind: 'final' } | { kind: 'silent-retry' | 'report-and-retry'; pending: ActionType[] };

/**
 * Whether this delivery ends the finding, or Pub/Sub should redeliver it for the
 * pending actions: silently when nothing was written yet, after a summary of
 * what was written otherwise. Rounds are counted by the ledger; without one,
 * a delivery that wrote anything is final (a retry could not be told apart
 * from a new finding, and would repeat the summary).
 */
function decideRound(outcomes: readonly ActionOutcome[], session: LedgerSession, maxRounds: number): Round {
  const pending = outcomes.filter((o) => o.status === 'pending').map((o) => o.type);
  if (pending.length === 0) return { kind: 'final' };
  const wrote = outcomes.some(wroteToCluster);
  const roundsLeft = session.counted && session.lost === null && session.attempt < maxRounds;
  if (!wrote && (roundsLeft || !session.counted)) return { kind: 'silent-retry', pending };
  if (wrote && roundsLeft) return { kind: 'report-and-retry', pending };
  return { kind: 'final' };
}

function giveUp(outcome: ActionOutcome, session: LedgerSession, maxRounds: number): ActionOutcome {
  if (outcome.status !== 'pending') return outcome;
  const why = !session.counted
    ? 'not retried: without a ledger, retries cannot be counted'
    : session.lost !== null
      ? 'not retried: the ledger was lost mid-run'
      : `gave up after ${session.attempt} of ${maxRounds} deliveries (guards.maxContainmentRounds)`;
  return { ...outcome, status: 'failed', reason: `${why}; last error: ${outcome.reason}` };
}

function ledgerWarnings(session: LedgerSession): string[] {
  const out: string[] = [];
  if (!session.counted && session.unsafe) out.push(`no dedupe: ${session.unsafe}; a duplicate summary is possible`);
  if (session.lost !== null) out.push(`ledger lost mid-run: ${session.lost}; a duplicate summary is possible`);
  return out;
}

async function gatherEvidence(
  deps: PipelineDeps,
  plan: Plan,
  containment: ContainmentResult,
  decoded: DecodedInput,
  evidenceBy: number,
  ids: Record<string, unknown>,
): Promise<EvidenceReport> {
  const incomplete = (note: string): EvidenceReport => ({ queries: [], links: {}, bundle: null, notes: [note] });
  let timer: NodeJS.Timeout | undefined;
  try {
    const gatherer = await deps.evidenceGatherer!();
    const budget = Math.max(0, evidenceBy - deps.now().getTime());
    // The summary must go out within the function timeout: evidence gets what is left of its share.
    const outOfTime = new Promise<EvidenceReport>((resolve) => {
      timer = setTimeout(() => resolve(incomplete('evidence incomplete: out of time for this delivery (the summary goes out without it)')), budget);
    });
    return await Promise.race([gatherer.gather(plan, containment.snapshots, { notification: decoded.notification }), outOfTime]);
  } catch (error) {
    // Evidence never costs the containment result or the summary (the gatherer itself does not
    // throw; this covers loading it: a missing module, a bad EVIDENCE_BUCKET).
    deps.log.log('ERROR', 'evidence', 'evidence gatherer unavailable', { ...ids, error: String(error).slice(0, 300) });
    return incomplete('evidence incomplete: gatherer unavailable');
  } finally {
    clearTimeout(timer);
  }
}
