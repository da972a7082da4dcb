// evict-pod: the Eviction API, so PodDisruptionBudgets are respected. A PDB
// refusal (429 with a DisruptionBudget cause) is a decision, reported as failed
// with the budget's message, never retried. The eviction carries the verified
// pod's UID: a pod recreated under the same name is not touched (409).
import type { AppliedOutcome, ClusterAction, Inspection } from './action.ts';
import { AUDIT_EVENTS_RBAC } from './audit-events.ts';
import { podRef } from './action.ts';
import { classifyKubeError, describeKubeError, permanentOrThrow } from './errors.ts';

export const evictPod: ClusterAction = {
  type: 'evict-pod',
  rbac: [...AUDIT_EVENTS_RBAC, { apiGroup: '', resource: 'pods/eviction', verbs: ['create'] }],
  removesPod: true,
  podScoped: true,

  async inspect(ctx): Promise<Inspection> {
    const pod = ctx.pod!;
    return { already: null, intent: `would evict pod ${podRef(pod)} (uid ${pod.metadata.uid}) through the Eviction API`, checks: [] };
  },

  async apply(ctx): Promise<AppliedOutcome> {
    const pod = ctx.pod!;
    try {
      await ctx.kube.evictPod(pod.metadata.namespace!, pod.metadata.name!, pod.metadata.uid!);
    } catch (error) {
      const e = permanentOrThrow(error, 'evict pod');
      if (e.status === 404) return { status: 'already', reason: `pod ${podRef(pod)} is already gone` };
      if (classifyKubeError(e) === 'disruption-budget') {
        return { status: 'failed', reason: `eviction refused by a PodDisruptionBudget: ${e.message}`, details: { httpStatus: 429, disruptionBudget: true } };
      }
      if (e.status === 409) {
        return { status: 'failed', reason: `pod ${podRef(pod)} was replaced (UID changed): the new pod was not evicted`, details: { httpStatus: 409 } };
      }
      return { status: 'failed', reason: `evict pod: ${describeKubeError(e)}`, details: { httpStatus: e.status } };
    }
    return { status: 'done', reason: `evicted pod ${podRef(pod)}`, details: { uid: pod.metadata.uid ?? null } };
  },
};
