// The shape every action file exports. An action is split in two so dry-run can
// run everything but the write: `inspect` only reads (and says whether the work
// is already done), `apply` makes the one write. Both get plain values (the
// verified pod, the resolved node) apart from the one service (KubeApi).
import { createHash } from 'node:crypto';
import type { ActionOutcome } from '../core/plan/outcome.ts';
import type { Plan } from '../core/plan/plan.ts';
import type { ActionType, Policy } from '../core/policy/policy.ts';
import type { ClusterFacts, KubeApi, Node, Pod } from './kube-api.ts';
import type { RbacNeed } from './rbac.ts';

export interface Incident {
  /** The finding's full name, for annotations. */
  findingName: string;
  /** Short DNS-1123-safe id (from the finding id): names the NetworkPolicy and labels the pod. */
  id: string;
}

export interface ActionContext {
  kube: KubeApi;
  plan: Plan;
  policy: Policy;
  incident: Incident;
  now: Date;
  /** The live pod the preflight verified against the finding (null when the pod is gone). */
  pod: Pod | null;
  /** The node the action concerns: pod.spec.nodeName, or the finding's node when the pod is gone. */
  nodeName: string | null;
  node: Node | null;
  /** What the cluster enforces (NetworkPolicy), from the Container API or the policy's clusters entry. */
  facts: ClusterFacts;
}

export interface Inspection {
  /** Set when nothing is left to do: the reason ("already cordoned"). */
  already: string | null;
  /** What apply would do, for dry-run ("would cordon node X"). */
  intent: string;
  checks: string[];
  /** What inspect worked out from its reads, handed to apply so the write acts on what was checked. */
  prepared?: unknown;
}

export type AppliedOutcome = Pick<ActionOutcome, 'status' | 'reason' | 'details'>;

export interface ClusterAction {
  type: ActionType;
  /** Exactly the Kubernetes permissions apply (and inspect) use. */
  rbac: RbacNeed[];
  /** Removes the pod: evidence snapshots are taken first, the replica floor applies. */
  removesPod: boolean;
  /** Acts on the pod (false: acts on the node). */
  podScoped: boolean;
  inspect(ctx: ActionContext): Promise<Inspection>;
  /** Makes the write. Throws TransientError for faults that heal; returns failed for the rest. */
  apply(ctx: ActionContext, inspection: Inspection): Promise<AppliedOutcome>;
}

export const ANNOTATION_PREFIX = 'scc-responder.dev';
export const INCIDENT_LABEL = `${ANNOTATION_PREFIX}/incident`;
export const FINDING_ANNOTATION = `${ANNOTATION_PREFIX}/finding`;
/**
 * Finding occurrences (ledger key ids: sha256 of finding name + eventTime) released on this pod,
 * newest last, bounded: no later delivery of such an occurrence acts on the pod again.
 */
export const RELEASED_ANNOTATION = `${ANNOTATION_PREFIX}/released-occurrences`;

/**
 * A short id usable as a label value and inside object names. SCC finding ids
 * are 32 lowercase hex/alnum characters; anything else is hashed, never pasted.
 */
export function incidentFor(plan: Plan): Incident {
  return incidentOfFinding(plan.finding.name ?? plan.finding.canonicalName, plan.finding.id);
}

/** The same incident from a finding name alone (release from the ledger's record): the id is its last segment. */
export function incidentOfFinding(name: string | null, id: string | null = name && /\/findings\/[^/]+$/.test(name) ? name.slice(name.lastIndexOf('/') + 1) : null): Incident {
  // The name is written whole into pod and node annotations (256 KiB in all per object). Decoding
  // refuses longer names (MAX_FINDING_NAME in core/finding/schema.ts); a plan built another way
  // gets a hash, never a cut name that could read as another finding's.
  const maxAnnotatedName = 512;
  const fullName = name ?? 'unknown-finding';
  const nameHash = createHash('sha256').update(fullName).digest('hex');
  const findingName = fullName.length <= maxAnnotatedName ? fullName : `sha256:${nameHash}`;
  const raw = id ?? '';
  return { findingName, id: /^[a-z0-9]{1,40}$/.test(raw) ? raw : nameHash.slice(0, 32) };
}

export function podRef(pod: Pod): string {
  return `${pod.metadata.namespace}/${pod.metadata.name}`;
}
