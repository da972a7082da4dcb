// Kubernetes RBAC needs, declared next to the code that has them.
// scripts/permissions.ts writes them to terraform/modules/cluster-permissions/permissions.json,
// from which terraform renders the IAM role and the ClusterRoles for the enabled
// actions (test/actions/rbac.test.ts checks the file): no wildcards, nothing more.
import { READ_OWNERS_RBAC } from './read-owners.ts';

export interface RbacNeed {
  /** "" is the core group. */
  apiGroup: string;
  /** Resource or resource/subresource, e.g. "pods/eviction". */
  resource: string;
  verbs: string[];
}

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

/** Union of needs as one sorted list per (apiGroup, resource), verbs sorted: a stable shape to compare. */
export function unionOfNeeds(needs: readonly RbacNeed[]): RbacNeed[] {
  const byKey = new Map<string, RbacNeed>();
  for (const need of needs) {
    const k = `${need.apiGroup}\u0000${need.resource}`;
    const entry = byKey.get(k) ?? { apiGroup: need.apiGroup, resource: need.resource, verbs: [] };
    for (const verb of need.verbs) if (!entry.verbs.includes(verb)) entry.verbs.push(verb);
    byKey.set(k, entry);
  }
  return [...byKey.values()]
    .map((n) => ({ ...n, verbs: [...n.verbs].sort() }))
    .sort((a, b) => a.apiGroup.localeCompare(b.apiGroup) || a.resource.localeCompare(b.resource));
}
