// The checks that run every time, right before acting: the finding names a pod
// by namespace + name, and that name may by now belong to another pod (a
// StatefulSet replacement), be on another node, be terminating or be gone.
// Everything here reads; nothing writes. Every "no" carries its reason.
import type { Plan } from '../core/plan/plan.ts';
import { isDns1123Label, isDns1123Subdomain } from '../core/finding/k8s-names.ts';
import { isProtectedNamespace, type Policy } from '../core/policy/policy.ts';
import type { KubeApi, Node, Pod } from './kube-api.ts';
import { findingKey } from '../core/finding/key.ts';
import { RELEASED_ANNOTATION } from './action.ts';
import type { RbacNeed } from './rbac.ts';
import { READ_OWNERS_RBAC } from './read-owners.ts';

/**
 * Reads that are granted whatever the enabled actions: the preflight's and the evidence
 * snapshot's before any action, and owner resolution's after containment (read-owners.ts).
 */
export const PREFLIGHT_RBAC: RbacNeed[] = [
  { apiGroup: '', resource: 'pods', verbs: ['get', 'list'] },
  { apiGroup: '', resource: 'pods/log', verbs: ['get'] },
  { apiGroup: '', resource: 'events', verbs: ['list'] },
  { apiGroup: '', resource: 'nodes', verbs: ['get'] },
  { apiGroup: 'apps', resource: 'replicasets', verbs: ['get'] },
  ...READ_OWNERS_RBAC,
];

/** The finding occurrences (ledger key ids) the pod was released from (release.ts writes them). */
export function releasedOccurrences(pod: Pod): string[] {
  const value = pod.metadata.annotations?.[RELEASED_ANNOTATION];
  return typeof value === 'string' ? value.split(',').filter((id) => /^[a-f0-9]{64}$/.test(id)) : [];
}

/** The plan's finding occurrence as the ledger keys it (finding name + eventTime). */
export function occurrenceOf(plan: Plan): string {
  const f = plan.finding;
  return findingKey({ ...(f.name ? { name: f.name } : {}), ...(f.canonicalName ? { canonicalName: f.canonicalName } : {}), ...(f.eventTime ? { eventTime: f.eventTime } : {}) }).id;
}

export interface Block {
  status: 'skipped' | 'already';
  reason: string;
}

export interface PreflightResult {
  pod: Pod | null;
  node: Node | null;
  /** Node the node-scoped actions act on. */
  nodeName: string | null;
  ownerChain: string[];
  checks: string[];
  warnings: string[];
  /** Stops every action (protected namespace, opt-out, the live pod is not the finding's pod). */
  all: Block | null;
  /** Stops the pod-scoped actions (gone, terminating, DaemonSet, static pod). Removal actions read removal first. */
  podBlock: Block | null;
  /** Stops evict/delete only (replica floor), or a removal-specific verdict (gone = already). */
  removalBlock: Block | null;
  /** Stops node-scoped actions (no node known). */
  nodeBlock: Block | null;
  /** The owning ReplicaSet's selector, to list its pods for the replica floor. */
  replicaSelector?: string | undefined;
}

const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';

/** docker.io/library/nginx:latest and nginx are the same image reference. */
export function normalizeImage(ref: string): string {
  let out = ref.trim();
  const firstSlash = out.indexOf('/');
  const first = firstSlash < 0 ? '' : out.slice(0, firstSlash);
  const hasRegistry = firstSlash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasRegistry) out = `docker.io/${firstSlash < 0 ? 'library/' : ''}${out}`;
  const lastSlash = out.lastIndexOf('/');
  if (!out.includes('@') && !out.slice(lastSlash).includes(':')) out += ':latest';
  return out;
}

function digestOf(value: string | null | undefined): string | null {
  const m = /sha256:[a-f0-9]{64}/.exec(value ?? '');
  return m ? m[0] : null;
}

function isReady(pod: Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

function selectorString(matchLabels: Record<string, string> | undefined): string | undefined {
  const entries = Object.entries(matchLabels ?? {});
  return entries.length === 0 ? undefined : entries.map(([k, v]) => `${k}=${v}`).join(',');
}

interface Identity {
  /** The live pod contradicts the finding: not its pod. */
  mismatch: string | null;
  /** Nothing contradicts, but too little ties the pod to the finding to act on it. */
  unverified: string | null;
}

/**
 * Does the live pod provably be the one the finding describes? The minimum that
 * ties them: the finding's container exists in the pod, AND its image (reference
 * or digest) or the node agrees, AND the pod existed at the finding's event time.
 * A finding that names only namespace + name proves nothing: any pod can carry
 * that name (a StatefulSet replacement, or one created to be hit).
 */
function identify(plan: Plan, pod: Pod, policy: Policy, checks: string[], warnings: string[]): Identity {
  const target = plan.target!;
  const missing: string[] = [];
  let corroborated = false;
  const containers = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? []), ...(pod.spec?.ephemeralContainers ?? [])];
  const statuses = [
    ...(pod.status?.containerStatuses ?? []),
    ...(pod.status?.initContainerStatuses ?? []),
    ...(pod.status?.ephemeralContainerStatuses ?? []),
  ];
  const no = (mismatch: string): Identity => ({ mismatch, unverified: null });
  if (target.container === null) missing.push('the finding names no container');
  else {
    const container = containers.find((c) => c.name === target.container);
    if (!container) return no(`pod has no container ${JSON.stringify(target.container)}: not the pod the finding names`);
    checks.push(`container ${target.container} present`);
    if (target.image !== null && container.image !== undefined) {
      const status = statuses.find((s) => s.name === target.container);
      const sameRef = normalizeImage(container.image) === normalizeImage(target.image);
      const wanted = digestOf(target.imageId) ?? digestOf(target.image);
      const sameDigest = wanted !== null && [status?.imageID, status?.image, container.image].some((v) => digestOf(v) === wanted);
      if (!sameRef && !sameDigest) {
        return no(`container ${target.container} runs image ${JSON.stringify(container.image)}, the finding names ${JSON.stringify(target.image)}: not the pod the finding names`);
      }
      checks.push(`image matches (${sameRef ? 'reference' : 'digest'})`);
      corroborated = true;
    }
  }
  const eventTime = plan.finding.eventTime ? Date.parse(plan.finding.eventTime) : NaN;
  const created = pod.metadata.creationTimestamp ? Date.parse(pod.metadata.creationTimestamp) : NaN;
  if (!Number.isNaN(eventTime) && !Number.isNaN(created)) {
    if (created > eventTime) {
      return no(`pod was created at ${pod.metadata.creationTimestamp}, after the finding's event (${plan.finding.eventTime}): a replacement with the same name`);
    }
    checks.push('pod existed at the finding time');
  } else {
    missing.push(Number.isNaN(eventTime) ? 'the finding has no usable eventTime' : 'the pod has no creationTimestamp');
  }
  const live = pod.spec?.nodeName ?? null;
  if (target.node !== null && live !== null && live !== target.node) {
    const text = `pod runs on node ${live}, the finding names node ${target.node}`;
    if (policy.guards.requireNodeMatch) return no(`${text}: not the pod the finding names (guards.requireNodeMatch)`);
    warnings.push(`${text}; acting on ${live} (guards.requireNodeMatch is off)`);
  } else if (live !== null) {
    checks.push(`pod on node ${live}`);
    if (target.node !== null) corroborated = true;
  }
  if (target.container !== null && !corroborated) missing.push('neither the image nor the node the finding names agrees with the pod');
  if (missing.length > 0) return { mismatch: null, unverified: `identity not verified (${missing.join('; ')}): report only for this pod` };
  checks.push('identity verified (container, image or node, existed at the event time)');
  return { mismatch: null, unverified: null };
}

export interface PreflightOptions {
  /** The plan has an action that removes the pod (ClusterAction.removesPod): the replica floor applies. */
  removesPod: boolean;
}

export async function preflight(kube: KubeApi, plan: Plan, policy: Policy, options: PreflightOptions): Promise<PreflightResult> {
  const target = plan.target!;
  const result: PreflightResult = {
    pod: null,
    node: null,
    nodeName: null,
    ownerChain: [],
    checks: [],
    warnings: [],
    all: null,
    podBlock: null,
    removalBlock: null,
    nodeBlock: null,
  };
  const namespace = target.namespace;
  const name = target.pod;
  let nodeRead: Promise<Node | null> | undefined;

  // The plan drops protected namespaces already; a policy edit between plan and act must not matter.
  if (namespace !== null && isProtectedNamespace(policy, namespace)) {
    result.all = { status: 'skipped', reason: `namespace ${namespace} is protected` };
    return result;
  }
  if (namespace === null || name === null) {
    result.podBlock = { status: 'skipped', reason: 'the finding names no pod' };
    result.removalBlock = result.podBlock;
  } else if (!isDns1123Label(namespace) || !isDns1123Subdomain(name)) {
    // Never sent: an invalid name in a URL path can address another object (`..`).
    result.podBlock = { status: 'skipped', reason: `the finding's pod ${JSON.stringify(`${namespace}/${name}`.slice(0, 120))} is not a valid Kubernetes name: not looked up` };
    result.removalBlock = result.podBlock;
  } else {
    const pod = await kube.readPod(namespace, name);
    if (pod === null) {
      result.checks.push(`pod ${namespace}/${name} not found`);
      result.podBlock = { status: 'skipped', reason: `pod ${namespace}/${name} no longer exists` };
      result.removalBlock = { status: 'already', reason: `pod ${namespace}/${name} is already gone` };
    } else {
      result.pod = pod;
      result.checks.push(`pod ${namespace}/${name} found (uid ${pod.metadata.uid})`);
      const identity = identify(plan, pod, policy, result.checks, result.warnings);
      const notThePod = identity.mismatch ?? identity.unverified;
      if (notThePod !== null) {
        result.all = { status: 'skipped', reason: notThePod };
        return result;
      }
      const optOut = policy.guards.optOutAnnotation;
      const annotations = pod.metadata.annotations ?? {};
      const optedOut = Object.hasOwn(annotations, optOut) ? annotations[optOut] : undefined;
      if (optedOut !== undefined && optedOut !== 'false') {
        result.all = { status: 'skipped', reason: `pod has the opt-out annotation ${optOut}` };
        return result;
      }
      if (releasedOccurrences(pod).includes(occurrenceOf(plan))) {
        // A late redelivery of this occurrence (before its claim, with the ledger down, or after the ledger
        // record expired) must not re-quarantine a pod someone released. The id names the occurrence
        // (sha256 of the SCC finding name and its eventTime): writing it ahead of a finding means knowing
        // the SCC finding's name, and a new occurrence (the shell again, a new eventTime) is a new id.
        result.all = { status: 'skipped', reason: `this finding occurrence was released on this pod (${RELEASED_ANNOTATION}): not applied again` };
        return result;
      }
      if (pod.metadata.deletionTimestamp) {
        result.podBlock = { status: 'skipped', reason: `pod is terminating (deletionTimestamp ${pod.metadata.deletionTimestamp})` };
        result.removalBlock = { status: 'already', reason: `pod is already terminating (deletionTimestamp ${pod.metadata.deletionTimestamp})` };
      }
      // The node does not depend on the owners: read it alongside them, one round trip to the
      // API server fewer before containment. Handled here too, so that a failing owner read
      // cannot leave its rejection unobserved; awaited below, where it is still thrown.
      const nodeName = pod.spec?.nodeName ?? target.node;
      if (nodeName !== null && isDns1123Subdomain(nodeName)) {
        nodeRead = kube.readNode(nodeName);
        nodeRead.catch(() => undefined);
      }
      await readOwners(kube, pod, policy, result);
      if (pod.spec?.hostNetwork) result.warnings.push('pod uses hostNetwork: a NetworkPolicy does not isolate it');
      // The floor matters only to removal; a plan without one spares the list call before containment.
      if (options.removesPod && result.removalBlock === null && result.podBlock === null) await checkReplicaFloor(kube, pod, policy, result);
    }
  }

  result.nodeName = result.pod?.spec?.nodeName ?? target.node;
  if (result.pod === null && target.node !== null) {
    if (policy.guards.cordonWhenPodGone) {
      result.warnings.push(`pod not found: node ${target.node} comes from the finding, not from a verified pod (guards.cordonWhenPodGone)`);
    } else {
      // Nothing on the cluster ties the finding's node to the finding any more.
      result.nodeBlock = { status: 'skipped', reason: `no verified pod runs on node ${target.node}: the node is named only by the finding (guards.cordonWhenPodGone is off)` };
    }
  }
  if (result.nodeBlock !== null) {
    // decided above
  } else if (result.nodeName === null) {
    result.nodeBlock = { status: 'skipped', reason: 'no node is known for this pod' };
  } else if (!isDns1123Subdomain(result.nodeName)) {
    result.nodeBlock = { status: 'skipped', reason: `node name ${JSON.stringify(result.nodeName.slice(0, 80))} is not a valid Kubernetes name: not looked up` };
  } else {
    result.node = await (nodeRead ?? kube.readNode(result.nodeName));
    if (result.node === null) result.nodeBlock = { status: 'skipped', reason: `node ${result.nodeName} no longer exists` };
    else result.checks.push(`node ${result.nodeName} found`);
  }
  return result;
}

async function readOwners(kube: KubeApi, pod: Pod, policy: Policy, result: PreflightResult): Promise<void> {
  const controller = pod.metadata.ownerReferences?.find((o) => o.controller) ?? pod.metadata.ownerReferences?.[0];
  const isMirror = pod.metadata.annotations?.[MIRROR_ANNOTATION] !== undefined || controller?.kind === 'Node';
  if (isMirror) {
    result.ownerChain.push('static pod (mirror)');
    if (policy.guards.skipStaticPods) {
      result.podBlock ??= { status: 'skipped', reason: 'static (mirror) pod: the kubelet owns it, the API cannot remove or relabel it for long (guards.skipStaticPods)' };
      result.removalBlock ??= result.podBlock;
    }
    return;
  }
  if (!controller) {
    result.ownerChain.push('no controller (bare pod)');
    return;
  }
  result.ownerChain.push(`${controller.kind}/${controller.name}`);
  if (controller.kind === 'DaemonSet' && policy.guards.skipDaemonSetPods) {
    result.podBlock ??= { status: 'skipped', reason: `DaemonSet pod (${controller.name}): it would be recreated on the same node (guards.skipDaemonSetPods)` };
    result.removalBlock ??= result.podBlock;
  }
  if (controller.kind === 'ReplicaSet') {
    const rs = await kube.readReplicaSet(pod.metadata.namespace!, controller.name);
    const rsOwner = rs?.metadata.ownerReferences?.find((o) => o.controller);
    if (rsOwner) result.ownerChain.push(`${rsOwner.kind}/${rsOwner.name}`);
    if (rs?.metadata.uid !== undefined && rs.metadata.uid !== controller.uid) {
      result.warnings.push(`ReplicaSet ${controller.name} was recreated (uid differs from the pod's owner reference)`);
    }
    result.checks.push(`owner chain: ${result.ownerChain.join(' → ')}`);
    result.replicaSelector = selectorString(rs?.spec?.selector?.matchLabels);
  } else {
    result.checks.push(`owner: ${result.ownerChain.join(' → ')}`);
  }
}

/** For evict/delete: the pod's controller keeps ≥ replicaFloor other ready pods. */
async function checkReplicaFloor(kube: KubeApi, pod: Pod, policy: Policy, result: PreflightResult): Promise<void> {
  const floor = policy.guards.replicaFloor;
  if (floor === 0) return;
  const controller = pod.metadata.ownerReferences?.find((o) => o.controller);
  if (!controller) {
    result.removalBlock = { status: 'skipped', reason: `pod has no controller: removing it leaves 0 replicas (guards.replicaFloor ${floor})` };
    return;
  }
  const selector = result.replicaSelector;
  const siblings = await kube.listPods(pod.metadata.namespace!, selector);
  const others = siblings.filter(
    (p) =>
      p.metadata.uid !== pod.metadata.uid &&
      !p.metadata.deletionTimestamp &&
      p.metadata.ownerReferences?.some((o) => o.uid === controller.uid) &&
      isReady(p),
  ).length;
  if (others < floor) {
    result.removalBlock = {
      status: 'skipped',
      reason: `${controller.kind} ${controller.name} has ${others} other ready pod(s), fewer than the replica floor ${floor}`,
    };
  } else {
    result.checks.push(`replica floor: ${others} other ready pod(s) ≥ ${floor}`);
  }
}
