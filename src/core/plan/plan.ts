// finding + policy + now → Plan. Pure: the Plan is what a person reads (and
// `scc-responder plan` prints) before anything touches a cluster.
import type { DecodedInput } from '../finding/envelope.ts';
import type { Finding } from '../finding/schema.ts';
import { exceptionSinks, findException, isoTime } from '../policy/exceptions.ts';
import {
  clusterAuditQuery,
  evidenceWindow,
  nodeLogsQuery,
  podLogsQuery,
  type EvidenceQuery,
  type TimeWindow,
} from '../evidence/logging-filter.ts';
import { matchHolds, type MatchFacts } from '../policy/match.ts';
import {
  ACTION_ORDER,
  isProtectedNamespace,
  type ActionType,
  type Approvers,
  type Policy,
  type PolicyRule,
  type QuietableSink,
} from '../policy/policy.ts';
import { redactArgs, type RedactionRules } from '../summary/redact.ts';
import { checkScope } from '../finding/scope.ts';
import { extractProcesses, extractTarget, validateTarget, type ProcessInfo, type Processes, type Target } from '../finding/target.ts';

export const PLAN_VERSION = 1;

export interface PlannedAction {
  type: ActionType;
  /** Pod actions name namespace + pod; cordon-node names the node the finding reports (preflight re-resolves it). */
  namespace: string | null;
  pod: string | null;
  node: string | null;
}

export interface FindingRef {
  name: string | null;
  /** Last segment of the finding name: the incident id used in object names. */
  id: string | null;
  canonicalName: string | null;
  category: string | null;
  severity: string | null;
  state: string | null;
  eventTime: string | null;
  resourceName: string | null;
  notificationConfigName: string | null;
}

/** The exception that matched: the finding is reported as expected, with no actions. */
export interface PlanException {
  name: string;
  reason: string;
  /** RFC 3339: when it stops applying. */
  expires: string;
  owner: string | null;
  /** Sinks besides the log line that report it (policy exceptionSettings.sinks or the exception's own). */
  sinks: QuietableSink[];
}

/** The matched rule asks a person first (`approval: required`): Contain / Dismiss in Slack. */
export interface PlanApproval {
  /** True for a rule with approval: required. */
  required: boolean;
  /** Who may decide: the rule's approvers, else the policy's approval.approvers. */
  approvers: Approvers;
  /** How long after the dry-run summary a Contain is accepted. */
  expiresMinutes: number;
  /** True when this plan is the approved run (PlanOptions.approved). */
  approved: boolean;
}

export interface Plan {
  version: typeof PLAN_VERSION;
  decision: 'respond' | 'ignore';
  reason: string;
  dryRun: boolean;
  rule: string | null;
  exception: PlanException | null;
  /** Set when the matched rule requires approval and has something to approve (actions, not a protected namespace). */
  approval: PlanApproval | null;
  plannedAt: string;
  finding: FindingRef;
  target: Target | null;
  /** Why the target (or part of it) cannot be acted on; the finding is still reported. */
  targetProblems: string[];
  processes: Processes | null;
  actions: PlannedAction[];
  evidence: EvidenceQuery[];
  window: TimeWindow | null;
}

export interface PlanOptions {
  /** Operator kill switch: forces dry-run whatever the policy and rule say (an approval included). */
  forceDryRun?: boolean;
  /**
   * A person approved this finding (Slack Contain): a rule with approval: required is planned
   * enforced instead of dry-run. Rules without approval are planned as always.
   */
  approved?: boolean;
  /**
   * The finding was handed over by a person (CLI plan/respond), not delivered: one that carries
   * our own SCC marks (exported from the console after a response) is planned, not ignored as
   * the echo of our write-back.
   */
  acceptOwnEcho?: boolean;
}

function findingRef(decoded: Pick<DecodedInput, 'notification'>): FindingRef {
  const f: Finding = decoded.notification.finding;
  const name = f.name ?? null;
  const id = name && /\/findings\/[^/]+$/.test(name) ? name.slice(name.lastIndexOf('/') + 1) : null;
  return {
    name,
    id,
    canonicalName: f.canonicalName ?? null,
    category: f.category ?? null,
    severity: f.severity ?? null,
    state: f.state ?? null,
    eventTime: f.eventTime ?? null,
    resourceName: f.resourceName ?? null,
    notificationConfigName: decoded.notification.notificationConfigName ?? null,
  };
}

/** Whether the rule's match holds for the target (and the processes, when the rule names any). */
export function ruleMatches(rule: PolicyRule, target: Target, severity: string | null, processes: Processes | null = null): boolean {
  return matchHolds(rule.match, { target, severity, processes });
}

function parseEventTime(value: string | null, now: Date): Date {
  if (value === null) return now;
  const t = Date.parse(value);
  return Number.isNaN(t) ? now : new Date(t);
}

/** Fixed key order, so the JSON reads top-down: verdict first, details after. */
function ordered(p: Plan): Plan {
  return {
    version: p.version,
    decision: p.decision,
    reason: p.reason,
    dryRun: p.dryRun,
    rule: p.rule,
    exception: p.exception,
    approval: p.approval,
    finding: p.finding,
    target: p.target,
    targetProblems: p.targetProblems,
    processes: p.processes,
    actions: p.actions,
    evidence: p.evidence,
    window: p.window,
    plannedAt: p.plannedAt,
  };
}

export function plan(decoded: Pick<DecodedInput, 'notification'>, policy: Policy, now: Date, options: PlanOptions = {}): Plan {
  return ordered(planUnordered(decoded, policy, now, options));
}

function planUnordered(decoded: Pick<DecodedInput, 'notification'>, policy: Policy, now: Date, options: PlanOptions): Plan {
  const finding = decoded.notification.finding;
  const ref = findingRef(decoded);
  const base = {
    version: PLAN_VERSION as typeof PLAN_VERSION,
    plannedAt: now.toISOString(),
    finding: ref,
    targetProblems: [] as string[],
    actions: [] as PlannedAction[],
    evidence: [] as EvidenceQuery[],
  };
  const scope = checkScope(finding, { acceptOwnEcho: options.acceptOwnEcho === true });
  if (!scope.inScope) {
    return { ...base, decision: 'ignore', reason: scope.reason, dryRun: true, rule: null, exception: null, approval: null, target: null, processes: null, window: null };
  }

  const target = extractTarget(finding, scope.cluster);
  const validity = validateTarget(target);
  const processes = extractProcesses(finding);
  const window = evidenceWindow(
    parseEventTime(ref.eventTime, now),
    policy.evidence.windowBeforeMinutes,
    policy.evidence.windowAfterMinutes,
  );

  const evidence: EvidenceQuery[] = [];
  if (validity.podActionable && target.namespace !== null && target.pod !== null) {
    const podTarget = { ...target, namespace: target.namespace, pod: target.pod };
    evidence.push(podLogsQuery(podTarget, window), clusterAuditQuery(podTarget, window));
  }
  if (validity.nodeActionable && target.node !== null) evidence.push(nodeLogsQuery({ ...target, node: target.node }, window));

  const facts: MatchFacts = { target, severity: ref.severity, processes };
  const problems = validity.problems;
  // Exceptions first: an expected finding is reported as such and never acted on.
  const excepted = findException(policy, facts, now);
  if (excepted.applied !== null) {
    const { exception, expiresAt } = excepted.applied;
    return {
      ...base,
      decision: 'respond',
      dryRun: options.forceDryRun === true || policy.dryRun,
      rule: null,
      approval: null,
      exception: {
        name: exception.name,
        reason: exception.reason,
        expires: isoTime(expiresAt),
        owner: exception.owner ?? null,
        sinks: exceptionSinks(policy, exception),
      },
      target,
      processes,
      window,
      evidence,
      targetProblems: problems,
      reason: `exception ${exception.name} matched (expires ${isoTime(expiresAt)}): expected, report only`,
    };
  }
  // An expiry is never silent: the reason says which exception stopped applying.
  const lapsed = excepted.expired.map((e) => `; exception ${e.exception.name} expired at ${isoTime(e.expiresAt)} and no longer applies`).join('');

  const rule = policy.rules.find((r) => matchHolds(r.match, facts)) ?? null;
  // An approval rule runs in dry-run until a person approves; the kill switch still wins over the person.
  const needsApproval = rule?.approval === 'required';
  const ruleDryRun = needsApproval ? options.approved !== true : (rule?.dryRun ?? policy.dryRun);
  const dryRun = options.forceDryRun === true || ruleDryRun;
  const respond = { ...base, decision: 'respond' as const, dryRun, rule: rule?.name ?? null, exception: null, approval: null, target, processes, window, evidence };

  if (target.namespace !== null && isProtectedNamespace(policy, target.namespace)) {
    return { ...respond, targetProblems: problems, reason: `namespace ${target.namespace} is protected: report only${lapsed}` };
  }
  if (rule === null) {
    return { ...respond, targetProblems: problems, reason: `no policy rule matches: report only${lapsed}` };
  }

  const actions: PlannedAction[] = [];
  const skippedForNames: string[] = [];
  for (const type of ACTION_ORDER) {
    if (!rule.actions.includes(type)) continue;
    if (type === 'cordon-node') {
      // The node may be re-resolved from the live pod at preflight, but only for a pod we can address.
      if (validity.nodeActionable || validity.podActionable) {
        actions.push({ type, namespace: target.namespace, pod: target.pod, node: validity.nodeActionable ? target.node : null });
      } else skippedForNames.push(type);
    } else if (validity.podActionable) {
      actions.push({ type, namespace: target.namespace, pod: target.pod, node: target.node });
    } else skippedForNames.push(type);
  }
  const approvalNote = !needsApproval ? '' : options.approved === true ? '; approved' : '; approval required';
  const reason =
    skippedForNames.length > 0
      ? `rule ${rule.name} matched${approvalNote}; ${skippedForNames.join(', ')} dropped: ${problems.join('; ')}${lapsed}`
      : `rule ${rule.name} matched${approvalNote}${lapsed}`;
  const approval: PlanApproval | null =
    needsApproval && actions.length > 0
      ? { required: true, approvers: rule.approvers ?? policy.approval.approvers, expiresMinutes: policy.approval.expiresMinutes, approved: options.approved === true }
      : null;
  return { ...respond, targetProblems: problems, actions, reason, approval };
}

/**
 * The plan as printed for people (`scc-responder plan`, the CLI's fallback
 * output, the demo): process args redacted with the policy's rules. The plan
 * itself keeps the raw args, which matching and the bundle opt-in read.
 */
export function printablePlan(p: Plan, rules: RedactionRules): Plan {
  if (p.processes === null) return p;
  const redact = (info: ProcessInfo | null): ProcessInfo | null => (info === null ? null : { ...info, args: redactArgs(info.args, rules, info.binaryPath) });
  return { ...p, processes: { ...p.processes, parent: redact(p.processes.parent), child: redact(p.processes.child) } };
}
