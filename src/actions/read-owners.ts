// The one Kubernetes read owner resolution makes: the finding's namespace, for the
// labels and annotations that name its owner (policy owners.namespaceKeys). It runs
// after containment over the connection containment made, never holds it up, and
// its failure is a note in the summary, never a failed action. The pod's own labels
// come from the preflight's read (ClusterSnapshots.pod), so they cost nothing here.
import { isDns1123Label } from '../core/finding/k8s-names.ts';
import { describeKubeError } from './errors.ts';
import { KubeApiError, type KubeApi } from './kube-api.ts';
import type { RbacNeed } from './rbac.ts';

/**
 * Granted with the preflight's reads (src/actions/preflight.ts PREFLIGHT_RBAC): owner
 * resolution runs for every finding with a target, dry-run or not, whatever the
 * enabled actions, so it belongs with the reads that are always granted.
 */
export const READ_OWNERS_RBAC: RbacNeed[] = [{ apiGroup: '', resource: 'namespaces', verbs: ['get'] }];

/** A namespace's labels and annotations as the API server returned them (unvalidated: src/core/summary/owners.ts checks them). */
export interface NamespaceOwnerMeta {
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/**
 * Reads one namespace. The name comes from the finding: one that is not a DNS-1123
 * label is refused here, before any request, like every name the preflight sends.
 * Rejects on any failure, 404 included, with a message fit for the summary's owner
 * notes (the caller names the namespace).
 */
export async function readNamespaceOwnerMeta(kube: KubeApi, namespace: string, timeoutMs: number): Promise<NamespaceOwnerMeta> {
  if (!isDns1123Label(namespace)) {
    throw new Error('not a valid Kubernetes name: not looked up');
  }
  let found;
  try {
    found = await kube.readNamespace(namespace, { timeoutMs });
  } catch (error) {
    if (error instanceof KubeApiError) throw new Error(describeKubeError(error), { cause: error });
    throw error;
  }
  if (found === null) throw new Error('not found');
  return { labels: found.metadata.labels ?? {}, annotations: found.metadata.annotations ?? {} };
}
