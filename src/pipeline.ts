// The response pipeline: decode → plan → (claim) → contain → evidence → report.
// Every dependency arrives through a small interface (core/ports.ts); the
// composition root (composition.ts) builds them. Nothing here imports an SDK.
import { decodeInput, DecodeError, type DecodedInput } from './core/envelope.ts';
import { isTransient } from './core/errors.ts';
import { plan as makePlan, type Plan } from './core/plan.ts';
import type { Policy } from './core/policy.ts';
import type { ActionOutcome } from './core/outcome.ts';
import type { ClusterResponder, ContainmentResult, EvidenceGatherer, EvidenceReport, StepLogger } from './core/ports.ts';

export interface PipelineDeps {
  policy: Policy;
  now: () => Date;
  log: StepLogger;
  forceDryRun?: boolean;
  /** Loaded only when a plan has actions, so the ignore path stays light. */
  clusterResponder?: () => Promise<ClusterResponder>;
  evidenceGatherer?: () => Promise<EvidenceGatherer>;
}

export interface PipelineResult {
  status: 'ignored' | 'responded' | 'malformed';
  decoded?: DecodedInput;
  plan?: Plan;
  containment?: ContainmentResult;
  evidence?: EvidenceReport;
  error?: string;
}

/**
 * Handles one input. Resolves for everything that must be acked (including
 * malformed input, logged once); rejects only with a TransientError so that
 * Pub/Sub redelivers.
 */
export async function handleInput(input: unknown, deps: PipelineDeps): Promise<PipelineResult> {
  const { log } = deps;
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

  let containment: ContainmentResult = { outcomes: [], snapshots: {}, warnings: [] };
  if (plan.actions.length > 0) {
    if (!deps.clusterResponder) {
      containment.outcomes = plan.actions.map<ActionOutcome>((a) => ({
        type: a.type,
        status: 'skipped',
        reason: 'no cluster access configured',
      }));
    } else {
      try {
        const responder = await deps.clusterResponder();
        containment = await responder.contain({ plan, deniedByBudget: new Map() });
      } catch (error) {
        if (isTransient(error)) {
          log.log('WARNING', 'contain', 'transient failure, Pub/Sub will redeliver', { ...ids, error: String(error) });
        }
        throw error;
      }
    }
    for (const outcome of containment.outcomes) {
      log.log(outcome.status === 'failed' ? 'ERROR' : 'NOTICE', `action:${outcome.type}`, outcome.reason, { ...ids, status: outcome.status });
    }
  }

  let evidence: EvidenceReport | undefined;
  if (deps.evidenceGatherer) {
    const gatherer = await deps.evidenceGatherer();
    evidence = await gatherer.gather(plan, containment.snapshots);
  }
  return { status: 'responded', decoded, plan, containment, ...(evidence ? { evidence } : {}) };
}
