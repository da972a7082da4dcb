// Which Kubernetes API failures can heal by waiting (throw → Pub/Sub retries)
// and which cannot (report failed, ack). A PodDisruptionBudget refusal is a 429
// but is a decision, not overload: retrying it for 7 days is wrong.
import { TransientError } from '../core/errors.ts';
import { KubeApiError } from './kube-api.ts';

export type FailureKind = 'transient' | 'permanent' | 'disruption-budget';

export function classifyKubeError(error: KubeApiError): FailureKind {
  // No response: a refused, reset or timed-out connection can heal; a certificate or
  // host name that does not verify (TLSError), a bad kubeconfig or an invalid name cannot.
  if (error.status === 0) return error.reason === 'Timeout' || error.reason === 'NetworkError' ? 'transient' : 'permanent';
  // 401: the cluster does not accept these credentials, and waiting does not make it accept them.
  if (error.status === 401) return 'permanent';
  if (error.status === 429) return error.causes.includes('DisruptionBudget') ? 'disruption-budget' : 'transient';
  // The eviction subresource answers 500 when a pod is covered by two PDBs: no retry fixes that.
  if (error.status === 500 && /more than one PodDisruptionBudget/.test(error.message)) return 'permanent';
  if (error.status >= 500 || error.status === 408) return 'transient';
  return 'permanent';
}

export function describeKubeError(error: KubeApiError): string {
  const head = error.status === 0 ? error.reason : `HTTP ${error.status}${error.reason ? ` ${error.reason}` : ''}`;
  // A body-less answer's message only repeats the head ("HTTP 401 Unauthorized: Unauthorized").
  if (error.message === error.reason || error.message === `HTTP ${error.status}`) return head;
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
