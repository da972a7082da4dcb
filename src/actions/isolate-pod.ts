// isolate-pod: a deny-all NetworkPolicy (no Ingress and no Egress rule) that
// selects only this pod. Selection is by a per-incident label that this action
// puts on the pod itself (scc-responder.dev/incident=<finding id>), so isolation
// never depends on label-pod being in the plan, and never catches another pod:
// the quarantine label is shared by every quarantined pod in the namespace, the
// incident label is not. The policy is created first and the label added second,
// so the pod is isolated the moment it carries the label.
import type { ActionContext, AppliedOutcome, ClusterAction, Inspection } from './action.ts';
import { FINDING_ANNOTATION, INCIDENT_LABEL, podRef } from './action.ts';
import { describeKubeError, permanentOrThrow } from './errors.ts';
import type { NetworkPolicy } from './kube-api.ts';

export function networkPolicyName(incidentId: string): string {
  return `scc-isolate-${incidentId}`;
}

/**
 * The incident id that isolates this pod: the one already on the pod when an
 * earlier finding isolated it, else this finding's. A burst of findings on one
 * pod then converges on one NetworkPolicy and one label instead of a policy and
 * a relabel per finding (the relabel would also de-select the earlier policy).
 * Re-creating that policy by name (409 = already there) restores it if someone
 * deleted it while leaving the label: the pod stays isolated.
 */
export function isolatingIncident(ctx: ActionContext): string {
  const current = ctx.pod?.metadata.labels?.[INCIDENT_LABEL];
  return current !== undefined && /^[a-z0-9]{1,40}$/.test(current) ? current : ctx.incident.id;
}

export function isolationPolicy(ctx: ActionContext): NetworkPolicy {
  const pod = ctx.pod!;
  const incidentId = isolatingIncident(ctx);
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: networkPolicyName(incidentId),
      namespace: pod.metadata.namespace!,
      labels: { 'app.kubernetes.io/managed-by': 'scc-responder', [INCIDENT_LABEL]: incidentId },
      annotations: { [FINDING_ANNOTATION]: ctx.incident.findingName, 'scc-responder.dev/pod': pod.metadata.name!, 'scc-responder.dev/pod-uid': pod.metadata.uid! },
    },
    spec: {
      podSelector: { matchLabels: { [INCIDENT_LABEL]: incidentId } },
      // Both types with no rules: all ingress and all egress (DNS included) denied.
      policyTypes: ['Ingress', 'Egress'],
    },
  };
}

function hostNetworkNote(ctx: ActionContext): string {
  return ctx.pod?.spec?.hostNetwork ? ' (WARNING: hostNetwork pod — NetworkPolicy does not apply to it)' : '';
}

export const isolatePod: ClusterAction = {
  type: 'isolate-pod',
  rbac: [
    { apiGroup: 'networking.k8s.io', resource: 'networkpolicies', verbs: ['create'] },
    { apiGroup: '', resource: 'pods', verbs: ['patch'] },
  ],
  removesPod: false,
  podScoped: true,

  async inspect(ctx): Promise<Inspection> {
    const pod = ctx.pod!;
    const incidentId = isolatingIncident(ctx);
    const name = networkPolicyName(incidentId);
    const labelled = pod.metadata.labels?.[INCIDENT_LABEL] === incidentId;
    const checks = [
      `NetworkPolicy ${pod.metadata.namespace}/${name} denies all ingress and egress`,
      `selects only pods labelled ${INCIDENT_LABEL}=${incidentId}`,
      labelled
        ? incidentId === ctx.incident.id
          ? 'pod already carries the incident label'
          : `pod already isolated for incident ${incidentId}: that NetworkPolicy is kept`
        : 'pod does not carry the incident label yet',
    ];
    if (pod.spec?.hostNetwork) checks.push('hostNetwork pod: NetworkPolicy does not apply');
    return {
      already: null,
      intent: `would create NetworkPolicy ${name} and label pod ${podRef(pod)} ${INCIDENT_LABEL}=${incidentId}${hostNetworkNote(ctx)}`,
      checks,
    };
  },

  async apply(ctx): Promise<AppliedOutcome> {
    const pod = ctx.pod!;
    const policy = isolationPolicy(ctx);
    const name = policy.metadata.name!;
    let created = true;
    try {
      await ctx.kube.createNetworkPolicy(pod.metadata.namespace!, policy);
    } catch (error) {
      const e = permanentOrThrow(error, 'create NetworkPolicy');
      if (e.status === 409 && e.reason === 'AlreadyExists') created = false;
      else return { status: 'failed', reason: `create NetworkPolicy ${name}: ${describeKubeError(e)}`, details: { httpStatus: e.status } };
    }
    let labelled = false;
    const incidentId = isolatingIncident(ctx);
    if (pod.metadata.labels?.[INCIDENT_LABEL] !== incidentId) {
      try {
        await ctx.kube.patchPodMetadata(pod.metadata.namespace!, pod.metadata.name!, pod.metadata.uid!, {
          labels: { [INCIDENT_LABEL]: incidentId },
        });
        labelled = true;
      } catch (error) {
        const e = permanentOrThrow(error, 'label pod for isolation');
        const why =
          e.status === 409 || (e.status === 422 && /metadata\.uid/.test(e.message))
            ? 'the pod was replaced (UID changed)'
            : e.status === 404
              ? 'the pod disappeared'
              : describeKubeError(e);
        return { status: 'failed', reason: `NetworkPolicy ${name} exists but the pod is not selected: ${why}`, details: { networkPolicy: name } };
      }
    }
    const details = { networkPolicy: name, hostNetwork: pod.spec?.hostNetwork === true };
    if (!created && !labelled) {
      return { status: 'already', reason: `pod ${podRef(pod)} already isolated by NetworkPolicy ${name}${hostNetworkNote(ctx)}`, details };
    }
    return { status: 'done', reason: `isolated pod ${podRef(pod)} with NetworkPolicy ${name} (deny all ingress and egress)${hostNetworkNote(ctx)}`, details };
  },
};
