// finding + policy + now → Plan. Pure: the Plan is what a person reads (and
// `scc-responder plan` prints) before anything touches a cluster.
import type { DecodedInput } from './envelope.ts';
import type { Finding } from './finding-schema.ts';
import { compileGlob, matchesAnyGlob, matchGlob } from './glob.ts';
import {
  clusterAuditQuery,
  evidenceWindow,
  nodeLogsQuery,
  podLogsQuery,
  type EvidenceQuery,
  type TimeWindow,
} from './logging-filter.ts';
import { ACTION_ORDER, isProtectedNamespace, type ActionType, type Policy, type PolicyRule } from './policy.ts';
import { redactArgs, type RedactionRules } from './redact.ts';
import { checkScope } from './scope.ts';
import { extractProcesses, extractTarget, validateTarget, type ProcessInfo, type Processes, type Target } from './target.ts';

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

export interface Plan {
  version: typeof PLAN_VERSION;
  decision: 'respond' | 'ignore';
  reason: string;
  dryRun: boolean;
  rule: string | null;
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
  /** Operator kill switch: forces dry-run whatever the policy and rule say. */
  forceDryRun?: boolean;
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

function anyGlob(value: string | null, patterns: string[] | undefined): boolean {
  if (patterns === undefined) return true;
  if (value === null) return false;
  return matchesAnyGlob(patterns, value);
}

export function ruleMatches(rule: PolicyRule, target: Target, severity: string | null): boolean {
  const m = rule.match;
  if (!anyGlob(target.project, m.projects)) return false;
  if (!anyGlob(target.location, m.locations)) return false;
  if (!anyGlob(target.cluster, m.clusters)) return false;
  if (!anyGlob(target.namespace, m.namespaces)) return false;
  if (!anyGlob(target.image, m.images)) return false;
  if (m.severities !== undefined && (severity === null || !(m.severities as string[]).includes(severity))) return false;
  for (const [key, pattern] of Object.entries(m.podLabels ?? {})) {
    // Own keys only: a rule on label "constructor" must not read Object.prototype's.
    if (!Object.hasOwn(target.podLabels, key)) return false;
    if (!matchGlob(compileGlob(pattern), target.podLabels[key]!)) return false;
  }
  return true;
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
  const scope = checkScope(finding);
  if (!scope.inScope) {
    return { ...base, decision: 'ignore', reason: scope.reason, dryRun: true, rule: null, target: null, processes: null, window: null };
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

  const rule = policy.rules.find((r) => ruleMatches(r, target, ref.severity)) ?? null;
  const dryRun = options.forceDryRun === true || (rule?.dryRun ?? policy.dryRun);
  const respond = { ...base, decision: 'respond' as const, dryRun, rule: rule?.name ?? null, target, processes, window, evidence };
  const problems = validity.problems;

  if (target.namespace !== null && isProtectedNamespace(policy, target.namespace)) {
    return { ...respond, targetProblems: problems, reason: `namespace ${target.namespace} is protected: report only` };
  }
  if (rule === null) {
    return { ...respond, targetProblems: problems, reason: 'no policy rule matches: report only' };
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
  const reason =
    skippedForNames.length > 0
      ? `rule ${rule.name} matched; ${skippedForNames.join(', ')} dropped: ${problems.join('; ')}`
      : `rule ${rule.name} matched`;
  return { ...respond, targetProblems: problems, actions, reason };
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
