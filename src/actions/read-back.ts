// After the writes, the cluster is read once more and every outcome that claims
// an effect is checked against it: "done" must be true now, not only when the
// API server answered 200. A pod relabelled under us, a policy deleted, a node
// uncordoned, a pod that is still running after a "successful" delete: each is
// reported, and the outcome is lowered to what is really in force. Read-back
// only lowers: it never turns a failure into a success.
import { isInForce, type ActionOutcome } from '../core/plan/outcome.ts';
import type { Incident } from './action.ts';
import { describeKubeError } from './errors.ts';
import { networkPolicyName, verifyIsolation } from './isolate-pod.ts';
import { KubeApiError, type ClusterFacts, type KubeApi, type Pod } from './kube-api.ts';
import type { PreflightResult } from './preflight.ts';
import { TransientError } from '../core/errors.ts';

export interface ReadBackContext {
  kube: KubeApi;
  pre: PreflightResult;
  incident: Incident;
  facts: ClusterFacts;
  quarantineLabel: { key: string; value: string };
  warnings: string[];
}

const CLAIMS_EFFECT = new Set<ActionOutcome['status']>(['done', 'already', 'partial', 'ineffective']);
const POD_CLAIMS = new Set(['label-pod', 'isolate-pod', 'evict-pod', 'delete-pod']);

function lowered(outcome: ActionOutcome, status: ActionOutcome['status'], why: string): ActionOutcome {
  return { ...outcome, status, reason: `read-back: ${why} (the write had reported: ${outcome.reason})` };
}

export async function readBack(outcomes: ActionOutcome[], ctx: ReadBackContext): Promise<void> {
  const { kube, pre } = ctx;
  const claims = outcomes.map((o, i) => ({ o, i })).filter(({ o }) => CLAIMS_EFFECT.has(o.status));
  if (claims.length === 0) return;
  try {
    const original = pre.pod;
    // No verified pod at preflight (gone already): nothing of it to re-read.
    let live: Pod | null | undefined = original === null ? null : undefined;
    if (original !== null && claims.some(({ o }) => POD_CLAIMS.has(o.type))) {
      const read = await kube.readPod(original.metadata.namespace!, original.metadata.name!);
      // A same-named pod with another UID is a replacement: the verified pod is gone.
      live = read !== null && read.metadata.uid === original.metadata.uid ? read : null;
    }
    for (const { o, i } of claims) {
      outcomes[i] = await check(o, live, ctx);
    }
  } catch (error) {
    if (!(error instanceof KubeApiError) && !(error instanceof TransientError)) throw error;
    const why = error instanceof KubeApiError ? describeKubeError(error) : error.message;
    ctx.warnings.push(`read-back incomplete (${why}): the outcomes are as the writes reported them, not re-read`);
    for (const { o, i } of claims) outcomes[i] = { ...o, reason: `${o.reason} (not re-read: ${why})` };
  }
}

async function check(o: ActionOutcome, live: Pod | null | undefined, ctx: ReadBackContext): Promise<ActionOutcome> {
  const removed = live === null || live?.metadata.deletionTimestamp !== undefined;
  switch (o.type) {
    case 'evict-pod':
    case 'delete-pod':
      if (!isInForce(o.status) || removed) return o;
      return lowered(o, 'failed', 'the pod is still running and not terminating');
    case 'label-pod': {
      if (live === null || live === undefined) return o;
      const { key, value } = ctx.quarantineLabel;
      return live.metadata.labels?.[key] === value ? o : lowered(o, 'failed', `the pod no longer carries ${key}=${value}`);
    }
    case 'isolate-pod': {
      if (live === null || live === undefined) return o;
      const policyName = typeof o.details?.networkPolicy === 'string' ? o.details.networkPolicy : networkPolicyName(ctx.incident.id);
      const incidentId = policyName.replace(/^scc-isolate-/, '');
      const { effect, problem } = await verifyIsolation(ctx.kube, live, incidentId, ctx.facts);
      if (problem !== null) return lowered(o, 'failed', problem);
      const rank = { done: 0, already: 0, partial: 1, ineffective: 2 } as Record<string, number>;
      if ((rank[effect.status] ?? 0) > (rank[o.status] ?? 0)) return lowered(o, effect.status, `the pod is NOT isolated: ${effect.why}`);
      return o;
    }
    case 'cordon-node': {
      if (!isInForce(o.status) || ctx.pre.nodeName === null) return o;
      const node = await ctx.kube.readNode(ctx.pre.nodeName);
      if (node === null) return lowered(o, 'failed', `node ${ctx.pre.nodeName} no longer exists`);
      return node.spec?.unschedulable === true ? o : lowered(o, 'failed', `node ${ctx.pre.nodeName} is schedulable again`);
    }
    default:
      return o;
  }
}
