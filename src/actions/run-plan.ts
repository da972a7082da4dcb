// Runs a Plan's actions against one cluster: preflight once, then each planned
// action in plan order with its guards, with snapshots taken before anything
// removes the pod. Dry-run runs every read and every check and writes nothing.
import { TransientError } from '../core/errors.ts';
import { isInForce, type ActionOutcome } from '../core/plan/outcome.ts';
import type { ActionType, Policy } from '../core/policy/policy.ts';
import type { ClusterSnapshots, ContainmentRequest, ContainmentResult, StepLogger } from '../core/ports.ts';
import { incidentFor, type ActionContext, type ClusterAction } from './action.ts';
import { auditEvent, writeAuditEvents } from './audit-events.ts';
import { captureProcessList } from './capture-process-list.ts';
import { cordonNode } from './cordon-node.ts';
import { deletePod } from './delete-pod.ts';
import { describeKubeError, permanentOrThrow } from './errors.ts';
import { evictPod } from './evict-pod.ts';
import { isolatePod } from './isolate-pod.ts';
import type { ClusterFacts, KubeApi } from './kube-api.ts';
import { readBack } from './read-back.ts';
import { labelPod } from './label-pod.ts';
import { preflight, type Block, type PreflightResult } from './preflight.ts';
import { unionOfNeeds, type RbacNeed } from './rbac.ts';
import { PREFLIGHT_RBAC } from './preflight.ts';
import { captureSnapshots } from './snapshots.ts';

export const ACTIONS: Readonly<Record<ActionType, ClusterAction>> = {
  'label-pod': labelPod,
  'isolate-pod': isolatePod,
  'capture-process-list': captureProcessList,
  'cordon-node': cordonNode,
  'evict-pod': evictPod,
  'delete-pod': deletePod,
};

/** Every permission the responder uses in a cluster: what the ClusterRole must grant, exactly. */
export function requiredRbac(): RbacNeed[] {
  return unionOfNeeds([...PREFLIGHT_RBAC, ...Object.values(ACTIONS).flatMap((a) => a.rbac)]);
}

export interface RunPlanDeps {
  kube: KubeApi;
  policy: Policy;
  log: StepLogger;
  now: () => Date;
  facts: ClusterFacts;
}

function allAs(request: ContainmentRequest, status: ActionOutcome['status'], reason: string, warnings: string[] = []): ContainmentResult {
  return { outcomes: request.plan.actions.map((a) => ({ type: a.type, status, reason })), snapshots: {}, warnings };
}

function blockFor(action: ClusterAction, pre: PreflightResult): Block | null {
  if (pre.all) return pre.all;
  if (!action.podScoped) return pre.nodeBlock;
  if (action.removesPod) return pre.removalBlock ?? pre.podBlock;
  return pre.podBlock;
}

/** Said whenever isolation is planned: NetworkPolicy does not promise to cut what is already open. */
export function openConnectionsNote(plan: ContainmentRequest['plan']): string {
  const removal = plan.actions.find((a) => ACTIONS[a.type].removesPod);
  return `isolation blocks new connections only: connections already open (a reverse shell, a running download) may persist until the pod is removed; ${
    removal ? `this plan removes the pod (${removal.type})` : 'this plan does NOT remove the pod (add evict-pod or delete-pod to the rule)'
  }`;
}

export async function runPlan(request: ContainmentRequest, deps: RunPlanDeps): Promise<ContainmentResult> {
  const { plan } = request;
  const { kube, policy, log } = deps;
  if (plan.actions.length === 0) return { outcomes: [], snapshots: {}, warnings: [] };
  if (plan.target === null) return allAs(request, 'skipped', 'the finding names no target');

  let pre: PreflightResult;
  try {
    pre = await preflight(kube, plan, policy, { removesPod: plan.actions.some((a) => ACTIONS[a.type].removesPod) });
  } catch (error) {
    const e = permanentOrThrow(error, 'preflight');
    return allAs(request, 'failed', `preflight: ${describeKubeError(e)}`);
  }
  log.log('INFO', 'preflight', pre.all ? pre.all.reason : 'preflight complete', {
    finding: plan.finding.name,
    checks: pre.checks,
    warnings: pre.warnings,
    ownerChain: pre.ownerChain,
    node: pre.nodeName,
  });

  let snapshots: ClusterSnapshots = {};
  const warnings = [...pre.warnings];
  // Before the claim nothing is removed, and the run after the claim takes the snapshots.
  let captured = pre.all !== null || request.stage === 'before-claim';
  // Taken right before the first action that removes the pod (what it loses), not before
  // label/isolate: containment must not wait for a copy of logs and events.
  const captureOnce = async () => {
    if (captured) return;
    captured = true;
    const result = await captureSnapshots(kube, pre, policy);
    snapshots = result.snapshots;
    warnings.push(...result.warnings);
  };

  const incident = incidentFor(plan);
  const now = deps.now();
  const outcomes: ActionOutcome[] = [];
  const plannedTypes = new Set(plan.actions.map((a) => a.type));
  const ctx: ActionContext = { kube, plan, policy, incident, now, pod: pre.pod, nodeName: pre.nodeName, node: pre.node, facts: deps.facts };

  for (const planned of plan.actions) {
    const action = ACTIONS[planned.type];
    const started = Date.now();
    let outcome: ActionOutcome;
    try {
      if (action.removesPod && !plan.dryRun) await captureOnce();
      outcome = await decide(action);
    } catch (error) {
      // A fault that may heal: reported as pending (the message is retried), and the
      // rest of the plan still runs, so what could be done now is done now.
      if (!(error instanceof TransientError)) throw error;
      outcome = { type: action.type, status: 'pending', reason: `${error.message} (retried on redelivery)` };
    }
    outcome = { ...outcome, durationMs: Date.now() - started };
    outcomes.push(outcome);
    await request.onOutcome?.(outcome);
  }
  if (!plan.dryRun && outcomes.some((o) => o.status !== 'skipped' && o.status !== 'pending')) {
    await readBack(outcomes, { kube, pre, incident, facts: deps.facts, quarantineLabel: policy.actionSettings.quarantineLabel, warnings });
  }
  try {
    await captureOnce();
  } catch (error) {
    if (!(error instanceof TransientError)) throw error;
    warnings.push(`snapshot: ${error.message}`);
  }
  if (!plan.dryRun) {
    const target = { pod: pre.pod, node: pre.node, nodeName: pre.nodeName };
    // A carried outcome had its Event written by the run that reached it.
    const events = outcomes.filter((o) => !request.carried?.has(o.type)).map((o) => auditEvent(o, target, incident, now)).filter((e) => e !== null);
    const eventsWarning = await writeAuditEvents(kube, events);
    if (eventsWarning !== null) warnings.push(eventsWarning);
  }
  if (plannedTypes.has('isolate-pod') && request.stage !== 'before-claim') warnings.push(openConnectionsNote(plan));
  return { outcomes, snapshots, warnings };

  async function decide(action: ClusterAction): Promise<ActionOutcome> {
    const type = action.type;
    const previous = request.previous?.get(type);
    if (previous && isInForce(previous.status)) {
      // Its details (which NetworkPolicy, which labels) are what the read-back checks against.
      return { type, status: 'already', reason: `${previous.status} in an earlier delivery: ${previous.reason}`, ...(previous.details ? { details: previous.details } : {}) };
    }
    const carried = request.carried?.get(type);
    if (carried) return carried;
    const denied = request.deniedByBudget.get(type);
    if (denied !== undefined) return { type, status: 'skipped', reason: denied };
    if (request.startBy !== undefined && deps.now().getTime() > request.startBy) {
      return { type, status: 'pending', reason: 'not started: this delivery ran out of time (retried on redelivery)' };
    }
    if (policy.guards.stopOnFailure && outcomes.some((o) => o.status === 'failed')) {
      return { type, status: 'skipped', reason: 'an earlier action failed (guards.stopOnFailure)' };
    }
    if (action.removesPod && policy.guards.deleteRequiresIsolation && plannedTypes.has('isolate-pod')) {
      const isolation = outcomes.find((o) => o.type === 'isolate-pod');
      if (isolation?.status === 'failed') {
        return { type, status: 'skipped', reason: 'isolate-pod failed, so the pod is not removed (guards.deleteRequiresIsolation)' };
      }
      if (isolation?.status === 'pending') {
        return { type, status: 'pending', reason: 'waits for isolate-pod, which is pending retry (guards.deleteRequiresIsolation)' };
      }
    }
    const block = blockFor(action, pre);
    if (block) return { type, status: block.status, reason: block.reason, checks: pre.checks };

    const inspection = await action.inspect(ctx);
    const checks = [...pre.checks, ...inspection.checks];
    if (plan.dryRun) {
      const reason = inspection.already ? `nothing to do: ${inspection.already}` : inspection.intent;
      return { type, status: 'would', reason, checks };
    }
    if (inspection.already) return { type, status: 'already', reason: inspection.already, checks };
    const applied = await action.apply(ctx, inspection);
    return { type, ...applied, checks };
  }
}
