// label-pod: marks the pod as quarantined for people and tools (kubectl get pods
// -l …). Only adds: a label key the pod already carries with another value is
// left alone (it could be a selector label; changing it would orphan the pod
// from its ReplicaSet, which would then start a replacement).
import type { ActionContext, AppliedOutcome, ClusterAction, Inspection } from './action.ts';
import { AUDIT_EVENTS_RBAC } from './audit-events.ts';
import { ANNOTATION_PREFIX, FINDING_ANNOTATION, podRef } from './action.ts';
import { describeKubeError, permanentOrThrow } from './errors.ts';

export const QUARANTINED_AT_ANNOTATION = `${ANNOTATION_PREFIX}/quarantined-at`;

function conflict(ctx: ActionContext): string | null {
  const { key, value } = ctx.policy.actionSettings.quarantineLabel;
  const current = ctx.pod?.metadata.labels?.[key];
  return current !== undefined && current !== value ? `label ${key} is already set to ${JSON.stringify(current)}: not changed` : null;
}

export const labelPod: ClusterAction = {
  type: 'label-pod',
  rbac: [...AUDIT_EVENTS_RBAC, { apiGroup: '', resource: 'pods', verbs: ['patch'] }],
  removesPod: false,
  podScoped: true,

  async inspect(ctx): Promise<Inspection> {
    const { key, value } = ctx.policy.actionSettings.quarantineLabel;
    const pod = ctx.pod!;
    const checks = [`quarantine label ${key}=${value}`];
    const clash = conflict(ctx);
    if (clash) checks.push(clash);
    const already = pod.metadata.labels?.[key] === value ? `pod ${podRef(pod)} already has ${key}=${value}` : null;
    return { already, intent: `would add label ${key}=${value} and annotations to pod ${podRef(pod)}`, checks };
  },

  async apply(ctx): Promise<AppliedOutcome> {
    const { key, value } = ctx.policy.actionSettings.quarantineLabel;
    const pod = ctx.pod!;
    const clash = conflict(ctx);
    if (clash) return { status: 'failed', reason: clash };
    try {
      await ctx.kube.patchPodMetadata(pod.metadata.namespace!, pod.metadata.name!, pod.metadata.uid!, {
        labels: { [key]: value },
        annotations: {
          [FINDING_ANNOTATION]: ctx.incident.findingName,
          [QUARANTINED_AT_ANNOTATION]: ctx.now.toISOString(),
        },
      });
    } catch (error) {
      const e = permanentOrThrow(error, 'label pod');
      if (e.status === 404) return { status: 'failed', reason: `pod ${podRef(pod)} disappeared before it could be labelled` };
      if (e.status === 409 || (e.status === 422 && /metadata\.uid/.test(e.message))) {
        return { status: 'failed', reason: `pod ${podRef(pod)} was replaced (UID changed): the new pod was not labelled` };
      }
      return { status: 'failed', reason: `label pod: ${describeKubeError(e)}`, details: { httpStatus: e.status } };
    }
    return { status: 'done', reason: `labelled pod ${podRef(pod)} ${key}=${value}`, details: { label: `${key}=${value}` } };
  },
};
