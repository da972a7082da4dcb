// delete-pod: delete with the policy's grace period and a UID precondition, so
// only the pod the preflight verified can go (a same-name replacement → 409).
// 404 means it is already gone: done by someone else, reported as already.
import type { AppliedOutcome, ClusterAction, Inspection } from './action.ts';
import { AUDIT_EVENTS_RBAC } from './audit-events.ts';
import { podRef } from './action.ts';
import { describeKubeError, permanentOrThrow } from './errors.ts';

export const deletePod: ClusterAction = {
  type: 'delete-pod',
  rbac: [...AUDIT_EVENTS_RBAC, { apiGroup: '', resource: 'pods', verbs: ['delete'] }],
  removesPod: true,
  podScoped: true,

  async inspect(ctx): Promise<Inspection> {
    const pod = ctx.pod!;
    const grace = ctx.policy.actionSettings.deleteGracePeriodSeconds;
    return { already: null, intent: `would delete pod ${podRef(pod)} (uid ${pod.metadata.uid}, grace ${grace}s)`, checks: [] };
  },

  async apply(ctx): Promise<AppliedOutcome> {
    const pod = ctx.pod!;
    const grace = ctx.policy.actionSettings.deleteGracePeriodSeconds;
    try {
      await ctx.kube.deletePod(pod.metadata.namespace!, pod.metadata.name!, pod.metadata.uid!, grace);
    } catch (error) {
      const e = permanentOrThrow(error, 'delete pod');
      if (e.status === 404) return { status: 'already', reason: `pod ${podRef(pod)} is already gone` };
      if (e.status === 409) {
        return { status: 'failed', reason: `pod ${podRef(pod)} was replaced (UID changed): the new pod was not deleted`, details: { httpStatus: 409 } };
      }
      return { status: 'failed', reason: `delete pod: ${describeKubeError(e)}`, details: { httpStatus: e.status } };
    }
    return { status: 'done', reason: `deleted pod ${podRef(pod)} (grace ${grace}s)`, details: { uid: pod.metadata.uid ?? null, gracePeriodSeconds: grace } };
  },
};
