// Kubernetes Events for what the responder did, so `kubectl describe pod` and
// `kubectl get events` show it next to the kubelet's own: one per action that
// wrote (or tried to), on the pod, or on the node for cordon-node. Written after
// the read-back, so an event says what is really in force. Best effort: a
// failed or slow event never blocks, delays or fails containment.
import { wroteToCluster, type ActionOutcome } from '../core/plan/outcome.ts';
import { truncate } from '../core/summary/summary.ts';
import { FINDING_ANNOTATION, INCIDENT_LABEL, type Incident } from './action.ts';
import { describeKubeError } from './errors.ts';
import { KubeApiError, type KubeApi, type KubeEvent, type Node, type Pod } from './kube-api.ts';
import type { RbacNeed } from './rbac.ts';

export const AUDIT_EVENTS_RBAC: RbacNeed[] = [{ apiGroup: '', resource: 'events', verbs: ['create'] }];

/** How long the run waits for its events at the end, at most. */
export const EVENTS_WAIT_MS = 3_000;

const COMPONENT = 'scc-responder';
/** kube-apiserver's limit for an Event message (events.k8s.io); core/v1 is kept to it too. */
const MAX_MESSAGE = 1024;

function reasonFor(outcome: ActionOutcome): string {
  const verbs: Record<ActionOutcome['type'], string> = {
    'label-pod': 'QuarantineLabelled',
    'isolate-pod': 'Isolated',
    'capture-process-list': 'ProcessListCaptured',
    'cordon-node': 'NodeCordoned',
    'evict-pod': 'PodEvicted',
    'delete-pod': 'PodDeleted',
  };
  const verb = verbs[outcome.type];
  if (outcome.status === 'done') return `SccResponder${verb}`;
  if (outcome.status === 'partial') return `SccResponderPartially${verb}`;
  if (outcome.status === 'pending') return `SccResponder${verb}Pending`;
  return `SccResponder${verb}${outcome.status === 'ineffective' ? 'Ineffective' : 'Failed'}`;
}

export interface AuditTarget {
  pod: Pod | null;
  node: Node | null;
  nodeName: string | null;
}

/** The Event for one outcome, or null when it wrote nothing (or has no object to hang on). */
export function auditEvent(
  outcome: ActionOutcome,
  target: AuditTarget,
  incident: Incident,
  now: Date,
  kind: 'action' | 'release' = 'action',
): { namespace: string; event: KubeEvent } | null {
  // Only what changed, or tried to change, the cluster is worth an audit trail.
  if (!wroteToCluster(outcome)) return null;
  const onNode = outcome.type === 'cordon-node';
  const pod = target.pod;
  if (!onNode && pod === null) return null;
  if (onNode && target.nodeName === null) return null;
  // Events about a cluster-scoped object (a node) live in "default", as the kubelet's do.
  const namespace = onNode ? 'default' : pod!.metadata.namespace!;
  const involvedObject = onNode
    ? { apiVersion: 'v1', kind: 'Node', name: target.nodeName!, ...(target.node?.metadata.uid ? { uid: target.node.metadata.uid } : {}) }
    : { apiVersion: 'v1', kind: 'Pod', name: pod!.metadata.name!, namespace, uid: pod!.metadata.uid! };
  const stamp = now.toISOString();
  return {
    namespace,
    event: {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: {
        generateName: `${involvedObject.name.slice(0, 200)}.scc-responder.`,
        namespace,
        labels: { [INCIDENT_LABEL]: incident.id, 'app.kubernetes.io/managed-by': COMPONENT },
        annotations: { [FINDING_ANNOTATION]: incident.findingName },
      },
      involvedObject,
      reason: kind === 'release' ? `SccResponderReleased${outcome.status === 'failed' ? 'Failed' : ''}` : reasonFor(outcome),
      message: truncate(`${kind === 'release' ? 'release of ' : ''}${outcome.type} ${outcome.status}: ${outcome.reason} (incident ${incident.id})`, MAX_MESSAGE),
      type: outcome.status === 'done' ? 'Normal' : 'Warning',
      source: { component: COMPONENT },
      reportingComponent: COMPONENT,
      reportingInstance: COMPONENT,
      firstTimestamp: stamp,
      lastTimestamp: stamp,
      count: 1,
    },
  };
}

/**
 * Writes the events in parallel and waits for them at most EVENTS_WAIT_MS.
 * Returns a warning when some were not written (a missing `events create`
 * grant shows up here), null otherwise. Never throws.
 */
export async function writeAuditEvents(kube: KubeApi, events: readonly { namespace: string; event: KubeEvent }[], waitMs = EVENTS_WAIT_MS): Promise<string | null> {
  if (events.length === 0) return null;
  const failures: string[] = [];
  const writes = events.map((e) =>
    kube.createEvent(e.namespace, e.event).catch((error: unknown) => {
      failures.push(error instanceof KubeApiError ? describeKubeError(error) : String(error));
    }),
  );
  let timer: NodeJS.Timeout | undefined;
  const late = await Promise.race([
    Promise.all(writes).then(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), waitMs);
    }),
  ]);
  clearTimeout(timer);
  if (late) failures.push(`not confirmed within ${waitMs} ms`);
  return failures.length === 0 ? null : `audit events: ${failures.length} of ${events.length} not recorded (${truncate(failures[0]!, 200)})`;
}
