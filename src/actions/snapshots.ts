// What is lost with the pod, captured before anything removes it: the pod
// object, its recent events, the node object (and its GCE instance id, for the
// serial console query), the tail of each container's log. Best effort: a
// failed read becomes a warning and containment goes on (GKE also ships
// container logs to Cloud Logging, so speed of containment wins over this copy).
import type { Policy } from '../core/policy/policy.ts';
import type { ClusterSnapshots } from '../core/ports.ts';
import { describeKubeError } from './errors.ts';
import { KubeApiError, type KubeApi, type Pod } from './kube-api.ts';
import type { PreflightResult } from './preflight.ts';

export const INSTANCE_ID_ANNOTATION = 'container.googleapis.com/instance_id';

export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * An annotation value that holds a JSON document: `kubectl apply`'s copy of the
 * spec (with env values), and tools that do the same. Judged by its first
 * character, so a broken or huge document is hidden without being parsed.
 */
function holdsJsonDocument(value: string): boolean {
  const first = value.trimStart()[0];
  return first === '{' || first === '[';
}

/**
 * A copy fit for evidence: env values (often secrets) are replaced, managedFields
 * dropped, and annotations that hold a spec copy (last-applied-configuration, any
 * JSON document) replaced, since they repeat the env values.
 */
export function redactPod(pod: Pod): unknown {
  const copy = structuredClone(pod) as Pod & { metadata: { managedFields?: unknown } };
  delete copy.metadata.managedFields;
  if (copy.metadata.annotations) {
    // Rebuilt (not assigned in place), so even a "__proto__" key stays an own, redacted entry.
    copy.metadata.annotations = Object.fromEntries(
      Object.entries(copy.metadata.annotations).map(([key, value]) => [
        key,
        key === LAST_APPLIED_ANNOTATION || (typeof value === 'string' && holdsJsonDocument(value)) ? '<redacted>' : value,
      ]),
    );
  }
  const spec = copy.spec as Record<string, unknown> | undefined;
  for (const list of ['containers', 'initContainers', 'ephemeralContainers']) {
    for (const c of (spec?.[list] as { env?: { value?: string }[] }[] | undefined) ?? []) {
      for (const env of c.env ?? []) if (env.value !== undefined) env.value = '<redacted>';
    }
  }
  return copy;
}

export async function captureSnapshots(
  kube: KubeApi,
  preflight: PreflightResult,
  policy: Policy,
): Promise<{ snapshots: ClusterSnapshots; warnings: string[] }> {
  const warnings: string[] = [];
  const snapshots: ClusterSnapshots = {};
  const attempt = async <T>(what: string, read: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await read();
    } catch (error) {
      if (!(error instanceof KubeApiError)) throw error;
      warnings.push(`snapshot: ${what} not captured (${describeKubeError(error)})`);
      return undefined;
    }
  };
  if (preflight.node) {
    snapshots.node = preflight.node;
    const instanceId = preflight.node.metadata.annotations?.[INSTANCE_ID_ANNOTATION];
    if (instanceId !== undefined && /^\d{1,20}$/.test(instanceId)) snapshots.nodeInstanceId = instanceId;
  }
  if (preflight.nodeName) snapshots.resolvedNode = preflight.nodeName;
  const pod = preflight.pod;
  if (!pod) return { snapshots, warnings };
  snapshots.pod = redactPod(pod);
  const namespace = pod.metadata.namespace!;
  const tail = policy.actionSettings.podLogTailLines;
  const containers = tail > 0 ? (pod.spec?.containers ?? []) : [];
  // Independent reads: in parallel, so the copy costs one round trip, not one per container.
  const [events, ...texts] = await Promise.all([
    attempt('events', () => kube.listEvents(namespace, `involvedObject.uid=${pod.metadata.uid}`)),
    ...containers.map((c) => attempt(`log of container ${c.name}`, () => kube.readPodLog(namespace, pod.metadata.name!, c.name, tail))),
  ]);
  if (events) snapshots.events = events;
  if (tail > 0) {
    const logs: Record<string, string> = {};
    containers.forEach((c, i) => {
      const text = texts[i];
      if (text !== undefined) logs[c.name] = text;
    });
    snapshots.containerLogs = logs;
  }
  return { snapshots, warnings };
}
