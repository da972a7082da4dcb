// Kubernetes RBAC needs, declared next to the code that has them.
// scripts/permissions.ts writes them to terraform/modules/cluster-permissions/permissions.json,
// from which terraform renders the IAM role and the ClusterRoles for the enabled
// actions (test/actions/rbac.test.ts checks the file): no wildcards, nothing more.
export interface RbacNeed {
  /** "" is the core group. */
  apiGroup: string;
  /** Resource or resource/subresource, e.g. "pods/eviction". */
  resource: string;
  verbs: string[];
}


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
