// Which Logging queries a gather runs: the plan's, with the node query widened
// to the VM's serial console once preflight has read the Node's instance id.
import { isDns1123Subdomain } from '../finding/k8s-names.ts';
import { isGceInstanceId, nodeEvidenceQuery, nodeSerialConsoleQuery, type EvidenceQuery } from './logging-filter.ts';
import type { Plan } from '../plan/plan.ts';
import type { ClusterSnapshots } from '../ports.ts';

export interface GatherQueries {
  queries: EvidenceQuery[];
  notes: string[];
}

export function gatherQueries(plan: Plan, snapshots: ClusterSnapshots): GatherQueries {
  const notes: string[] = [];
  const queries = plan.evidence.filter((q) => q.kind !== 'node-logs' && q.kind !== 'node-serial-console');
  const target = plan.target;
  if (target === null || plan.window === null) return { queries, notes };

  // The live pod's node wins over the finding's: the instance id was read from that Node.
  const resolved = snapshots.resolvedNode;
  const node =
    resolved !== undefined && isDns1123Subdomain(resolved)
      ? resolved
      : plan.evidence.some((q) => q.kind === 'node-logs')
        ? target.node
        : null;
  let instanceId: string | null = null;
  if (snapshots.nodeInstanceId !== undefined) {
    if (isGceInstanceId(snapshots.nodeInstanceId)) instanceId = snapshots.nodeInstanceId;
    else notes.push('node instance id annotation is not a GCE instance id: serial console not queried');
  }
  if (node !== null) queries.push(nodeEvidenceQuery({ ...target, node }, instanceId, plan.window));
  else if (instanceId !== null) queries.push(nodeSerialConsoleQuery(target.project, instanceId, plan.window));
  if (resolved !== undefined && target.node !== null && resolved !== target.node && node === resolved) {
    notes.push('the pod runs on a different node than the finding names: node logs are for the live node');
  }
  return { queries, notes };
}
