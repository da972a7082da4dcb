// The ClusterResponder the pipeline calls (src/core/ports.ts): connect to the
// finding's cluster, then run the plan. Loaded lazily by the composition root.
import { PermanentError, TransientError } from '../core/errors.ts';
import type { Policy } from '../core/policy/policy.ts';
import type { ClusterResponder, ContainmentResult, OwnerFactsReads, StepLogger } from '../core/ports.ts';
import { classifyKubeError, describeKubeError } from './errors.ts';
import { KubeApiError, type ClusterConnector, type ClusterFacts } from './kube-api.ts';
import { readNamespaceOwnerMeta, type NamespaceOwnerMeta } from './read-owners.ts';
import { runPlan } from './run-plan.ts';

/**
 * A burst of findings in one namespace (the same pod, 200 times) reads its owners once a
 * minute, not once per finding; owner labels change far more slowly than that. Failures are
 * not kept: the next finding asks again.
 */
const NAMESPACE_OWNERS_TTL_MS = 60_000;
const NAMESPACE_OWNERS_MAX = 256;

export interface ClusterResponderOptions {
  policy: Policy;
  log: StepLogger;
  access: ClusterConnector;
  now?: () => Date;
}

export function createClusterResponder(options: ClusterResponderOptions): ClusterResponder {
  const { policy, log, access } = options;
  const now = options.now ?? (() => new Date());
  const namespaceOwners = new Map<string, { at: number; read: Promise<NamespaceOwnerMeta> }>();

  function readNamespaceOwners(clusterName: string, namespace: string, timeoutMs: number): Promise<NamespaceOwnerMeta> {
    const key = `${clusterName}\u0000${namespace}`;
    const at = now().getTime();
    const hit = namespaceOwners.get(key);
    if (hit && at - hit.at < NAMESPACE_OWNERS_TTL_MS) return hit.read;
    // connect() is cached by the connector: the client (and on GKE the token) containment already used.
    const read = access.connect(clusterName).then(
      (kube) => readNamespaceOwnerMeta(kube, namespace, timeoutMs),
      (error: unknown) => {
        throw new Error(`cluster access: ${(error instanceof Error ? error.message : String(error)).slice(0, 200)}`, { cause: error });
      },
    );
    namespaceOwners.delete(key);
    namespaceOwners.set(key, { at, read });
    if (namespaceOwners.size > NAMESPACE_OWNERS_MAX) namespaceOwners.delete(namespaceOwners.keys().next().value!);
    read.catch(() => {
      if (namespaceOwners.get(key)?.read === read) namespaceOwners.delete(key);
    });
    return read;
  }

  return {
    ownerFacts(request): OwnerFactsReads {
      const target = request.plan.target;
      const namespace = target?.namespace ?? null;
      return {
        // The same cached getCluster answer contain() connected with; null for a kubeconfig-mapped cluster.
        clusterLabels:
          target !== null && request.clusterLabels
            ? access.facts(target.clusterName).then((facts) => facts.resourceLabels ?? null)
            : Promise.resolve(null),
        namespace:
          target !== null && namespace !== null && request.namespace
            ? readNamespaceOwners(target.clusterName, namespace, request.timeoutMs)
            : Promise.resolve(null),
      };
    },
    async contain(request): Promise<ContainmentResult> {
      const { plan } = request;
      if (plan.actions.length === 0) return { outcomes: [], snapshots: {}, warnings: [] };
      // Budget refusals and earlier deliveries' results stand even when the cluster cannot be reached.
      const failAll = (reason: string): ContainmentResult => ({
        outcomes: plan.actions.map((a) => {
          const previous = request.previous?.get(a.type);
          if (previous && (previous.status === 'done' || previous.status === 'already')) {
            return { type: a.type, status: 'already', reason: `${previous.status} in an earlier delivery: ${previous.reason}` };
          }
          const denied = request.deniedByBudget.get(a.type);
          if (denied !== undefined) return { type: a.type, status: 'skipped', reason: denied };
          return { type: a.type, status: 'failed', reason };
        }),
        snapshots: {},
        warnings: [],
      });
      if (plan.target === null) return failAll('the finding names no cluster');
      let kube;
      // Enforcement is read alongside the connection (the same cached getCluster on GKE). A failure
      // to read it never blocks containment: isolation is then reported as not verified.
      const facts = access.facts(plan.target.clusterName).catch(
        (error: unknown): ClusterFacts => ({
          networkPolicy: 'unknown',
          networkPolicySource: `could not read the cluster: ${(error instanceof Error ? error.message : String(error)).slice(0, 200)}`,
        }),
      );
      try {
        kube = await access.connect(plan.target.clusterName);
      } catch (error) {
        if (error instanceof TransientError) throw error;
        if (error instanceof KubeApiError) {
          if (classifyKubeError(error) === 'transient') throw new TransientError(`cluster access: ${describeKubeError(error)}`, { cause: error });
          return failAll(`cluster access: ${describeKubeError(error)}`);
        }
        if (error instanceof PermanentError) {
          log.log('ERROR', 'cluster-access', error.message, { cluster: plan.target.clusterName });
          return failAll(`cluster access: ${error.message}`);
        }
        throw error;
      }
      return runPlan(request, { kube, policy, log, now, facts: await facts });
    },
  };
}
