// Approval from Slack (Contain / Dismiss) for rules with `approval: required`:
// what the interactivity endpoint may believe of a request, what it hands on,
// and what the ledger keeps of a request and its decision. Pure (node:crypto
// only): the endpoint (src/functions/slack-endpoint.ts), the consumer
// (src/pipeline/approval-decision.ts) and both ledger stores build on it.
//
// Trust: only what Slack's signature covers is believed, and only the parts
// Slack itself sets: the clicking user and team, the button's action id, its
// `value` (which the responder set to the incident id and nothing else), the
// response_url. Even those are checked again by the consumer against the
// ledger and the policy as they are when the decision runs.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import * as z from 'zod';
import type { Plan } from '../plan/plan.ts';
import { SLACK_GROUP_ID, SLACK_USER_ID, type ActionType, type Approvers, type Policy } from '../policy/policy.ts';
import type { FindingKey } from '../finding/key.ts';
import type { OverallOutcome, Summary, SummaryApproval } from '../summary/document.ts';

/** Slack's own limit: a request older (or newer) than this is refused as a replay. */
export const SIGNATURE_WINDOW_SECONDS = 300;
/**
 * The largest interaction body accepted. A click carries the clicked message
 * (`message.blocks`), and that message is our summary, whose text an attacker
 * fills through the finding. So the bound follows from formatSlack, not from
 * what a click usually weighs (a few KB): at most 8 text sections of 2900
 * UTF-16 code units each (fitLines), one section of 10 fields whose values
 * (300 characters) escaping can grow fivefold (`&` → `&amp;`), a 150-unit
 * header, the links context (1900) and the approval blocks: under 50 000 code
 * units. JSON-encoded
 * and form-encoded, a code unit is at most 9 bytes (a CJK character: 3 UTF-8
 * bytes, each `%XX`; its `\uXXXX` escape is 8), so under 450 KB, plus Slack's
 * own fields. 1 MiB leaves twice that for what Slack adds to echoed blocks;
 * test/approval.test.ts builds the largest summary message and measures it.
 */
export const MAX_INTERACTION_BYTES = 1024 * 1024;

/** The action ids of the buttons (core/summary/slack/approval-blocks.ts) and of the dismiss-reason menu. */
export const APPROVAL_ACTION = {
  contain: 'scc-responder-contain',
  dismiss: 'scc-responder-dismiss',
  reason: 'scc-responder-dismiss-reason',
} as const;
export const APPROVAL_BLOCK_ID = 'scc-responder-approval';

/**
 * Why a finding was dismissed: a fixed menu, so no free text from the click
 * reaches the ledger, the log or a message.
 */
export const DISMISS_REASONS = {
  expected: 'expected activity (maintenance, debugging)',
  'false-positive': 'false positive',
  test: 'test finding',
  duplicate: 'duplicate of another incident',
} as const;
export type DismissReason = keyof typeof DISMISS_REASONS;
const DISMISS_REASON_CODES = Object.keys(DISMISS_REASONS) as [DismissReason, ...DismissReason[]];

/** A ledger key id (sha256 hex): the only thing a button's value may carry. */
export const INCIDENT_ID = /^[a-f0-9]{64}$/;
export const SLACK_TEAM_ID = /^[TE][A-Z0-9]{2,20}$/;
const ACTION_TS = /^\d{1,12}(\.\d{1,9})?$/;

export const APPROVAL_MESSAGE_SCHEMA = 'scc-responder.approval-request/v1';

export type ApprovalDecisionKind = 'contain' | 'dismiss';

// ---------------------------------------------------------------------------
// Slack's request signature (https://api.slack.com/authentication/verifying-requests-from-slack)

export type SignatureCheck = { ok: true; timestamp: number } | { ok: false; reason: string };

export function slackSignature(secret: string, timestamp: string, rawBody: Buffer | string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:`).update(rawBody).digest('hex')}`;
}

/**
 * v0 HMAC-SHA256 over `v0:<timestamp>:<raw body>` with the signing secret,
 * compared in constant time, and the timestamp within SIGNATURE_WINDOW_SECONDS
 * of `now` either way (a captured request cannot be replayed later, and a
 * forged future timestamp cannot stretch the window).
 */
export function verifySlackSignature(input: {
  secret: string;
  timestamp: string | undefined;
  signature: string | undefined;
  rawBody: Buffer;
  now: Date;
}): SignatureCheck {
  const { timestamp, signature } = input;
  if (timestamp === undefined || !/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'missing or malformed X-Slack-Request-Timestamp' };
  if (signature === undefined || !/^v0=[a-f0-9]{64}$/.test(signature)) return { ok: false, reason: 'missing or malformed X-Slack-Signature' };
  const seconds = Number(timestamp);
  const skew = input.now.getTime() / 1000 - seconds;
  if (skew > SIGNATURE_WINDOW_SECONDS) return { ok: false, reason: `stale request: timestamp ${Math.round(skew)} s old (replay window ${SIGNATURE_WINDOW_SECONDS} s)` };
  if (skew < -SIGNATURE_WINDOW_SECONDS) return { ok: false, reason: `timestamp ${Math.round(-skew)} s in the future (replay window ${SIGNATURE_WINDOW_SECONDS} s)` };
  const expected = Buffer.from(slackSignature(input.secret, timestamp, input.rawBody).slice(3), 'hex');
  const given = Buffer.from(signature.slice(3), 'hex');
  // Both are 32 bytes by the pattern above; timingSafeEqual throws on unequal lengths.
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'signature does not match' };
  return { ok: true, timestamp: seconds };
}

// ---------------------------------------------------------------------------
// response_url: where the outcome goes. Slack's own host, over https, only.

export interface ResponseUrlOptions {
  /**
   * Tests and the demo only: also accept http://127.0.0.1:PORT/… (a loopback
   * recorder). The entries refuse to turn this on where Cloud Run runs them.
   */
  allowLoopback?: boolean;
}

export function responseUrlProblem(value: string, options: ResponseUrlOptions = {}): string | null {
  if (value.length > 2000) return 'response_url is too long';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'response_url is not a URL';
  }
  if (url.username || url.password) return 'response_url carries credentials';
  if (options.allowLoopback && url.protocol === 'http:' && url.hostname === '127.0.0.1') return null;
  if (url.protocol !== 'https:' || url.hostname !== 'hooks.slack.com' || url.port !== '') return 'response_url is not https://hooks.slack.com/…';
  return null;
}

// ---------------------------------------------------------------------------
// The block_actions payload, as far as it is read.
//
// z.object, not z.strictObject: Slack adds fields to interaction payloads
// without notice, and refusing unknown keys would turn each addition into an
// outage of the buttons. What is read is checked strictly; the rest is ignored.

const slackText = (max: number) => z.string().max(max);

const actionSchema = z.object({
  action_id: slackText(255),
  type: slackText(64),
  value: slackText(2000).optional(),
  action_ts: z.string().regex(ACTION_TS),
  selected_option: z.object({ value: slackText(150) }).nullable().optional(),
});

const blockActionsSchema = z.object({
  type: z.literal('block_actions'),
  user: z.object({
    id: z.string().regex(SLACK_USER_ID),
    username: slackText(200).optional(),
    name: slackText(200).optional(),
    team_id: z.string().regex(SLACK_TEAM_ID).optional(),
  }),
  team: z.object({ id: z.string().regex(SLACK_TEAM_ID) }).nullable().optional(),
  /** Set for an Enterprise Grid org: its E… id (SLACK_TEAM_ID may name the org rather than one workspace). */
  enterprise: z.object({ id: z.string().regex(SLACK_TEAM_ID) }).nullable().optional(),
  response_url: slackText(2000),
  actions: z.array(actionSchema).min(1).max(5),
  state: z
    .object({
      values: z.record(
        slackText(255),
        z.record(slackText(255), z.object({ selected_option: z.object({ value: slackText(150) }).nullable().optional() })),
      ),
    })
    .optional(),
});

/** What the endpoint publishes for the consumer; produced by us, so parsed strictly on the way back in. */
export const approvalMessageSchema = z.strictObject({
  schema: z.literal(APPROVAL_MESSAGE_SCHEMA),
  incident: z.string().regex(INCIDENT_ID),
  decision: z.enum(['contain', 'dismiss']),
  user: z.string().regex(SLACK_USER_ID),
  /** The user's Slack handle as Slack sent it (bounded, one line); shown, never trusted. */
  userName: z.string().max(80).nullable(),
  team: z.string().regex(SLACK_TEAM_ID).nullable(),
  /** The Enterprise Grid org (E…) the click came from; null outside Grid. */
  enterprise: z.string().regex(SLACK_TEAM_ID).nullable(),
  actionTs: z.string().regex(ACTION_TS),
  responseUrl: z.string().max(2000),
  reason: z.enum(DISMISS_REASON_CODES).nullable(),
  receivedAt: z.iso.datetime(),
});
export type ApprovalMessage = z.output<typeof approvalMessageSchema>;

export type Interaction =
  | { kind: 'request'; message: ApprovalMessage }
  /** A signed interaction that asks nothing (the dismiss-reason menu): acknowledged, nothing published. */
  | { kind: 'ignore'; reason: string }
  | { kind: 'invalid'; reason: string };

// Control, bidi and zero-width characters: a name is shown in messages and logs.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

function oneLine(value: string | undefined, max: number): string | null {
  if (value === undefined) return null;
  const line = value.replace(UNSAFE, '').trim().slice(0, max);
  return line === '' ? null : line;
}

function selectedReason(payload: z.output<typeof blockActionsSchema>): DismissReason | null {
  for (const block of Object.values(payload.state?.values ?? {})) {
    const entry = Object.hasOwn(block, APPROVAL_ACTION.reason) ? block[APPROVAL_ACTION.reason] : undefined;
    const value = entry?.selected_option?.value;
    if (value !== undefined && Object.hasOwn(DISMISS_REASONS, value)) return value as DismissReason;
  }
  return null;
}

/**
 * Reads a signed interaction body (`payload=<JSON>`, form-encoded). Call only
 * after verifySlackSignature accepted the same bytes.
 */
export function parseInteraction(rawBody: Buffer, now: Date, options: ResponseUrlOptions = {}): Interaction {
  if (rawBody.length > MAX_INTERACTION_BYTES) return { kind: 'invalid', reason: `body over ${MAX_INTERACTION_BYTES} bytes` };
  const form = new URLSearchParams(rawBody.toString('utf8'));
  const payloads = form.getAll('payload');
  if (payloads.length !== 1) return { kind: 'invalid', reason: 'expected exactly one payload= field' };
  let json: unknown;
  try {
    json = JSON.parse(payloads[0]!);
  } catch {
    return { kind: 'invalid', reason: 'payload is not JSON' };
  }
  if (typeof json === 'object' && json !== null && (json as { type?: unknown }).type !== 'block_actions') {
    return { kind: 'ignore', reason: `interaction type ${JSON.stringify(String((json as { type?: unknown }).type)).slice(0, 40)} is not handled` };
  }
  const parsed = blockActionsSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { kind: 'invalid', reason: `payload ${issue?.path.join('.') || '(top level)'}: ${issue?.message ?? 'invalid'}` };
  }
  const payload = parsed.data;
  const ours = payload.actions.filter((a) => a.action_id === APPROVAL_ACTION.contain || a.action_id === APPROVAL_ACTION.dismiss);
  if (ours.length === 0) {
    return payload.actions.every((a) => a.action_id === APPROVAL_ACTION.reason)
      ? { kind: 'ignore', reason: 'dismiss reason selected' }
      : { kind: 'invalid', reason: 'no Contain or Dismiss action in the payload' };
  }
  if (ours.length > 1) return { kind: 'invalid', reason: 'more than one decision in one payload' };
  const action = ours[0]!;
  if (action.type !== 'button') return { kind: 'invalid', reason: 'the decision is not a button press' };
  if (action.value === undefined || !INCIDENT_ID.test(action.value)) return { kind: 'invalid', reason: 'the button value is not an incident id' };
  const urlProblem = responseUrlProblem(payload.response_url, options);
  if (urlProblem !== null) return { kind: 'invalid', reason: urlProblem };
  const decision: ApprovalDecisionKind = action.action_id === APPROVAL_ACTION.contain ? 'contain' : 'dismiss';
  const message: ApprovalMessage = {
    schema: APPROVAL_MESSAGE_SCHEMA,
    incident: action.value,
    decision,
    user: payload.user.id,
    userName: oneLine(payload.user.username ?? payload.user.name, 80),
    team: payload.team?.id ?? payload.user.team_id ?? null,
    enterprise: payload.enterprise?.id ?? null,
    actionTs: action.action_ts,
    responseUrl: payload.response_url,
    reason: decision === 'dismiss' ? selectedReason(payload) : null,
    receivedAt: now.toISOString(),
  };
  return { kind: 'request', message };
}

/**
 * Whether a click comes from where SLACK_TEAM_ID allows: that workspace (T…),
 * or, for an Enterprise Grid org id (E…), any workspace of that org. A Grid
 * click names its workspace in `team` and the org only in `enterprise`.
 */
export function fromAllowedWorkspace(message: Pick<ApprovalMessage, 'team' | 'enterprise'>, allowed: string): boolean {
  if (message.team === allowed) return true;
  return allowed.startsWith('E') && message.enterprise === allowed;
}

// ---------------------------------------------------------------------------
// What the ledger keeps: the request (from the dry run), the decision (claimed
// once), its result, and the attempts that were refused.

export interface ApprovalRequestRecord {
  /** The rule whose approval was asked; the consumer refuses when the finding now plans another. */
  rule: string;
  /** When the dry-run summary was built, RFC 3339. */
  requestedAt: string;
  /** requestedAt + approval.expiresMinutes: a Contain after it is refused. */
  expiresAt: string;
  /** The decoded NotificationMessage as JSON: the approved run re-plans from it. */
  notificationJson: string;
  /**
   * The action types the dry run planned: what the approver was shown. The approved run may
   * run these and no others (a rule edited since to add delete-pod must be approved anew).
   */
  actions: ActionType[];
  /** What the dry run planned to act on; the approved run must plan the same. */
  target: ApprovalTarget;
}

export interface ApprovalTarget {
  /** `projects/P/locations/L/clusters/C` */
  cluster: string | null;
  namespace: string | null;
  pod: string | null;
}

/** What a plan asks the approver to allow: its action types and its target. */
export function approvalScope(plan: Pick<Plan, 'actions' | 'target'>): Pick<ApprovalRequestRecord, 'actions' | 'target'> {
  return {
    actions: [...new Set(plan.actions.map((a) => a.type))],
    target: { cluster: plan.target?.clusterName ?? null, namespace: plan.target?.namespace ?? null, pod: plan.target?.pod ?? null },
  };
}

/**
 * Why the plan the approved run would carry out is not the one the approver
 * was shown, or null when it is: any action type the request does not list,
 * or another cluster, namespace or pod. Fewer actions are fine (a guard or a
 * policy edit may drop one); a request without the list allows nothing.
 */
export function approvedPlanProblem(request: Partial<Pick<ApprovalRequestRecord, 'actions' | 'target'>>, plan: Pick<Plan, 'actions' | 'target'>): string | null {
  if (!Array.isArray(request.actions) || !request.target) return 'the approval request does not record what the dry run planned (actions, target): nothing can be approved from it';
  const now = approvalScope(plan);
  const shown = new Set<string>(request.actions);
  const added = now.actions.filter((a) => !shown.has(a));
  if (added.length > 0) {
    return `the plan changed since the dry run: it now also runs ${added.join(', ')} (the approver was shown ${request.actions.join(', ') || 'no actions'})`;
  }
  for (const part of ['cluster', 'namespace', 'pod'] as const) {
    if (now.target[part] !== request.target[part]) {
      return `the plan changed since the dry run: it now acts on ${part} ${String(now.target[part]).slice(0, 120)}, not ${String(request.target[part]).slice(0, 120)}`;
    }
  }
  return null;
}

export interface ApprovalDecisionRecord {
  decision: ApprovalDecisionKind;
  by: { user: string; name: string | null; team: string | null };
  at: string;
  /** Slack's action_ts of the click: the same click delivered again is recognised by it (with the user). */
  actionTs: string;
  reason: DismissReason | null;
}

export interface ApprovalResultRecord {
  status: 'approved' | 'dismissed' | 'refused';
  at: string;
  /** The approved run's overall outcome; null for a dismissal. */
  outcome: OverallOutcome | null;
  /** The approved run's summary id (its own ledger key). */
  summaryId: string | null;
  note: string | null;
}

export interface ApprovalRefusal {
  user: string;
  at: string;
  reason: string;
}

/** The `approval` field of a finding document (both stores). */
export interface ApprovalState {
  request: ApprovalRequestRecord;
  decision: ApprovalDecisionRecord | null;
  result: ApprovalResultRecord | null;
  /** Refused attempts, newest last, at most MAX_REFUSALS. */
  refusals: ApprovalRefusal[];
}

export const MAX_REFUSALS = 20;
/** The stored notification is capped well below Firestore's 1 MiB document limit (the summary shares it). */
export const MAX_NOTIFICATION_JSON = 160_000;

export interface StoredApproval {
  state: ApprovalState;
  /** The dry-run summary recorded on the same document, when it could be read back. */
  summary: Summary | null;
}

export type DecisionClaim =
  | { kind: 'claimed' }
  /** A decision was already recorded (a second click, a second approver, or this click delivered again). */
  | { kind: 'decided'; decision: ApprovalDecisionRecord }
  | { kind: 'missing' };

/**
 * The approval record on a finding's ledger document. Every change is a
 * transaction; claimDecision lets exactly one decision through, however many
 * clicks, approvers and redeliveries race for it.
 */
export interface ApprovalStore {
  /**
   * Keeps `request` on the finding's document (which the dry-run delivery holds), unless one is there
   * already: a redelivery of the dry run must not move the expiry. Returns the request kept.
   * Throws PermanentError when the ledger has no record of the key.
   */
  recordRequest(key: FindingKey, request: ApprovalRequestRecord, now: Date): Promise<ApprovalRequestRecord>;
  getRequest(id: string, now: Date): Promise<StoredApproval | null>;
  claimDecision(id: string, decision: ApprovalDecisionRecord, now: Date): Promise<DecisionClaim>;
  /**
   * Keeps the decision's result, unless one is there already (two deliveries of one decision
   * may both finish: the first result stays). Returns the result kept.
   * Throws PermanentError when there is no approval request for the id.
   */
  recordDecision(id: string, result: ApprovalResultRecord, now: Date): Promise<ApprovalResultRecord>;
  recordRefusal(id: string, refusal: ApprovalRefusal, now: Date): Promise<void>;
}

/** The claim both stores apply inside their transaction. */
export function decideClaim(state: ApprovalState | null | undefined, decision: ApprovalDecisionRecord): { claim: DecisionClaim; next: ApprovalState | null } {
  if (!state) return { claim: { kind: 'missing' }, next: null };
  if (state.decision) return { claim: { kind: 'decided', decision: state.decision }, next: null };
  return { claim: { kind: 'claimed' }, next: { ...state, decision } };
}

/**
 * The result both stores apply inside their transaction: the first one stays, except that
 * "the approved run completed earlier" (recorded without its summary, by a delivery that found
 * the run done) gives way to the result of the delivery that ran it.
 */
export function keepResult(state: ApprovalState, result: ApprovalResultRecord): { kept: ApprovalResultRecord; next: ApprovalState | null } {
  const current = state.result;
  const placeholder = current?.status === 'approved' && current.summaryId === null;
  if (current && !(placeholder && result.summaryId !== null)) return { kept: current, next: null };
  return { kept: result, next: { ...state, result } };
}

export function withRefusal(state: ApprovalState, refusal: ApprovalRefusal): ApprovalState {
  return { ...state, refusals: [...(state.refusals ?? []), refusal].slice(-MAX_REFUSALS) };
}

/** Whether a stored decision is this very click (a redelivery or a replay), not a second one. */
export function sameClick(decision: ApprovalDecisionRecord, message: Pick<ApprovalMessage, 'user' | 'actionTs' | 'decision'>): boolean {
  return decision.by.user === message.user && decision.actionTs === message.actionTs && decision.decision === message.decision;
}

// ---------------------------------------------------------------------------
// Keys, expiry, approvers.

/** Who approved, and when: what the pipeline's approved run is given (PipelineDeps.approvedRun). */
export interface ApprovedRun {
  by: { user: string; name: string | null };
  at: Date;
}

/**
 * The approved run is an occurrence of its own: its own claim, budget
 * reservation and summary, so it can neither be mistaken for the dry run's
 * redelivery (which is completed) nor run twice.
 */
export function approvedRunKey(dryRun: FindingKey): FindingKey {
  return { id: createHash('sha256').update(`approved\n${dryRun.id}`).digest('hex'), findingName: dryRun.findingName, eventTime: dryRun.eventTime };
}

export function approvalExpiry(requestedAt: Date, expiresMinutes: number): Date {
  return new Date(requestedAt.getTime() + expiresMinutes * 60_000);
}

/** The approvers for a rule as the policy says now; null when the rule is gone or no longer asks for approval. */
export function approversFor(policy: Policy, ruleName: string): Approvers | null {
  const rule = policy.rules.find((r) => r.name === ruleName);
  if (!rule || rule.approval !== 'required') return null;
  return rule.approvers ?? policy.approval.approvers;
}

export type ApproverCheck = { allowed: true; via: string } | { allowed: false; reason: string };

/**
 * Whether `user` may decide. Listed user ids first; then user groups, whose
 * members only Slack knows (usergroups.users.list, with a bot token): without
 * a way to ask, a group grants nothing and the reason says so.
 */
export async function checkApprover(
  user: string,
  approvers: Approvers,
  groupMembers: ((group: string) => Promise<readonly string[]>) | undefined,
): Promise<ApproverCheck> {
  if (!SLACK_USER_ID.test(user)) return { allowed: false, reason: 'not a Slack user id' };
  if (approvers.users.includes(user)) return { allowed: true, via: 'listed user' };
  const groups = approvers.groups.filter((g) => SLACK_GROUP_ID.test(g));
  if (groups.length === 0) return { allowed: false, reason: 'not an approver for this rule' };
  if (!groupMembers) return { allowed: false, reason: 'not a listed approver; user-group membership cannot be checked (no SLACK_BOT_TOKEN)' };
  for (const group of groups) {
    if ((await groupMembers(group)).includes(user)) return { allowed: true, via: `member of ${group}` };
  }
  return { allowed: false, reason: 'not an approver for this rule' };
}

/** The summary's approval field for the dry run that offers the buttons. */
export function awaitingApproval(expiresAt: Date): SummaryApproval {
  return { status: 'awaiting', expiresAt: expiresAt.toISOString(), by: null, reason: null };
}
