// What the NetworkPolicies of a namespace do to one pod, evaluated the way the
// dataplane does. Pure: plain objects in, plain answers out.
//
// NetworkPolicies are additive: a pod's allowed traffic in one direction is the
// union of the rules of every policy that selects it for that direction. A
// deny-all policy adds nothing and takes nothing away, so "isolated" is true
// only when no other selecting policy has a rule in either direction.
import type { LabelSelector, NetworkPolicy } from './kube-api.ts';

export type Direction = 'ingress' | 'egress';

/** metav1.LabelSelector semantics: every matchLabels pair and every requirement; `{}` selects every pod. */
export function selects(selector: LabelSelector | undefined, labels: Readonly<Record<string, string>>): boolean {
  // Object.hasOwn: label keys come from the cluster (and so from whoever can label a pod), never index the prototype.
  const has = (k: string) => Object.hasOwn(labels, k);
  for (const [k, v] of Object.entries(selector?.matchLabels ?? {})) if (!has(k) || labels[k] !== v) return false;
  for (const req of selector?.matchExpressions ?? []) {
    const values = req.values ?? [];
    const present = has(req.key);
    switch (req.operator) {
      case 'In':
        if (!present || !values.includes(labels[req.key]!)) return false;
        break;
      case 'NotIn':
        if (present && values.includes(labels[req.key]!)) return false;
        break;
      case 'Exists':
        if (!present) return false;
        break;
      case 'DoesNotExist':
        if (present) return false;
        break;
      default:
        // An operator the API server would refuse: never assume it selects nothing.
        return true;
    }
  }
  return true;
}

/** The directions in which a policy allows some traffic to the pods it selects. */
export function allowedDirections(policy: NetworkPolicy): Direction[] {
  const spec = policy.spec;
  // policyTypes is defaulted by the API server; read back without it: Ingress, plus Egress when egress rules exist.
  const types = spec.policyTypes ?? (spec.egress !== undefined ? ['Ingress', 'Egress'] : ['Ingress']);
  const out: Direction[] = [];
  if (types.includes('Ingress') && (spec.ingress?.length ?? 0) > 0) out.push('ingress');
  if (types.includes('Egress') && (spec.egress?.length ?? 0) > 0) out.push('egress');
  return out;
}

export interface AdmittingPolicy {
  name: string;
  directions: Direction[];
  /** Label keys whose removal would stop the policy selecting the pod (matchLabels, In, Exists). */
  detachKeys: string[];
}

/** Every policy that selects the pod (with these labels) and allows traffic in some direction. */
export function admittingPolicies(policies: readonly NetworkPolicy[], labels: Readonly<Record<string, string>>): AdmittingPolicy[] {
  const out: AdmittingPolicy[] = [];
  for (const policy of policies) {
    if (!selects(policy.spec?.podSelector, labels)) continue;
    const directions = allowedDirections(policy);
    if (directions.length === 0) continue;
    const selector = policy.spec.podSelector ?? {};
    const keys = new Set(Object.keys(selector.matchLabels ?? {}));
    for (const req of selector.matchExpressions ?? []) if (req.operator === 'In' || req.operator === 'Exists') keys.add(req.key);
    out.push({ name: policy.metadata.name ?? '', directions, detachKeys: [...keys].sort() });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

export interface DetachPlan {
  /** Label key → the value removed (kept in an annotation, so a release can restore it). */
  remove: Record<string, string>;
  /** Policies that still admit traffic once those labels are gone. */
  remaining: AdmittingPolicy[];
}

/**
 * Which labels to remove so that no allowing policy selects the pod. Greedy:
 * the key that deselects most of the still-admitting policies first, then
 * re-evaluated against every policy (removing a label can make a `NotIn` or
 * `DoesNotExist` policy select the pod). Keys in `keep` are never removed.
 */
export function planDetach(
  policies: readonly NetworkPolicy[],
  labels: Readonly<Record<string, string>>,
  keep: ReadonlySet<string>,
): DetachPlan {
  const current: Record<string, string> = { ...labels };
  const remove: Record<string, string> = {};
  // Each round removes a key the pod has, so the number of labels bounds the loop.
  for (let round = 0; round <= Object.keys(labels).length; round++) {
    const admitting = admittingPolicies(policies, current);
    const counts = new Map<string, number>();
    for (const policy of admitting) {
      for (const k of policy.detachKeys) if (!keep.has(k) && Object.hasOwn(current, k)) counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    const best = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0];
    if (best === undefined) return { remove, remaining: admitting };
    remove[best[0]] = current[best[0]]!;
    delete current[best[0]];
  }
  return { remove, remaining: admittingPolicies(policies, current) };
}

export function describeAdmitting(policies: readonly AdmittingPolicy[]): string {
  return policies.map((p) => `${p.name} (${p.directions.join(' + ')})`).join(', ');
}
