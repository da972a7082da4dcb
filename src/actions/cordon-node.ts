// cordon-node: spec.unschedulable=true, sent as a JSON merge patch (the SDK's
// default json-patch content type would be refused for an object body), with
// who/why annotations. The patch names no taints: a merge patch replaces lists,
// and the node's taints belong to GKE and the cluster's owners.
import type { AppliedOutcome, ClusterAction, Inspection } from './action.ts';
import { AUDIT_EVENTS_RBAC } from './audit-events.ts';
import { ANNOTATION_PREFIX, FINDING_ANNOTATION } from './action.ts';
import { describeKubeError, permanentOrThrow } from './errors.ts';

export const CORDONED_BY_ANNOTATION = `${ANNOTATION_PREFIX}/cordoned-by`;
export const CORDONED_AT_ANNOTATION = `${ANNOTATION_PREFIX}/cordoned-at`;

export const cordonNode: ClusterAction = {
  type: 'cordon-node',
  rbac: [...AUDIT_EVENTS_RBAC, { apiGroup: '', resource: 'nodes', verbs: ['patch'] }],
  removesPod: false,
  podScoped: false,

  async inspect(ctx): Promise<Inspection> {
    const name = ctx.nodeName!;
    const unschedulable = ctx.node?.spec?.unschedulable === true;
    return {
      already: unschedulable ? `node ${name} is already cordoned` : null,
      intent: `would cordon node ${name} (spec.unschedulable=true; taints untouched)`,
      checks: [`node ${name} ${unschedulable ? 'is' : 'is not'} cordoned`],
    };
  },

  async apply(ctx): Promise<AppliedOutcome> {
    const name = ctx.nodeName!;
    try {
      await ctx.kube.cordonNode(name, {
        [CORDONED_BY_ANNOTATION]: 'scc-responder',
        [CORDONED_AT_ANNOTATION]: ctx.now.toISOString(),
        [FINDING_ANNOTATION]: ctx.incident.findingName,
      });
    } catch (error) {
      const e = permanentOrThrow(error, 'cordon node');
      return { status: 'failed', reason: `cordon node ${name}: ${describeKubeError(e)}`, details: { httpStatus: e.status } };
    }
    return { status: 'done', reason: `cordoned node ${name}`, details: { node: name } };
  },
};
