// The approval consumer's logic: one approval request (published by the
// Slack endpoint, src/functions/slack-endpoint.ts) → checked against the ledger and the
// policy as they are now → the approved run, or the dismissal, or a refusal,
// and the Slack message updated through the click's response_url. Ports only,
// no SDK: src/functions/approval-consumer.ts wires it.
//
// Nothing in the request is taken on trust beyond what Slack signed, and even
// that is checked again: the incident must have a stored request, the user
// must be an approver of the rule in the policy as it is now, the request must
// not have expired, the finding must still plan the same rule with no action
// type and no target the approver was not shown, and the ledger lets exactly
// one decision through (a second click, a second approver and a Pub/Sub
// redelivery all end in that one decision). A Contain decided and never carried
// out is resumed by the next Contain press of an approver, checked like a new
// one. The approved run then does every preflight and guard against the
// cluster as it is now.
import {
  approvalMessageSchema,
  approvedPlanProblem,
  approversFor,
  checkApprover,
  DISMISS_REASONS,
  responseUrlProblem,
  sameClick,
  type ApprovalDecisionRecord,
  type ApprovalMessage,
  type ApprovalRefusal,
  type ApprovalResultRecord,
  type ApprovalStore,
  type ApprovedRun,
  type StoredApproval,
} from '../core/approval/approval.ts';
import { ephemeralMessage, replacementMessage } from '../core/summary/slack/approval-message.ts';
import { decodeInput } from '../core/finding/envelope.ts';
import { errorText, isTransient } from '../core/errors.ts';
import { plan as makePlan } from '../core/plan/plan.ts';
import type { Policy } from '../core/policy/policy.ts';
import type { StepLogger } from '../core/ports.ts';
import type { Summary, SummaryApproval } from '../core/summary/document.ts';
import type { PipelineResult } from './respond.ts';

export type { ApprovedRun };

export interface ApprovalFlowDeps {
  policy: Policy;
  now: () => Date;
  log: StepLogger;
  /** The kill switch (SCC_RESPONDER_FORCE_DRY_RUN): a Contain is refused while it is on. */
  forceDryRun?: boolean;
  /** The ledger's approval records; absent (no FIRESTORE_DATABASE): every decision is refused. */
  approvals?: () => Promise<ApprovalStore>;
  /** The pipeline on the stored notification as the approved run (handleInput with PipelineDeps.approvedRun). */
  runApproved: (notification: unknown, approvedRun: ApprovedRun) => Promise<PipelineResult>;
  /** POSTs a JSON body to a response_url (already checked). Throws on failure. */
  respond: (responseUrl: string, body: unknown) => Promise<void>;
  /** Members of a Slack user group (usergroups.users.list); absent without SLACK_BOT_TOKEN. */
  groupMembers?: (group: string) => Promise<readonly string[]>;
  /** Tests and the demo only: response_url on http://127.0.0.1. */
  allowLoopbackResponseUrl?: boolean;
}

export type ApprovalFlowStatus = 'approved' | 'dismissed' | 'refused' | 'duplicate' | 'invalid';

export interface ApprovalFlowResult {
  status: ApprovalFlowStatus;
  reason?: string;
  summary?: Summary;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The approval request out of the CloudEvent (or raw push body) the consumer receives. */
export function decodeApprovalEvent(event: unknown, options: { allowLoopbackResponseUrl?: boolean } = {}): { message: ApprovalMessage } | { error: string } {
  const body = isRecord(event) && isRecord(event.data) ? event.data : event;
  const message = isRecord(body) ? body.message : undefined;
  const data = isRecord(message) ? message.data : undefined;
  if (typeof data !== 'string' || data === '' || data.length > 100_000) return { error: 'no Pub/Sub message data' };
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(data, 'base64').toString('utf8'));
  } catch {
    return { error: 'message data is not base64 JSON' };
  }
  const parsed = approvalMessageSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { error: `not an approval request: ${issue?.path.join('.') || '(top level)'}: ${issue?.message ?? 'invalid'}` };
  }
  const problem = responseUrlProblem(parsed.data.responseUrl, { allowLoopback: options.allowLoopbackResponseUrl === true });
  if (problem !== null) return { error: problem };
  return { message: parsed.data };
}

/**
 * Who decided, as the summary shows it (SummaryApproval.by): the Slack user and name only. The
 * decision record also holds the team, which stays in the ledger and never reaches a summary.
 */
function decidedBy(by: { user: string; name: string | null }): { user: string; name: string | null } {
  return { user: by.user, name: by.name };
}

const COMPLETED_EARLIER = 'the approved run had already completed';

/**
 * Handles one approval request. Resolves for everything that must be acked;
 * rejects only with a TransientError (ledger, Slack group lookup or the
 * approved run could not finish for a fault that heals), so Pub/Sub
 * redelivers: the claimed decision is then resumed, never taken twice.
 */
export async function handleApproval(event: unknown, deps: ApprovalFlowDeps): Promise<ApprovalFlowResult> {
  const { log } = deps;
  const decoded = decodeApprovalEvent(event, { allowLoopbackResponseUrl: deps.allowLoopbackResponseUrl === true });
  if ('error' in decoded) {
    log.log('ERROR', 'approval', 'approval message refused and acked', { error: decoded.error });
    return { status: 'invalid', reason: decoded.error };
  }
  const msg = decoded.message;
  const ids = { incident: msg.incident, decision: msg.decision, user: msg.user, team: msg.team, enterprise: msg.enterprise, actionTs: msg.actionTs };
  const by = { user: msg.user, name: msg.userName };

  /** Says something to the clicking user only; a failure to say it is logged, never retried. */
  const tell = async (text: string) => {
    try {
      await deps.respond(msg.responseUrl, ephemeralMessage(text));
    } catch (error) {
      log.log('WARNING', 'approval', 'could not answer the user through response_url', { ...ids, error: errorText(error) });
    }
  };
  const replace = async (summary: Summary, refusals: readonly ApprovalRefusal[] = []) => {
    try {
      await deps.respond(msg.responseUrl, replacementMessage(summary, refusals));
    } catch (error) {
      log.log('ERROR', 'approval', 'could not update the Slack message through response_url', { ...ids, error: errorText(error) });
    }
  };

  if (!deps.approvals) {
    const reason = 'the responder has no ledger (FIRESTORE_DATABASE unset): approvals cannot be checked or recorded';
    log.log('ERROR', 'approval', 'approval refused', { ...ids, reason });
    await tell(`:warning: Not done: ${reason}.`);
    return { status: 'refused', reason };
  }
  const store = await deps.approvals();
  const now = deps.now();
  let stored: StoredApproval | null;
  try {
    stored = await store.getRequest(msg.incident, now);
  } catch (error) {
    if (isTransient(error)) throw error;
    log.log('ERROR', 'approval', 'approval refused: the ledger could not be read', { ...ids, error: errorText(error) });
    await tell(':warning: Not done: the ledger could not be read. Try again in a moment.');
    return { status: 'refused', reason: errorText(error) };
  }
  if (stored === null) {
    const reason = 'no approval is pending for this incident';
    log.log('WARNING', 'approval', 'approval refused', { ...ids, reason });
    await tell(`:warning: Not done: ${reason} (its rule does not require approval, or the ledger no longer holds it).`);
    return { status: 'refused', reason };
  }
  const { request } = stored.state;

  const refuse = async (
    reason: string,
    options: { update?: SummaryApproval['status']; tellUser?: string; severity?: 'WARNING' | 'ERROR'; by?: SummaryApproval['by'] } = {},
  ): Promise<ApprovalFlowResult> => {
    log.log(options.severity ?? 'WARNING', 'approval', 'approval refused', { ...ids, rule: request.rule, reason });
    const refusal: ApprovalRefusal = { user: msg.user, at: now.toISOString(), reason: reason.slice(0, 300) };
    try {
      await store.recordRefusal(msg.incident, refusal, now);
    } catch (error) {
      log.log('WARNING', 'approval', 'could not record the refused attempt (the log line above is its record)', { ...ids, error: errorText(error) });
    }
    if (options.update && stored!.summary) {
      await replace(withApproval(stored!.summary, { status: options.update, expiresAt: request.expiresAt, by: options.by ?? null, reason: reason.slice(0, 300) }), [
        ...stored!.state.refusals,
        refusal,
      ]);
    }
    if (options.tellUser) await tell(options.tellUser);
    return { status: 'refused', reason };
  };

  /**
   * What must hold for this press to go ahead now; a refusal (logged, recorded, answered) when it
   * does not. `resuming`: a Contain decided earlier and not carried out, which this press resumes.
   */
  const checkPress = async (o: { approver: boolean; expiry: boolean; resuming: ApprovalDecisionRecord | null }): Promise<ApprovalFlowResult | null> => {
    if (o.approver) {
      const approvers = approversFor(deps.policy, request.rule);
      if (approvers === null) {
        return refuse(`the policy changed: rule ${request.rule} no longer exists or no longer requires approval`, { update: 'refused' });
      }
      let allowed;
      try {
        allowed = await checkApprover(msg.user, approvers, deps.groupMembers);
      } catch (error) {
        if (isTransient(error)) throw error;
        allowed = { allowed: false as const, reason: `user-group lookup failed (${errorText(error).slice(0, 120)})` };
      }
      if (!allowed.allowed) {
        return refuse(`user ${msg.user} is not allowed: ${allowed.reason}`, {
          tellUser: ':no_entry: You are not allowed to decide on this incident (not an approver of its rule). The attempt is logged.',
        });
      }
    }
    if (o.expiry && now.getTime() > Date.parse(request.expiresAt)) {
      if (o.resuming) {
        // Said loudly: a person approved containment and it never happened.
        return refuse(
          `approved by ${o.resuming.by.user} at ${o.resuming.at} but never carried out (the approved run did not complete), and the approval expired at ${request.expiresAt}: contain by hand (scc-responder respond) if still needed`,
          { update: 'refused', severity: 'ERROR', by: { user: o.resuming.by.user, name: o.resuming.by.name } },
        );
      }
      return refuse(`the approval expired at ${request.expiresAt}`, { update: 'expired' });
    }
    if (msg.decision !== 'contain') return null;
    if (deps.forceDryRun === true) {
      // Not used up: the decision (if one was claimed) stays without a result, and a later press resumes it.
      return refuse('the kill switch is on (SCC_RESPONDER_FORCE_DRY_RUN): nothing may run', {
        tellUser: `:warning: Not done: the kill switch is on, so nothing may run. Press again once it is off, before ${request.expiresAt}.`,
      });
    }
    // The finding must still plan the same approved response under today's policy: the same rule,
    // no action and no target the approver was not shown.
    let replanned;
    try {
      replanned = makePlan(decodeInput(JSON.parse(request.notificationJson)), deps.policy, now, { approved: true });
    } catch (error) {
      return refuse(`the stored finding could not be planned again (${errorText(error).slice(0, 120)})`, { update: 'refused' });
    }
    if (replanned.rule !== request.rule || replanned.approval === null) {
      return refuse(`the policy changed: this finding now plans ${replanned.rule === null ? 'no rule' : `rule ${replanned.rule}`}${replanned.approval === null ? ' without an approval' : ''}`, { update: 'refused' });
    }
    const changed = approvedPlanProblem(request, replanned);
    if (changed !== null) return refuse(changed, { update: 'refused' });
    return null;
  };

  /** A later press on a decision taken: it does nothing, and the presser is told what stands. */
  const alreadyDecided = async (existing: ApprovalDecisionRecord, result: ApprovalResultRecord | null): Promise<ApprovalFlowResult> => {
    const verb = existing.decision === 'contain' ? 'approved (Contain)' : 'dismissed';
    log.log('INFO', 'approval', 'decision already taken: this click does nothing', { ...ids, decidedBy: existing.by.user, decidedAt: existing.at, result: result?.status ?? null });
    const state =
      result?.status === 'refused'
        ? ', but it was not carried out (the message and the log say why)'
        : existing.decision === 'contain' && result === null
          ? ', not carried out yet: press Contain to carry it out'
          : '';
    await tell(`Already ${verb} by <@${existing.by.user}> at ${existing.at}${state}: this click does nothing.`);
    return { status: 'duplicate', reason: `already decided by ${existing.by.user}` };
  };

  let decision: ApprovalDecisionRecord;
  const existing = stored.state.decision;
  const result = stored.state.result;
  if (existing) {
    const clickIsDecision = sameClick(existing, msg);
    // A Contain that was approved and never carried out (every delivery of the approved run failed
    // until Pub/Sub gave up) is resumed by the next Contain press of an approver: the approved run's
    // own ledger key lets it run at most once, and the press is checked like a new one.
    const resumable = result === null && (clickIsDecision || (existing.decision === 'contain' && msg.decision === 'contain'));
    if (!resumable) {
      if (clickIsDecision) {
        // This click again (a Pub/Sub redelivery, Slack's request replayed) after it was carried out.
        log.log('INFO', 'approval', 'this decision was already carried out: acked as duplicate', { ...ids, result: result?.status ?? null });
        return { status: 'duplicate', reason: 'already carried out' };
      }
      return alreadyDecided(existing, result);
    }
    const refused = await checkPress({ approver: !clickIsDecision, expiry: !clickIsDecision, resuming: clickIsDecision ? null : existing });
    if (refused) return refused;
    if (clickIsDecision) log.log('NOTICE', 'approval', 'resuming a decision an earlier delivery claimed', ids);
    else log.log('WARNING', 'approval', 'resuming an approved Contain that was not carried out', { ...ids, decidedBy: existing.by.user, decidedAt: existing.at });
    decision = existing;
  } else {
    const refused = await checkPress({ approver: true, expiry: true, resuming: null });
    if (refused) return refused;
    decision = { decision: msg.decision, by: { ...by, team: msg.team }, at: now.toISOString(), actionTs: msg.actionTs, reason: msg.reason };
    const claim = await store.claimDecision(msg.incident, decision, now);
    if (claim.kind === 'missing') {
      log.log('WARNING', 'approval', 'approval refused', { ...ids, reason: 'the request disappeared' });
      await tell(':warning: Not done: no approval is pending for this incident.');
      return { status: 'refused', reason: 'the request disappeared' };
    }
    if (claim.kind === 'decided') {
      log.log('INFO', 'approval', 'another decision won the race: this click does nothing', { ...ids, decidedBy: claim.decision.by.user });
      await tell(`Already decided by <@${claim.decision.by.user}> at ${claim.decision.at}: this click does nothing.`);
      return { status: 'duplicate', reason: `already decided by ${claim.decision.by.user}` };
    }
    log.log('NOTICE', 'approval', `${msg.decision} decided`, { ...ids, rule: request.rule });
  }

  /** The result kept (an earlier delivery's, when it recorded first), or null when it could not be recorded. */
  const record = async (outcome: ApprovalResultRecord): Promise<ApprovalResultRecord | null> => {
    try {
      return await store.recordDecision(msg.incident, outcome, deps.now());
    } catch (error) {
      if (isTransient(error)) throw error;
      log.log('ERROR', 'approval', 'could not record the result of the decision', { ...ids, error: errorText(error) });
      return null;
    }
  };

  if (decision.decision === 'dismiss') {
    const reasonLabel = decision.reason === null ? null : DISMISS_REASONS[decision.reason];
    await record({ status: 'dismissed', at: deps.now().toISOString(), outcome: null, summaryId: null, note: reasonLabel });
    log.log('NOTICE', 'approval', 'finding dismissed: no action', { ...ids, rule: request.rule, reason: reasonLabel });
    const summary = stored.summary
      ? withApproval(stored.summary, { status: 'dismissed', expiresAt: request.expiresAt, by: decidedBy(decision.by), reason: reasonLabel })
      : undefined;
    if (summary) await replace(summary, stored.state.refusals);
    else await tell(`Dismissed by <@${decision.by.user}>; the summary could not be read back to update the message.`);
    return { status: 'dismissed', ...(summary ? { summary } : {}) };
  }

  let run: PipelineResult;
  try {
    run = await deps.runApproved(JSON.parse(request.notificationJson), { by: decidedBy(decision.by), at: new Date(decision.at) });
  } catch (error) {
    if (isTransient(error)) {
      log.log('WARNING', 'approval', 'the approved run hit a fault that can heal: Pub/Sub redelivers and it resumes', { ...ids, error: errorText(error) });
      throw error;
    }
    const reason = `the approved run failed: ${errorText(error)}`;
    log.log('ERROR', 'approval', reason, ids);
    await record({ status: 'refused', at: deps.now().toISOString(), outcome: null, summaryId: null, note: reason });
    if (stored.summary) await replace(withApproval(stored.summary, { status: 'refused', expiresAt: request.expiresAt, by: decidedBy(decision.by), reason }), stored.state.refusals);
    return { status: 'refused', reason };
  }
  const approvedBy = decidedBy(decision.by);
  const approved: SummaryApproval = { status: 'approved', expiresAt: request.expiresAt, by: approvedBy, reason: null };
  if (run.status === 'responded' && run.summary && run.summary.decision.dryRun) {
    // The responder's kill switch held the approved run to a dry run: the message must not say it ran.
    const reason = 'the approved run was a dry run (the kill switch is on where it ran): nothing ran for real';
    log.log('ERROR', 'approval', reason, { ...ids, rule: request.rule, summaryId: run.summary.id, outcome: run.summary.outcome });
    await record({ status: 'refused', at: deps.now().toISOString(), outcome: run.summary.outcome, summaryId: run.summary.id, note: reason });
    const summary = withApproval(run.summary, { status: 'refused', expiresAt: request.expiresAt, by: approvedBy, reason: `approved by ${decision.by.user}, but ${reason}` });
    await replace(summary, stored.state.refusals);
    return { status: 'refused', reason, summary };
  }
  if (run.status === 'responded' && run.summary) {
    // The pipeline names the approver itself; set here too, so the update says it either way.
    const summary = run.summary.approval ? run.summary : withApproval(run.summary, approved);
    await record({ status: 'approved', at: deps.now().toISOString(), outcome: summary.outcome, summaryId: summary.id, note: null });
    log.log('NOTICE', 'approval', `approved run ${summary.outcome}`, { ...ids, rule: request.rule, summaryId: summary.id, outcome: summary.outcome });
    await replace(summary, stored.state.refusals);
    return { status: 'approved', summary };
  }
  if (run.status === 'duplicate') {
    // The approved run completed in an earlier delivery, which died (or is about to record) before recording it.
    const placeholder: ApprovalResultRecord = { status: 'approved', at: deps.now().toISOString(), outcome: null, summaryId: null, note: COMPLETED_EARLIER };
    const kept = await record(placeholder);
    if (kept !== null && kept.summaryId !== null) {
      // That delivery recorded its own result and updates the message with its summary.
      log.log('INFO', 'approval', 'the approved run completed and its result is recorded: this press does nothing', { ...ids, summaryId: kept.summaryId });
      if (!sameClick(decision, msg)) await alreadyDecided(decision, kept);
      return { status: 'duplicate', reason: 'already carried out' };
    }
    if (stored.summary) await replace(withApproval(stored.summary, { ...approved, reason: `${COMPLETED_EARLIER}; its summary went to the ops sinks` }), stored.state.refusals);
    return { status: 'approved', reason: COMPLETED_EARLIER };
  }
  const reason = `the approved run did not respond (${run.status}${run.error ? `: ${run.error.slice(0, 120)}` : ''})`;
  log.log('ERROR', 'approval', reason, ids);
  await record({ status: 'refused', at: deps.now().toISOString(), outcome: null, summaryId: null, note: reason });
  if (stored.summary) await replace(withApproval(stored.summary, { status: 'refused', expiresAt: request.expiresAt, by: decidedBy(decision.by), reason }), stored.state.refusals);
  return { status: 'refused', reason };
}

function withApproval(summary: Summary, approval: SummaryApproval): Summary {
  return { ...summary, approval };
}

