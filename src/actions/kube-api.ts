// The small Kubernetes surface the actions use, in plain JSON shapes. The only
// implementation over @kubernetes/client-node is src/adapters/kubernetes.ts;
// nothing in src/actions/ imports the SDK.

export interface OwnerReference {
  apiVersion?: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
}

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
}

export interface ContainerSpec {
  name: string;
  image?: string;
}

export interface Pod {
  metadata: ObjectMeta;
  spec?: {
    nodeName?: string;
    hostNetwork?: boolean;
    containers?: ContainerSpec[];
    initContainers?: ContainerSpec[];
    ephemeralContainers?: ContainerSpec[];
  };
  status?: {
    phase?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { name: string; image?: string; imageID?: string }[];
    initContainerStatuses?: { name: string; image?: string; imageID?: string }[];
    ephemeralContainerStatuses?: { name: string; image?: string; imageID?: string }[];
  };
}

export interface Node {
  metadata: ObjectMeta;
  spec?: { unschedulable?: boolean; taints?: { key: string; value?: string; effect: string }[] };
}

export interface ReplicaSet {
  metadata: ObjectMeta;
  spec?: { replicas?: number; selector?: { matchLabels?: Record<string, string> } };
  status?: { readyReplicas?: number };
}

export interface KubeEvent {
  metadata?: ObjectMeta;
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  firstTimestamp?: string;
  lastTimestamp?: string;
  eventTime?: string;
  involvedObject?: { kind?: string; name?: string; namespace?: string; uid?: string };
}

export interface NetworkPolicy {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: {
    podSelector: { matchLabels?: Record<string, string> };
    policyTypes: ('Ingress' | 'Egress')[];
    ingress?: unknown[];
    egress?: unknown[];
  };
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** The Status the API server sent on the error channel (Success, or Failure with the exit code). */
  status: { status?: string; message?: string; reason?: string } | null;
}

/** Metadata-only change to a pod, sent as a JSON merge patch: it adds keys and never removes or replaces others. */
export interface PodMetadataPatch {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/**
 * Everything an action or the preflight may ask of the cluster. Each call maps
 * to exactly one API request (exec: one WebSocket session). Errors are KubeApiError.
 */
export interface KubeApi {
  /** null when the pod does not exist (404). */
  readPod(namespace: string, name: string): Promise<Pod | null>;
  readNode(name: string): Promise<Node | null>;
  readReplicaSet(namespace: string, name: string): Promise<ReplicaSet | null>;
  listPods(namespace: string, labelSelector: string | undefined): Promise<Pod[]>;
  listEvents(namespace: string, fieldSelector: string): Promise<KubeEvent[]>;
  readPodLog(namespace: string, name: string, container: string, tailLines: number): Promise<string>;
  /** Merge patch of labels/annotations; `uid` is put in the patch so a recreated pod with the same name is rejected. */
  patchPodMetadata(namespace: string, name: string, uid: string, patch: PodMetadataPatch): Promise<Pod>;
  createNetworkPolicy(namespace: string, policy: NetworkPolicy): Promise<NetworkPolicy>;
  /** Merge patch of spec.unschedulable=true plus annotations; never sends spec.taints. */
  cordonNode(name: string, annotations: Record<string, string>): Promise<Node>;
  evictPod(namespace: string, name: string, uid: string): Promise<void>;
  deletePod(namespace: string, name: string, uid: string, gracePeriodSeconds: number): Promise<void>;
  exec(namespace: string, pod: string, container: string, argv: string[], timeoutMs: number): Promise<ExecResult>;
}

/**
 * An API call that did not succeed, reduced to what the decision needs: the
 * HTTP status (0 = no response: network error or timeout), the Status reason
 * and message, and the Status causes' reasons (e.g. "DisruptionBudget").
 */
export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  readonly status: number;
  readonly reason: string;
  readonly causes: string[];
  constructor(status: number, reason: string, message: string, causes: string[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.status = status;
    this.reason = reason;
    this.causes = causes;
  }
}

export function isKubeApiError(error: unknown): error is KubeApiError {
  return error instanceof KubeApiError;
}

/** Gives the KubeApi for a cluster, by its Container API name `projects/P/locations/L/clusters/C`. */
export interface ClusterConnector {
  connect(clusterName: string): Promise<KubeApi>;
}
