// Which Kubernetes API failures can heal by waiting (throw → Pub/Sub retries)
// and which cannot (report failed, ack). A PodDisruptionBudget refusal is a 429
// but is a decision, not overload: retrying it for 7 days is wrong.
import { TransientError } from '../core/errors.ts';
import { KubeApiError } from './kube-api.ts';

export type FailureKind = 'transient' | 'permanent' | 'disruption-budget';

export function classifyKubeError(error: KubeApiError): FailureKind {
  if (error.status === 0) return error.reason === 'Timeout' || error.reason === 'NetworkError' ? 'transient' : 'permanent';
  if (error.status === 429) return error.causes.includes('DisruptionBudget') ? 'disruption-budget' : 'transient';
  // The eviction subresource answers 500 when a pod is covered by two PDBs: no retry fixes that.
  if (error.status === 500 && /more than one PodDisruptionBudget/.test(error.message)) return 'permanent';
  if (error.status >= 500 || error.status === 408) return 'transient';
  return 'permanent';
}

export function describeKubeError(error: KubeApiError): string {
  const head = error.status === 0 ? error.reason : `HTTP ${error.status}${error.reason ? ` ${error.reason}` : ''}`;
  return `${head}: ${error.message}`;
}

/** Rethrows transient failures as TransientError; returns the KubeApiError for the caller to report otherwise. */
export function permanentOrThrow(error: unknown, what: string): KubeApiError {
  if (!(error instanceof KubeApiError)) throw error;
  if (classifyKubeError(error) === 'transient') {
    throw new TransientError(`${what}: ${describeKubeError(error)}`, { cause: error });
  }
  return error;
}
