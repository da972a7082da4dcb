// Release: undo what this responder did for one incident, and nothing else.
// Each step is checked like an action (inspect, then one write, dry-run writes
// nothing) and reports the same outcome shape, typed by the action it undoes:
//   label-pod    → the quarantine label and annotations, if this incident set them;
//   isolate-pod  → the labels isolation detached put back, the incident label
//                  removed, the incident's own deny-all deleted (UID precondition),
//                  the exclusion taken out of foreign policies it was added to;
//   cordon-node  → uncordoned, only if this responder cordoned it for this
//                  incident and no other open incident holds the node.
// A removed pod is gone for good (evict/delete cannot be undone), and a pod
// that is terminating is never touched.
import { isLabelKey, isLabelValue } from '../core/finding/k8s-names.ts';
import type { ActionOutcome } from '../core/plan/outcome.ts';
import type { Policy } from '../core/policy/policy.ts';
import { FINDING_ANNOTATION, INCIDENT_LABEL, RELEASED_ANNOTATION, type Incident } from './action.ts';
import { releasedOccurrences } from './preflight.ts';
import { AUDIT_EVENTS_RBAC, auditEvent, writeAuditEvents } from './audit-events.ts';
import { CORDONED_AT_ANNOTATION, CORDONED_BY_ANNOTATION } from './cordon-node.ts';
import { describeKubeError } from './errors.ts';
import { DETACHED_LABELS_ANNOTATION, EXCLUDED_INCIDENTS_ANNOTATION, MANAGED_BY_LABEL, networkPolicyName } from './isolate-pod.ts';
import { KubeApiError, type KubeApi, type NetworkPolicy, type Node, type Pod } from './kube-api.ts';
import { QUARANTINED_AT_ANNOTATION } from './label-pod.ts';
import type { RbacNeed } from './rbac.ts';

/** Exactly what release uses: its own ClusterRole, applied only where release is enabled. */
export const RELEASE_RBAC: RbacNeed[] = [
  ...AUDIT_EVENTS_RBAC,
  { apiGroup: '', resource: 'pods', verbs: ['get', 'patch'] },
  { apiGroup: '', resource: 'nodes', verbs: ['get', 'patch'] },
  { apiGroup: 'networking.k8s.io', resource: 'networkpolicies', verbs: ['get', 'list', 'patch', 'delete'] },
];

export interface ReleaseRequest {
  incident: Incident;
  /** The finding occurrence (ledger key id) being released: marked on the pod so no redelivery of it acts again. */
  occurrence?: string;
  namespace: string | null;
  pod: string | null;
  /** The finding's node, used when the pod is gone. */
  node: string | null;
  dryRun: boolean;
  /**
   * Other open (not released) incidents that cordoned, or found cordoned, the
   * same node, from the ledger; null when there is no ledger to ask — the node
   * is then left cordoned, since nothing can show it is free.
   */
  nodeHeldBy: string[] | null;
  /**
   * Findings already released (for real) in the ledger. A node the responder cordoned for one of
   * them, and that this incident found cordoned and kept, is this incident's to uncordon now.
   */
  releasedFindings?: ReadonlySet<string>;
}

export interface ReleaseResult {
  outcomes: ActionOutcome[];
  warnings: string[];
}

type Step = { type: ActionOutcome['type']; status: ActionOutcome['status']; reason: string; details?: ActionOutcome['details'] };

const live = (pod: Pod | null): pod is Pod => pod !== null && pod.metadata.deletionTimestamp === undefined;

/** The labels isolation removed, as recorded on the pod; only valid label pairs (the annotation is the pod's, anyone who can patch it can edit it). */
function detachedLabels(pod: Pod): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(pod.metadata.annotations?.[DETACHED_LABELS_ANNOTATION] ?? '{}');
  } catch {
    return {};
  }
  const out: Record<string, string> = {};
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return out;
  for (const [k, v] of Object.entries(parsed)) {
    if (k === INCIDENT_LABEL || typeof v !== 'string' || !isLabelKey(k) || !isLabelValue(v)) continue;
    out[k] = v;
  }
  return out;
}

function ownPolicy(policy: NetworkPolicy, incident: Incident): boolean {
  return (
    policy.metadata.labels?.[MANAGED_BY_LABEL] === 'scc-responder' &&
    policy.metadata.labels?.[INCIDENT_LABEL] === incident.id &&
    policy.metadata.annotations?.[FINDING_ANNOTATION] === incident.findingName
  );
}

async function step(type: Step['type'], dryRun: boolean, intent: string, write: () => Promise<string>): Promise<Step> {
  if (dryRun) return { type, status: 'would', reason: `would ${intent}` };
  try {
    return { type, status: 'done', reason: await write() };
  } catch (error) {
    // A person runs release and reads the result: a transient fault is reported, not retried behind their back.
    if (!(error instanceof KubeApiError)) throw error;
    return { type, status: 'failed', reason: `${intent}: ${describeKubeError(error)}`, details: { httpStatus: error.status } };
  }
}

export async function runRelease(kube: KubeApi, policy: Policy, request: ReleaseRequest, now: Date): Promise<ReleaseResult> {
  const { incident, dryRun } = request;
  const warnings: string[] = [];
  let pod: Pod | null = null;
  let podReadError: string | null = null;
  try {
    pod = request.namespace !== null && request.pod !== null ? await kube.readPod(request.namespace, request.pod) : null;
  } catch (error) {
    if (!(error instanceof KubeApiError)) throw error;
    podReadError = describeKubeError(error);
  }
  if (podReadError !== null) {
    const failed = (type: Step['type']): Step => ({ type, status: 'failed', reason: `could not read pod ${request.namespace}/${request.pod}: ${podReadError}` });
    return { outcomes: [failed('label-pod'), failed('isolate-pod'), failed('cordon-node')], warnings: [] };
  }
  const podRef = `${request.namespace}/${request.pod}`;
  const podGone = (type: Step['type']): Step =>
    pod === null
      ? { type, status: 'skipped', reason: `pod ${podRef} is gone: nothing to release on it` }
      : { type, status: 'skipped', reason: `pod ${podRef} is terminating: never touched` };

  // A read that fails fails its own step only: the others still run and report.
  const guarded = async (type: Step['type'], run: () => Promise<Step>): Promise<Step> => {
    try {
      return await run();
    } catch (error) {
      if (!(error instanceof KubeApiError)) throw error;
      return { type, status: 'failed', reason: `release ${type}: ${describeKubeError(error)}`, details: { httpStatus: error.status } };
    }
  };
  const outcomes: Step[] = [];
  outcomes.push(await guarded('label-pod', releaseLabel));
  outcomes.push(await guarded('isolate-pod', releaseIsolation));
  outcomes.push(await guarded('cordon-node', releaseCordon));

  if (!dryRun) {
    const nodeName = (live(pod) ? pod.spec?.nodeName : undefined) ?? request.node;
    const node = nodeName ? await kube.readNode(nodeName).catch(() => null) : null;
    const target = { pod: live(pod) ? pod : null, node, nodeName: nodeName ?? null };
    const events = outcomes.map((o) => auditEvent(o, target, incident, now, 'release')).filter((e) => e !== null);
    const eventsWarning = await writeAuditEvents(kube, events);
    if (eventsWarning !== null) warnings.push(eventsWarning);
  }
  return { outcomes, warnings };

  async function releaseLabel(): Promise<Step> {
    const type = 'label-pod';
    if (!live(pod)) return podGone(type);
    const { key, value } = policy.actionSettings.quarantineLabel;
    const labelled = pod.metadata.labels?.[key] === value;
    const by = pod.metadata.annotations?.[FINDING_ANNOTATION];
    if (!labelled && by === undefined) return { type, status: 'already', reason: `pod ${podRef} carries no quarantine label of this responder` };
    if (by !== incident.findingName) {
      return { type, status: 'skipped', reason: `pod ${podRef} was quarantined for another finding (${JSON.stringify((by ?? 'none').slice(0, 200))}): left as it is` };
    }
    return step(type, dryRun, `remove ${key} and the quarantine annotations from pod ${podRef}`, async () => {
      await kube.patchPodMetadata(pod.metadata.namespace!, pod.metadata.name!, pod.metadata.uid!, {
        labels: labelled ? { [key]: null } : {},
        annotations: { [FINDING_ANNOTATION]: null, [QUARANTINED_AT_ANNOTATION]: null, ...releasedMarker(pod, request.occurrence) },
      });
      return `removed ${key} and the quarantine annotations from pod ${podRef}`;
    });
  }

  async function releaseIsolation(): Promise<Step> {
    const type = 'isolate-pod';
    const namespace = request.namespace;
    if (namespace === null) return { type, status: 'skipped', reason: 'the finding names no namespace' };
    const name = networkPolicyName(incident.id);
    const policies = await kube.listNetworkPolicies(namespace);
    const ours = policies.find((p) => p.metadata.name === name);
    const foreignOurName = ours !== undefined && !ownPolicy(ours, incident);
    const excludedFrom = policies.filter((p) => (p.metadata.annotations?.[EXCLUDED_INCIDENTS_ANNOTATION] ?? '').split(',').includes(incident.id));
    // The pod's part is this incident's only while the pod carries this incident's label: under another
    // incident's (a later finding that found the pod isolated already), the detached labels are that
    // incident's too, and putting them back would undo its isolation.
    const carried = live(pod) ? pod.metadata.labels?.[INCIDENT_LABEL] : undefined;
    const podHasLabel = carried === incident.id;
    const restore = podHasLabel ? detachedLabels(pod!) : {};
    // Put back only what is missing: a label someone set since is theirs now.
    const toRestore = Object.fromEntries(Object.entries(restore).filter(([k]) => !Object.hasOwn(pod?.metadata.labels ?? {}, k)));
    const restored = Object.keys(toRestore).length > 0 ? ` (labels ${Object.keys(toRestore).join(', ')} put back)` : '';
    const work: { intent: string; done: string; run: () => Promise<void> }[] = [];
    if (podHasLabel) {
      work.push({
        intent: `restore pod ${podRef}${restored} and remove ${INCIDENT_LABEL}`,
        done: `restored pod ${podRef}${restored}, removed ${INCIDENT_LABEL}`,
        run: async () => {
          await kube.patchPodMetadata(pod!.metadata.namespace!, pod!.metadata.name!, pod!.metadata.uid!, {
            labels: { ...toRestore, [INCIDENT_LABEL]: null },
            annotations: { [DETACHED_LABELS_ANNOTATION]: null, ...releasedMarker(pod!, request.occurrence) },
          });
        },
      });
    }
    if (ours !== undefined && !foreignOurName) {
      work.push({
        intent: `delete NetworkPolicy ${namespace}/${name}`,
        done: `deleted NetworkPolicy ${namespace}/${name}`,
        run: () =>
          kube.deleteNetworkPolicy(namespace, name, ours.metadata.uid!).catch((error: unknown) => {
            // Already gone is released.
            if (!(error instanceof KubeApiError && error.status === 404)) throw error;
          }),
      });
    }
    for (const p of excludedFrom) {
      work.push({
        intent: `take the exclusion out of NetworkPolicy ${namespace}/${p.metadata.name}`,
        done: `took the exclusion out of NetworkPolicy ${namespace}/${p.metadata.name}`,
        run: async () => {
          const kept = (p.spec.podSelector.matchExpressions ?? []).filter(
            (r) => !(r.key === INCIDENT_LABEL && r.operator === 'NotIn' && (r.values ?? []).length === 1 && r.values![0] === incident.id),
          );
          const others = (p.metadata.annotations?.[EXCLUDED_INCIDENTS_ANNOTATION] ?? '').split(',').filter((x) => x !== '' && x !== incident.id);
          await kube.patchNetworkPolicySelector(namespace, p.metadata.name!, p.metadata.resourceVersion ?? '', kept, {
            [EXCLUDED_INCIDENTS_ANNOTATION]: others.length > 0 ? others.join(',') : null,
          });
        },
      });
    }
    const notes = [
      foreignOurName ? `NetworkPolicy ${name} was not created by this responder for this incident: left alone` : null,
      carried !== undefined && !podHasLabel ? `pod ${podRef} is isolated under incident ${JSON.stringify(carried.slice(0, 64))}: left as it is (release that incident to undo it)` : null,
    ]
      .filter((n) => n !== null)
      .map((n) => `; ${n}`)
      .join('');
    if (work.length === 0) {
      if (!live(pod) && pod !== null) return { ...podGone(type), reason: `${podGone(type).reason}; no isolation object of this incident left${notes}` };
      return { type, status: 'already', reason: `nothing of this incident's isolation is left in ${namespace}${notes}` };
    }
    if (dryRun) return { type, status: 'would', reason: `would ${work.map((w) => w.intent).join('; ')}${notes}` };
    // One write after another; a failure says what was already undone, never only that it failed.
    const done: string[] = [];
    for (const w of work) {
      try {
        await w.run();
        done.push(w.done);
      } catch (error) {
        if (!(error instanceof KubeApiError)) throw error;
        const before = done.length > 0 ? `${done.join('; ')}; then ` : '';
        return { type, status: 'failed', reason: `${before}${w.intent}: ${describeKubeError(error)}${notes}`, details: { httpStatus: error.status } };
      }
    }
    return { type, status: 'done', reason: `${done.join('; ')}${notes}` };
  }

  async function releaseCordon(): Promise<Step> {
    const type = 'cordon-node';
    const nodeName = (live(pod) ? pod.spec?.nodeName : undefined) ?? request.node;
    if (!nodeName) return { type, status: 'skipped', reason: 'no node is known for this incident' };
    const node: Node | null = await kube.readNode(nodeName);
    if (node === null) return { type, status: 'skipped', reason: `node ${nodeName} no longer exists` };
    const annotations = node.metadata.annotations ?? {};
    if (node.spec?.unschedulable !== true) return { type, status: 'already', reason: `node ${nodeName} is not cordoned` };
    if (annotations[CORDONED_BY_ANNOTATION] !== 'scc-responder') return { type, status: 'skipped', reason: `node ${nodeName} was cordoned by someone else: left cordoned` };
    const cordonedFor = annotations[FINDING_ANNOTATION];
    const handedOver = cordonedFor !== undefined && request.releasedFindings?.has(cordonedFor) === true;
    if (cordonedFor !== incident.findingName && !handedOver) {
      return { type, status: 'skipped', reason: `node ${nodeName} was cordoned for another finding (${JSON.stringify((annotations[FINDING_ANNOTATION] ?? 'none').slice(0, 200))}): left cordoned` };
    }
    if (request.nodeHeldBy === null) {
      return {
        type,
        status: 'skipped',
        reason: `no ledger to tell whether another open incident holds node ${nodeName}: left cordoned (kubectl uncordon ${nodeName} when it is free)`,
        // Still this incident's doing, and still in force: the release is not complete.
        details: { leftInPlace: true },
      };
    }
    if (request.nodeHeldBy.length > 0) {
      return { type, status: 'skipped', reason: `node ${nodeName} is also held by open incident(s) ${request.nodeHeldBy.slice(0, 5).join(', ')}: left cordoned` };
    }
    return step(type, dryRun, `uncordon node ${nodeName}`, async () => {
      await kube.uncordonNode(nodeName, node.metadata.resourceVersion ?? '', [CORDONED_BY_ANNOTATION, CORDONED_AT_ANNOTATION, FINDING_ANNOTATION]);
      return `uncordoned node ${nodeName}`;
    });
  }
}

/** How many released occurrences a pod remembers (the annotation stays small). */
const MAX_RELEASED_MARKERS = 20;

/**
 * The pod's released-occurrences annotation with this occurrence added, as a patch entry: no later
 * delivery of the same finding occurrence then acts on the pod (preflight). Nothing without an id.
 */
function releasedMarker(pod: Pod, occurrence: string | undefined): Record<string, string> {
  if (occurrence === undefined || !/^[a-f0-9]{64}$/.test(occurrence)) return {};
  const ids = releasedOccurrences(pod).filter((id) => id !== occurrence);
  return { [RELEASED_ANNOTATION]: [...ids, occurrence].slice(-MAX_RELEASED_MARKERS).join(',') };
}
