// The response pipeline: decode → plan → label/isolate → claim → contain → evidence → report.
// Every dependency arrives through a small interface (core/ports.ts); the
// composition root (src/wiring/compose.ts) builds them. Nothing here imports an SDK.
import { approvedRunKey, type ApprovalStore, type ApprovedRun } from '../core/approval/approval.ts';
import { decodeInput, DecodeError, type DecodedInput } from '../core/finding/envelope.ts';
import { isTransient, TransientError } from '../core/errors.ts';
import { plan as makePlan, type Plan } from '../core/plan/plan.ts';
import type { ActionType, Policy } from '../core/policy/policy.ts';
import { wroteToCluster, type ActionOutcome } from '../core/plan/outcome.ts';
import type { ClusterResponder, ClusterSnapshots, ContainmentResult, EvidenceGatherer, EvidenceReport, StepLogger } from '../core/ports.ts';
import type { SccWriteBackInput } from '../core/scc/write-back.ts';
import { buildSummary } from '../core/summary/summary.ts';
import { type Summary, type SummaryScc } from '../core/summary/document.ts';
import { findingKey } from '../core/finding/key.ts';
import type { OwnerResolution } from './resolve-owners.ts';
import {
  noLedgerSession,
  openLedgerSession,
  refundUnusedBudget,
  reserveBudget,
  type LedgerSession,
  type ReportDeps,
} from './ledger-session.ts';
import { deliverSummary } from './summary-delivery.ts';

export interface PipelineDeps extends ReportDeps {
  policy: Policy;
  now: () => Date;
  log: StepLogger;
  forceDryRun?: boolean;
  /** CLI respond: a finding a person passed in is planned even when it carries our SCC marks (PlanOptions.acceptOwnEcho). */
  acceptOwnEcho?: boolean;
  /** The function's timeout: the delivery's time budget (actions, evidence, then the summary). */
  timeoutMs?: number;
  /** Loaded only when a plan has actions, so the ignore path stays light. */
  clusterResponder?: () => Promise<ClusterResponder>;
  evidenceGatherer?: () => Promise<EvidenceGatherer>;
  /** Who owns the workload (src/pipeline/resolve-owners.ts), after containment, beside the evidence. Never throws. */
  owners?: (input: { plan: Plan; snapshots: ClusterSnapshots }) => Promise<OwnerResolution>;
  /** The SCC write-back (SCC_WRITEBACK): warmed after containment, written before the summary is delivered. */
  scc?: { warm(): void; writeBack(input: SccWriteBackInput): Promise<SummaryScc | null> };
  /** The ledger's approval records (approval: required rules): the dry run keeps its request there. */
  approvals?: () => Promise<ApprovalStore>;
  /**
   * Set for the run a person approved in Slack (src/pipeline/approval-decision.ts): an approval rule is planned
   * enforced (the kill switch still wins), under a ledger key of its own (its own claim, budget and
   * summary; every preflight against the cluster as it is now), and the summary names the approver.
   */
  approvedRun?: ApprovedRun;
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
  const plan = makePlan(decoded, deps.policy, deps.now(), {
    forceDryRun: deps.forceDryRun === true,
    approved: deps.approvedRun !== undefined,
    acceptOwnEcho: deps.acceptOwnEcho === true,
  });
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

  // The cluster client is the first thing loaded: on a cold instance it is the largest module
  // load, and the first containment write waits for it (the ledger's client loads after it).
  const responderLoading = plan.actions.length > 0 ? deps.clusterResponder?.() : undefined;
  responderLoading?.catch(() => undefined); // awaited (and its error handled) below

  // Time budget of this delivery, from the function's timeout: actions start in the first
  // part, evidence has the next, and the summary always has room to go out.
  const timeoutMs = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const startBy = receivedAt.getTime() + timeoutMs * 0.4;
  const evidenceBy = receivedAt.getTime() + timeoutMs * 0.65;

  const key = deps.approvedRun ? approvedRunKey(findingKey(decoded.notification.finding)) : findingKey(decoded.notification.finding);
  let claiming: Promise<LedgerSession> | undefined;
  const claim = () => (claiming ??= openLedgerSession(key, deps, { ...ids, key: key.id }));
  // Before the claim: the idempotent actions (label, isolate), so that loading the ledger's
  // client and its round trips are not on the path to the first write. The claim starts with
  // the first write, in the network waits of the rest. What racing deliveries then do: docs/summary.md,
  // "Before the claim".
  const early = await containBeforeClaim(plan, responderLoading, deps, startBy, claim, ids);
  // Claim before anything destructive: a redelivery or a racing instance must not act or report again.
  let session: LedgerSession;
  try {
    session = await claim();
  } catch (error) {
    if (early.wrote) log.log('WARNING', 'ledger', 'finding is claimed by another instance; the writes made before the claim are its incident\'s own and in its summary', { ...ids, wrote: early.wroteTypes });
    throw error;
  }
  if (early.wrote && session.duplicate && completedBefore(session.completedAt, receivedAt)) {
    // The finding was handled before this delivery began, and its writes found the first
    // response's label or isolation undone since (by hand: a release marks the pod): they are
    // reported in a summary of their own. A delivery that raced the first one wrote what it did.
    await reportLateWrites(early.outcomes, plan, decoded, key, receivedAt, deps, ids);
  } else if (early.wrote && (session.duplicate || session.summary !== null)) {
    log.log('NOTICE', 'ledger', 'a delivery racing the one that handled this finding labelled or isolated too: the same writes, in its summary', { ...ids, wrote: early.wroteTypes });
  }
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
        containment = await responder.contain({ plan, deniedByBudget, previous: session.previous, carried: early.carried, onOutcome, startBy });
      } catch (error) {
        const reason = `containment error: ${error instanceof Error ? error.message : String(error)}`.slice(0, 500);
        if (isTransient(error) && known.size === 0 && !early.wrote && (!session.counted || session.attempt < maxRounds)) {
          // Thrown before any write (cluster unreachable, preflight read 503): nothing to report yet.
          log.log('WARNING', 'contain', 'transient failure before any write, Pub/Sub will redeliver', { ...ids, error: reason, attempt: session.attempt });
          await session.release();
          throw error;
        }
        // Ops must still hear about it: what was done is reported as done, the rest as failed.
        log.log('ERROR', 'contain', 'containment failed', { ...ids, error: reason });
        containment = {
          outcomes: plan.actions.map<ActionOutcome>((a) => known.get(a.type) ?? early.carried.get(a.type) ?? { type: a.type, status: 'failed', reason }),
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
      // Logged once: an outcome carried from before the claim had its line then (the action metrics count lines).
      const carried = early.carried.get(outcome.type);
      if (carried && carried.status === outcome.status && carried.reason === outcome.reason) continue;
      log.log(outcome.status === 'failed' ? 'ERROR' : outcome.status === 'pending' ? 'WARNING' : 'NOTICE', `action:${outcome.type}`, outcome.reason, {
        ...ids,
        status: outcome.status,
      });
    }
  }
  if (containment.outcomes.length > 0) await session.recordOutcomes(containment.outcomes);
  const containmentMs = deps.now().getTime() - containStart;

  // Off the path to containment: the SCC client starts loading, the owners are looked up beside the evidence.
  if (round.kind === 'final') deps.scc?.warm();
  const ownersLookup = deps.owners ? resolveOwnersSafely(deps.owners, plan, containment.snapshots, log, ids) : Promise.resolve(null);
  let evidence: EvidenceReport | undefined;
  if (deps.evidenceGatherer && round.kind === 'final') {
    evidence = await gatherEvidence(deps, plan, containment, decoded, evidenceBy, ids);
  }
  const evidenceMs = deps.now().getTime() - containStart - containmentMs;
  const owners = await ownersLookup;

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
    owners,
  });
  if (plan.approval !== null) {
    // approval: required. The dry run keeps its request in the ledger before the summary offers the
    // buttons; the approved run's summary names the approver.
    const { summaryApproval } = await import('./approval-request.ts');
    built.approval = await summaryApproval({ plan, key, notification: decoded.notification, session, deps, ids });
  }
  if (round.kind === 'report-and-retry') {
    // Something was written: ops hear it now, not after the retries; the final summary follows.
    await deliverSummary(built, session, deps, ids);
    log.log('WARNING', 'contain', 'actions pending after the writes were reported: Pub/Sub will redeliver', { ...ids, attempt: session.attempt, pending: round.pending });
    await session.release();
    throw new TransientError(`actions pending retry after writes were reported: ${round.pending.join(', ')}`);
  }
  // Written back before the summary goes out, so the summary says what SCC now shows (and the
  // ledger keeps it: a redelivery that only resends the summary does not write again).
  if (deps.scc) built.scc = await deps.scc.writeBack({ key, summary: built, containment, now: deps.now() });
  await session.recordSummary(built);
  await deliverSummary(built, session, deps, ids);
  await session.complete();
  return { status: 'responded', decoded, plan, containment, ...(evidence ? { evidence } : {}), summary: built };
}

const DEFAULT_TIMEOUT_MS = 120_000;

/** Idempotent, and they keep the pod: safe to run before the ledger says whether the finding is new. */
const BEFORE_CLAIM_ACTIONS: ReadonlySet<ActionType> = new Set(['label-pod', 'isolate-pod']);

/** Kept for the run after the claim; skipped, pending and dry-run outcomes are decided again there. */
const CARRIED_STATUSES: ReadonlySet<ActionOutcome['status']> = new Set(['done', 'already', 'partial', 'ineffective', 'failed']);

interface BeforeClaim {
  outcomes: ActionOutcome[];
  carried: ReadonlyMap<ActionType, ActionOutcome>;
  /** Something was written to the cluster (not only found in place). */
  wrote: boolean;
  wroteTypes: ActionType[];
}

/**
 * Runs the plan's label and isolate actions before the ledger claim, and starts the claim
 * with the first outcome (loading the ledger's client then fills the next network waits).
 * Only when it gains time to contain: an enforcing plan, a ledger to wait for, a cluster
 * responder. Never throws: a failure here leaves the actions to the run after the claim.
 */
async function containBeforeClaim(
  plan: Plan,
  responderLoading: Promise<ClusterResponder> | undefined,
  deps: PipelineDeps,
  startBy: number,
  claim: () => Promise<LedgerSession>,
  ids: Record<string, unknown>,
): Promise<BeforeClaim> {
  const none: BeforeClaim = { outcomes: [], carried: new Map(), wrote: false, wroteTypes: [] };
  const actions = plan.actions.filter((a) => BEFORE_CLAIM_ACTIONS.has(a.type));
  if (plan.dryRun || !deps.ledger || !responderLoading || actions.length === 0) return none;
  try {
    const responder = await responderLoading;
    const result = await responder.contain({
      plan: { ...plan, actions },
      deniedByBudget: new Map(),
      stage: 'before-claim',
      startBy,
      onOutcome: async () => {
        void claim().catch(() => undefined); // awaited by the pipeline
      },
    });
    for (const outcome of result.outcomes) {
      deps.log.log(outcome.status === 'failed' ? 'ERROR' : outcome.status === 'pending' ? 'WARNING' : 'NOTICE', `action:${outcome.type}`, outcome.reason, {
        ...ids,
        status: outcome.status,
        stage: 'before-claim',
      });
    }
    const carried = new Map(result.outcomes.filter((o) => CARRIED_STATUSES.has(o.status)).map((o) => [o.type, o] as const));
    const wroteTypes = result.outcomes.filter(wroteToCluster).map((o) => o.type);
    return { outcomes: result.outcomes, carried, wrote: wroteTypes.length > 0, wroteTypes };
  } catch (error) {
    // Thrown before any write (cluster unreachable, a preflight read failed): the run after the
    // claim meets the same fault and handles it (retry, or report).
    deps.log.log('WARNING', 'contain', 'containment before the claim did not run; left to the run after it', {
      ...ids,
      error: (error instanceof Error ? error.message : String(error)).slice(0, 300),
    });
    return none;
  }
}

/** Owner resolution never fails the response: a failure to even start it is one note. */
async function resolveOwnersSafely(
  owners: NonNullable<PipelineDeps['owners']>,
  plan: Plan,
  snapshots: ClusterSnapshots,
  log: StepLogger,
  ids: Record<string, unknown>,
): Promise<OwnerResolution> {
  try {
    return await owners({ plan, snapshots });
  } catch (error) {
    const note = `owners not looked up: ${(error instanceof Error ? error.message : String(error)).slice(0, 200)}`;
    log.log('ERROR', 'owners', note, ids);
    return { owners: [], notes: [note] };
  }
}

function completedBefore(completedAt: string | null | undefined, receivedAt: Date): boolean {
  const t = completedAt ? Date.parse(completedAt) : NaN;
  return !Number.isNaN(t) && t < receivedAt.getTime();
}

/**
 * A redelivery of a finding the ledger shows handled wrote before it knew: the first
 * response's label or isolation had been undone since (not by release, which marks the
 * pod). That write gets its own summary, an update to the first.
 */
async function reportLateWrites(
  outcomes: ActionOutcome[],
  plan: Plan,
  decoded: DecodedInput,
  key: ReturnType<typeof findingKey>,
  receivedAt: Date,
  deps: PipelineDeps,
  ids: Record<string, unknown>,
): Promise<void> {
  const written = outcomes.filter(wroteToCluster);
  deps.log.log('WARNING', 'contain', 'a redelivery of a handled finding re-applied containment before its claim: reported', { ...ids, wrote: written.map((o) => o.type) });
  const summary = buildSummary({
    key,
    plan: { ...plan, actions: plan.actions.filter((a) => written.some((o) => o.type === a.type)) },
    finding: decoded.notification.finding,
    containment: {
      outcomes: written,
      snapshots: {},
      warnings: ['a redelivery of this finding, already handled, found this containment undone on the cluster and re-applied it before its ledger claim'],
    },
    evidence: null,
    policy: deps.policy,
    timings: { receivedAt, publishTime: decoded.pubsub?.publishTime ?? null, containmentMs: null, evidenceMs: null },
    now: deps.now(),
    round: { round: 1, update: true, retrying: false },
  });
  try {
    await deliverSummary(summary, noLedgerSession(''), deps, ids);
  } catch (error) {
    // The first response's summary stands; this one is best effort (its log line went out first).
    deps.log.log('ERROR', 'summary', 'the report of the re-applied containment was not delivered everywhere', { ...ids, error: String(error).slice(0, 300) });
  }
}

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
