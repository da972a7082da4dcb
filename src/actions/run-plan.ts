// Runs a Plan's actions against one cluster: preflight once, then each planned
// action in plan order with its guards, with snapshots taken before anything
// removes the pod. Dry-run runs every read and every check and writes nothing.
import type { ActionOutcome } from '../core/outcome.ts';
import type { ActionType, Policy } from '../core/policy.ts';
import type { ClusterSnapshots, ContainmentRequest, ContainmentResult, StepLogger } from '../core/ports.ts';
import { incidentFor, type ActionContext, type ClusterAction } from './action.ts';
import { captureProcessList } from './capture-process-list.ts';
import { cordonNode } from './cordon-node.ts';
import { deletePod } from './delete-pod.ts';
import { describeKubeError, permanentOrThrow } from './errors.ts';
import { evictPod } from './evict-pod.ts';
import { isolatePod } from './isolate-pod.ts';
import type { KubeApi } from './kube-api.ts';
import { labelPod } from './label-pod.ts';
import { preflight, type Block, type PreflightResult } from './preflight.ts';
import { PREFLIGHT_RBAC, unionOfNeeds, type RbacNeed } from './rbac.ts';
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

export async function runPlan(request: ContainmentRequest, deps: RunPlanDeps): Promise<ContainmentResult> {
  const { plan } = request;
  const { kube, policy, log } = deps;
  if (plan.actions.length === 0) return { outcomes: [], snapshots: {}, warnings: [] };
  if (plan.target === null) return allAs(request, 'skipped', 'the finding names no target');

  let pre: PreflightResult;
  try {
    pre = await preflight(kube, plan, policy);
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
  let captured = pre.all !== null;
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

  for (const planned of plan.actions) {
    const action = ACTIONS[planned.type];
    if (action.removesPod) await captureOnce();
    const started = Date.now();
    const outcome = await decide(action);
    outcomes.push({ ...outcome, durationMs: Date.now() - started });
  }
  await captureOnce();
  return { outcomes, snapshots, warnings };

  async function decide(action: ClusterAction): Promise<ActionOutcome> {
    const type = action.type;
    const previous = request.previous?.get(type);
    if (previous && (previous.status === 'done' || previous.status === 'already')) {
      return { type, status: 'already', reason: `${previous.status} in an earlier delivery: ${previous.reason}` };
    }
    const denied = request.deniedByBudget.get(type);
    if (denied !== undefined) return { type, status: 'skipped', reason: denied };
    if (policy.guards.stopOnFailure && outcomes.some((o) => o.status === 'failed')) {
      return { type, status: 'skipped', reason: 'an earlier action failed (guards.stopOnFailure)' };
    }
    if (action.removesPod && policy.guards.deleteRequiresIsolation && plannedTypes.has('isolate-pod')) {
      const isolation = outcomes.find((o) => o.type === 'isolate-pod');
      if (isolation?.status === 'failed') {
        return { type, status: 'skipped', reason: 'isolate-pod failed, so the pod is not removed (guards.deleteRequiresIsolation)' };
      }
    }
    const block = blockFor(action, pre);
    if (block) return { type, status: block.status, reason: block.reason, checks: pre.checks };

    const ctx: ActionContext = { kube, plan, policy, incident, now, pod: pre.pod, nodeName: pre.nodeName, node: pre.node };
    const inspection = await action.inspect(ctx);
    const checks = [...pre.checks, ...inspection.checks];
    if (plan.dryRun) {
      const reason = inspection.already ? `nothing to do: ${inspection.already}` : inspection.intent;
      return { type, status: 'would', reason, checks };
    }
    if (inspection.already) return { type, status: 'already', reason: inspection.already, checks };
    const applied = await action.apply(ctx);
    return { type, ...applied, checks };
  }
}
