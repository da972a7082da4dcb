// isolate-pod: cut the pod off the network, and say truthfully whether that worked.
//
// 1. A deny-all NetworkPolicy (both policy types, no rules) selecting a
//    per-incident label (scc-responder.dev/incident=<id>) that this action puts
//    on the pod itself: it never depends on label-pod, never catches another pod.
// 2. NetworkPolicies are additive: any other policy that selects the pod and has
//    a rule still admits that traffic. The namespace's policies are read and
//    evaluated (matchLabels, matchExpressions, `{}`); the pod is detached from
//    the allowing ones by removing the labels they select on (remembered in an
//    annotation) and, where the policy opts in, excluded from the ones it cannot
//    be detached from (`incident NotIn [id]` added to their podSelector).
// 3. The outcome is `done` only when, after the writes, no selecting policy
//    allows anything and the cluster enforces NetworkPolicy; `partial` names what
//    still admits traffic (or that enforcement is unknown); `ineffective` when
//    NetworkPolicy does not apply at all (enforcement off, hostNetwork pod).
// Nothing pre-placed is trusted: a same-named policy counts only if it is our
// deny-all for this pod's UID, and an incident label already on the pod is
// reused only when our policy for it names this pod and no other pod carries it.
import type { ActionContext, AppliedOutcome, ClusterAction, Inspection } from './action.ts';
import { ANNOTATION_PREFIX, FINDING_ANNOTATION, INCIDENT_LABEL, podRef } from './action.ts';
import { AUDIT_EVENTS_RBAC } from './audit-events.ts';
import { classifyKubeError, describeKubeError, permanentOrThrow } from './errors.ts';
import { KubeApiError, type ClusterFacts, type KubeApi, type LabelSelectorRequirement, type NetworkPolicy, type Pod } from './kube-api.ts';
import { admittingPolicies, describeAdmitting, planDetach, type AdmittingPolicy } from './network-policy.ts';

export const POLICY_POD_ANNOTATION = `${ANNOTATION_PREFIX}/pod`;
export const POLICY_POD_UID_ANNOTATION = `${ANNOTATION_PREFIX}/pod-uid`;
/** On the pod: the labels isolation removed, as a JSON object, so a release can put them back. */
export const DETACHED_LABELS_ANNOTATION = `${ANNOTATION_PREFIX}/detached-labels`;
/** On a foreign policy: the incidents whose pods it was made to exclude (comma-separated), for release. */
export const EXCLUDED_INCIDENTS_ANNOTATION = `${ANNOTATION_PREFIX}/excluded-incidents`;
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';

const INCIDENT_ID = /^[a-z0-9]{1,40}$/;

export function networkPolicyName(incidentId: string): string {
  return `scc-isolate-${incidentId}`;
}

export function isolationPolicy(ctx: ActionContext, incidentId: string): NetworkPolicy {
  const pod = ctx.pod!;
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: networkPolicyName(incidentId),
      namespace: pod.metadata.namespace!,
      labels: { [MANAGED_BY_LABEL]: 'scc-responder', [INCIDENT_LABEL]: incidentId },
      annotations: { [FINDING_ANNOTATION]: ctx.incident.findingName, [POLICY_POD_ANNOTATION]: pod.metadata.name!, [POLICY_POD_UID_ANNOTATION]: pod.metadata.uid! },
    },
    spec: {
      podSelector: { matchLabels: { [INCIDENT_LABEL]: incidentId } },
      // Both types with no rules: all ingress and all egress (DNS included) denied.
      policyTypes: ['Ingress', 'Egress'],
    },
  };
}

/** Why a policy is not our deny-all for this pod, or null when it is. */
export function notOurDenyAll(policy: NetworkPolicy, incidentId: string, podUid: string): string | null {
  const selector = policy.spec?.podSelector ?? {};
  const matchLabels = selector.matchLabels ?? {};
  if (policy.metadata.labels?.[MANAGED_BY_LABEL] !== 'scc-responder') return 'not managed by scc-responder';
  if (policy.metadata.annotations?.[POLICY_POD_UID_ANNOTATION] !== podUid) return 'made for another pod (pod-uid annotation differs)';
  const keys = Object.keys(matchLabels);
  if (keys.length !== 1 || matchLabels[INCIDENT_LABEL] !== incidentId || (selector.matchExpressions?.length ?? 0) > 0) {
    return `its podSelector is not ${INCIDENT_LABEL}=${incidentId}`;
  }
  const types = policy.spec.policyTypes ?? [];
  if (!types.includes('Ingress') || !types.includes('Egress')) return 'it does not cover both Ingress and Egress';
  if ((policy.spec.ingress?.length ?? 0) > 0 || (policy.spec.egress?.length ?? 0) > 0) return 'it has allow rules';
  return null;
}

export interface IsolationEffect {
  status: 'done' | 'partial' | 'ineffective';
  /** What keeps it from being done (null when done). */
  why: string | null;
  remaining: AdmittingPolicy[];
}

/** What the policies in force do to a pod with these labels, on a cluster with these facts. */
export function isolationEffect(policies: readonly NetworkPolicy[], labels: Readonly<Record<string, string>>, facts: ClusterFacts, hostNetwork: boolean): IsolationEffect {
  const remaining = admittingPolicies(policies, labels);
  if (facts.networkPolicy === 'not-enforced') {
    return { status: 'ineffective', why: `the cluster does not enforce NetworkPolicy (${facts.networkPolicySource}): the policy is stored and does nothing`, remaining };
  }
  if (hostNetwork) return { status: 'ineffective', why: 'hostNetwork pod: NetworkPolicy does not apply to it', remaining };
  if (remaining.length > 0) return { status: 'partial', why: `still admitted by NetworkPolicy ${describeAdmitting(remaining)}`, remaining };
  if (facts.networkPolicy === 'unknown') {
    return { status: 'partial', why: `NetworkPolicy enforcement on this cluster is unknown (${facts.networkPolicySource})`, remaining };
  }
  return { status: 'done', why: null, remaining };
}

interface Exclusion {
  name: string;
  resourceVersion: string;
  matchExpressions: LabelSelectorRequirement[];
  annotation: string;
}

interface Prepared {
  incidentId: string;
  policyName: string;
  /** A policy already has our name: ours (kept) or not (refused). */
  existing: 'none' | 'ours' | { foreign: string };
  detach: Record<string, string>;
  exclude: Exclusion[];
  effect: IsolationEffect;
  /** True when the pod already carries the label and nothing is left to detach. */
  podDone: boolean;
}

/**
 * The incident id that isolates this pod: the one already on it when an earlier
 * finding isolated it (a burst of findings on one pod converges on one policy),
 * but only if that label is provably ours; else this finding's.
 */
async function isolatingIncident(ctx: ActionContext, policies: readonly NetworkPolicy[], checks: string[]): Promise<string> {
  const pod = ctx.pod!;
  const current = pod.metadata.labels?.[INCIDENT_LABEL];
  if (current === undefined || current === ctx.incident.id) return ctx.incident.id;
  if (!INCIDENT_ID.test(current)) {
    checks.push(`pod carries an unusable ${INCIDENT_LABEL} label: replaced with ${ctx.incident.id}`);
    return ctx.incident.id;
  }
  const policy = policies.find((p) => p.metadata.name === networkPolicyName(current));
  const notOurs = policy ? notOurDenyAll(policy, current, pod.metadata.uid!) : `no NetworkPolicy ${networkPolicyName(current)}`;
  if (notOurs === null) {
    const carriers = await ctx.kube.listPods(pod.metadata.namespace!, `${INCIDENT_LABEL}=${current}`);
    if (carriers.every((p) => p.metadata.uid === pod.metadata.uid)) {
      checks.push(`pod already isolated for incident ${current}: that NetworkPolicy is kept`);
      return current;
    }
    checks.push(`${INCIDENT_LABEL}=${current} is carried by ${carriers.length} pods: not reused`);
  } else {
    checks.push(`pod carries ${INCIDENT_LABEL}=${current}, which this responder did not place for this pod (${notOurs}): not trusted, replaced`);
  }
  return ctx.incident.id;
}

function withExclusion(policy: NetworkPolicy, incidentId: string): Exclusion {
  const existing = policy.spec.podSelector?.matchExpressions ?? [];
  const listed = policy.metadata.annotations?.[EXCLUDED_INCIDENTS_ANNOTATION];
  const incidents = new Set((listed ?? '').split(',').filter((s) => s !== ''));
  incidents.add(incidentId);
  return {
    name: policy.metadata.name!,
    resourceVersion: policy.metadata.resourceVersion ?? '',
    matchExpressions: [...existing, { key: INCIDENT_LABEL, operator: 'NotIn', values: [incidentId] }],
    annotation: [...incidents].sort().join(','),
  };
}

async function prepare(ctx: ActionContext, checks: string[]): Promise<Prepared> {
  const pod = ctx.pod!;
  const settings = ctx.policy.actionSettings.isolation;
  const policies = await ctx.kube.listNetworkPolicies(pod.metadata.namespace!);
  const incidentId = await isolatingIncident(ctx, policies, checks);
  const policyName = networkPolicyName(incidentId);
  const same = policies.find((p) => p.metadata.name === policyName);
  const foreign = same ? notOurDenyAll(same, incidentId, pod.metadata.uid!) : null;
  const existing: Prepared['existing'] = same === undefined ? 'none' : foreign === null ? 'ours' : { foreign };

  const labels = { ...(pod.metadata.labels ?? {}), [INCIDENT_LABEL]: incidentId };
  const hostNetwork = pod.spec?.hostNetwork === true;
  let detach: Record<string, string> = {};
  let exclude: Exclusion[] = [];
  // Detaching has side effects (Services, ReplicaSet): only where it buys isolation.
  if (ctx.facts.networkPolicy !== 'not-enforced' && !hostNetwork) {
    const keep = new Set([INCIDENT_LABEL, ctx.policy.actionSettings.quarantineLabel.key, ...settings.keepLabels]);
    const plan = settings.detachFromAllowPolicies ? planDetach(policies, labels, keep) : { remove: {}, remaining: admittingPolicies(policies, labels) };
    detach = plan.remove;
    if (settings.excludeFromAllowPolicies) {
      const names = new Set(plan.remaining.map((p) => p.name));
      exclude = policies.filter((p) => names.has(p.metadata.name ?? '')).map((p) => withExclusion(p, incidentId));
    }
  }
  const after = projected(policies, labels, detach, exclude);
  const effect = isolationEffect(after.policies, after.labels, ctx.facts, hostNetwork);
  const podDone = pod.metadata.labels?.[INCIDENT_LABEL] === incidentId && Object.keys(detach).length === 0;
  checks.push(`${policies.length} NetworkPolicy object(s) in namespace ${pod.metadata.namespace}`);
  checks.push(`NetworkPolicy enforcement: ${ctx.facts.networkPolicy} (${ctx.facts.networkPolicySource})`);
  return { incidentId, policyName, existing, detach, exclude, effect, podDone };
}

/** The policies and labels as they will be once the planned writes land. */
function projected(policies: readonly NetworkPolicy[], labels: Record<string, string>, detach: Record<string, string>, exclude: readonly Exclusion[]) {
  const after = { ...labels };
  for (const k of Object.keys(detach)) delete after[k];
  const patched = policies.map((p) => {
    const ex = exclude.find((e) => e.name === p.metadata.name);
    return ex ? { ...p, spec: { ...p.spec, podSelector: { ...p.spec.podSelector, matchExpressions: ex.matchExpressions } } } : p;
  });
  return { policies: patched, labels: after };
}

function describePlan(p: Prepared, pod: Pod): string {
  const parts = [
    p.existing === 'ours' ? `keep NetworkPolicy ${p.policyName}` : `create NetworkPolicy ${p.policyName} (deny all ingress and egress)`,
    p.podDone ? `pod ${podRef(pod)} already carries ${INCIDENT_LABEL}=${p.incidentId}` : `label pod ${podRef(pod)} ${INCIDENT_LABEL}=${p.incidentId}`,
  ];
  const removed = Object.keys(p.detach);
  if (removed.length > 0) {
    parts.push(`remove label(s) ${removed.join(', ')} that allow policies select on (the pod also leaves the Services and ReplicaSet selecting them; the ReplicaSet starts a replacement)`);
  }
  if (p.exclude.length > 0) parts.push(`exclude the pod from NetworkPolicy ${p.exclude.map((e) => e.name).join(', ')}`);
  return parts.join('; ');
}

function verdict(effect: IsolationEffect): string {
  return effect.status === 'done' ? 'the pod is isolated' : `the pod is NOT isolated: ${effect.why}`;
}

export const isolatePod: ClusterAction = {
  type: 'isolate-pod',
  rbac: [
    ...AUDIT_EVENTS_RBAC,
    { apiGroup: 'networking.k8s.io', resource: 'networkpolicies', verbs: ['create', 'get', 'list', 'patch'] },
    { apiGroup: '', resource: 'pods', verbs: ['patch', 'list'] },
  ],
  removesPod: false,
  podScoped: true,

  async inspect(ctx): Promise<Inspection> {
    const checks = [`deny-all NetworkPolicy selects only pods labelled ${INCIDENT_LABEL}=<incident>`];
    const prepared = await prepare(ctx, checks);
    if (typeof prepared.existing === 'object') {
      checks.push(`NetworkPolicy ${prepared.policyName} exists and is not this responder's deny-all for this pod: ${prepared.existing.foreign}`);
    }
    const intent =
      typeof prepared.existing === 'object'
        ? `would refuse: NetworkPolicy ${prepared.policyName} already exists and is not this responder's (${prepared.existing.foreign})`
        : `would ${describePlan(prepared, ctx.pod!)}; then ${verdict(prepared.effect)}`;
    return { already: null, intent, checks, prepared };
  },

  async apply(ctx, inspection): Promise<AppliedOutcome> {
    const pod = ctx.pod!;
    const p = inspection.prepared as Prepared;
    const details: Record<string, string | boolean> = {
      networkPolicy: p.policyName,
      enforcement: ctx.facts.networkPolicy,
      hostNetwork: pod.spec?.hostNetwork === true,
    };
    if (typeof p.existing === 'object') {
      return { status: 'failed', reason: `NetworkPolicy ${p.policyName} already exists and is not this responder's deny-all for this pod (${p.existing.foreign}): not trusted as isolation`, details };
    }
    let wrote = false;
    const written: string[] = [];
    // A fault that can heal, after something was written: pending (retried), with what landed said and
    // marked, so the delivery reports it now instead of retrying silently behind it.
    const pendingAfterWrites = (error: unknown, what: string): AppliedOutcome | null => {
      if (written.length === 0 || !(error instanceof KubeApiError) || classifyKubeError(error) !== 'transient') return null;
      return { status: 'pending', reason: `${written.join('; ')}; then ${what}: ${describeKubeError(error)} (retried on redelivery)`, details: { ...details, wrote: true } };
    };
    if (p.existing === 'none') {
      try {
        await ctx.kube.createNetworkPolicy(pod.metadata.namespace!, isolationPolicy(ctx, p.incidentId));
        wrote = true;
        written.push(`created NetworkPolicy ${p.policyName}`);
      } catch (error) {
        const e = permanentOrThrow(error, 'create NetworkPolicy');
        if (e.status !== 409) return { status: 'failed', reason: `create NetworkPolicy ${p.policyName}: ${describeKubeError(e)}`, details: { ...details, httpStatus: e.status } };
        // Created since we listed: trusted only after reading it back.
        const raced = await readPolicy(ctx.kube, pod.metadata.namespace!, p.policyName);
        const notOurs = raced === null ? 'it vanished' : notOurDenyAll(raced, p.incidentId, pod.metadata.uid!);
        if (notOurs !== null) return { status: 'failed', reason: `NetworkPolicy ${p.policyName} appeared and is not this responder's deny-all (${notOurs}): not trusted as isolation`, details };
      }
    }
    const notExcluded: string[] = [];
    for (const ex of p.exclude) {
      try {
        await ctx.kube.patchNetworkPolicySelector(pod.metadata.namespace!, ex.name, ex.resourceVersion, ex.matchExpressions, {
          [EXCLUDED_INCIDENTS_ANNOTATION]: ex.annotation,
        });
        wrote = true;
        written.push(`excluded the pod from NetworkPolicy ${ex.name}`);
      } catch (error) {
        const pending = pendingAfterWrites(error, `exclude the pod from NetworkPolicy ${ex.name}`);
        if (pending) return pending;
        const e = permanentOrThrow(error, `exclude pod from NetworkPolicy ${ex.name}`);
        // Gone (404) no longer admits anything; changed since read (409) or refused: still admits.
        if (e.status !== 404) notExcluded.push(`${ex.name} (${describeKubeError(e)})`);
      }
    }
    if (!p.podDone) {
      const labels: Record<string, string | null> = { [INCIDENT_LABEL]: p.incidentId };
      for (const k of Object.keys(p.detach)) labels[k] = null;
      const annotations: Record<string, string> = {};
      if (Object.keys(p.detach).length > 0) annotations[DETACHED_LABELS_ANNOTATION] = JSON.stringify(mergedDetached(pod, p.detach));
      try {
        await ctx.kube.patchPodMetadata(pod.metadata.namespace!, pod.metadata.name!, pod.metadata.uid!, {
          labels,
          ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
        });
        wrote = true;
      } catch (error) {
        const pending = pendingAfterWrites(error, `label pod ${podRef(pod)} for isolation`);
        if (pending) return pending;
        const e = permanentOrThrow(error, 'label pod for isolation');
        const why =
          e.status === 409 || (e.status === 422 && /metadata\.uid/.test(e.message))
            ? 'the pod was replaced (UID changed)'
            : e.status === 404
              ? 'the pod disappeared'
              : describeKubeError(e);
        return { status: 'failed', reason: `NetworkPolicy ${p.policyName} exists but the pod is not selected: ${why}`, details };
      }
    }
    if (Object.keys(p.detach).length > 0) details.detachedLabels = Object.keys(p.detach).join(',');
    if (p.exclude.length > 0) details.excludedFrom = p.exclude.map((e) => e.name).filter((n) => !notExcluded.some((x) => x.startsWith(`${n} `))).join(',');
    const effect: IsolationEffect =
      notExcluded.length > 0
        ? { status: p.effect.status === 'ineffective' ? 'ineffective' : 'partial', why: `could not exclude the pod from NetworkPolicy ${notExcluded.join(', ')}`, remaining: p.effect.remaining }
        : p.effect;
    return isolationOutcome(effect, `pod ${podRef(pod)} with NetworkPolicy ${p.policyName}`, wrote, details);
  },
};

function mergedDetached(pod: Pod, detach: Record<string, string>): Record<string, string> {
  let earlier: Record<string, string> = {};
  try {
    const parsed: unknown = JSON.parse(pod.metadata.annotations?.[DETACHED_LABELS_ANNOTATION] ?? '{}');
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) earlier = parsed as Record<string, string>;
  } catch {
    // not ours to trust: replaced by what this run removed
  }
  return { ...earlier, ...detach };
}

async function readPolicy(kube: KubeApi, namespace: string, name: string): Promise<NetworkPolicy | null> {
  try {
    return await kube.readNetworkPolicy(namespace, name);
  } catch (error) {
    permanentOrThrow(error, `read NetworkPolicy ${name}`);
    return null;
  }
}

export function isolationOutcome(effect: IsolationEffect, what: string, wrote: boolean, details: AppliedOutcome['details']): AppliedOutcome {
  if (effect.status === 'done') {
    return { status: wrote ? 'done' : 'already', reason: `${wrote ? 'isolated' : 'already isolated:'} ${what} (deny all ingress and egress; no other policy admits traffic)`, details };
  }
  const out: Record<string, string | number | boolean | null> = { ...details };
  if (effect.remaining.length > 0) out.stillAdmittedBy = effect.remaining.map((r) => r.name).join(',');
  return { status: effect.status, reason: `${what}: the pod is NOT isolated: ${effect.why}`, details: out };
}

/** Read-back after every write: what the cluster's policies do to the pod now. */
export async function verifyIsolation(kube: KubeApi, pod: Pod, incidentId: string, facts: ClusterFacts): Promise<{ effect: IsolationEffect; problem: string | null }> {
  const namespace = pod.metadata.namespace!;
  const policies = await kube.listNetworkPolicies(namespace);
  const labels = pod.metadata.labels ?? {};
  const ours = policies.find((p) => p.metadata.name === networkPolicyName(incidentId));
  const notOurs = ours ? notOurDenyAll(ours, incidentId, pod.metadata.uid!) : `NetworkPolicy ${networkPolicyName(incidentId)} is gone`;
  const problem =
    notOurs !== null
      ? notOurs
      : labels[INCIDENT_LABEL] !== incidentId
        ? `the pod no longer carries ${INCIDENT_LABEL}=${incidentId}`
        : null;
  return { effect: isolationEffect(policies, labels, facts, pod.spec?.hostNetwork === true), problem };
}
