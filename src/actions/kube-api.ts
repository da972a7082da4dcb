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

export interface Namespace {
  metadata: ObjectMeta;
  status?: { phase?: string };
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
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta & { generateName?: string };
  source?: { component?: string };
  reportingComponent?: string;
  reportingInstance?: string;
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  firstTimestamp?: string;
  lastTimestamp?: string;
  eventTime?: string;
  involvedObject?: { kind?: string; name?: string; namespace?: string; uid?: string };
}

export interface LabelSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface NetworkPolicy {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: {
    podSelector: LabelSelector;
    /** Absent: Ingress, plus Egress when egress rules exist (the API server defaults it so). */
    policyTypes?: ('Ingress' | 'Egress')[];
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

/**
 * Metadata-only change to a pod, sent as a JSON merge patch: keys it names are
 * set, a null removes that one key (isolation detaching a pod from allow
 * policies), every other key is left as it is.
 */
export interface PodMetadataPatch {
  labels?: Record<string, string | null>;
  annotations?: Record<string, string | null>;
}

/**
 * Everything an action or the preflight may ask of the cluster. Each call maps
 * to exactly one API request (exec: one WebSocket session). Errors are KubeApiError.
 */
export interface KubeApi {
  /** null when the pod does not exist (404). */
  readPod(namespace: string, name: string): Promise<Pod | null>;
  readNode(name: string): Promise<Node | null>;
  /** null when it does not exist (404). `timeoutMs` shortens the request's deadline (owner reads are bounded tighter than actions). */
  readNamespace(name: string, options?: { timeoutMs?: number }): Promise<Namespace | null>;
  readReplicaSet(namespace: string, name: string): Promise<ReplicaSet | null>;
  listPods(namespace: string, labelSelector: string | undefined): Promise<Pod[]>;
  listEvents(namespace: string, fieldSelector: string): Promise<KubeEvent[]>;
  /** A core/v1 Event (the audit trail `kubectl describe` shows). */
  createEvent(namespace: string, event: KubeEvent): Promise<void>;
  readPodLog(namespace: string, name: string, container: string, tailLines: number): Promise<string>;
  /** Merge patch of labels/annotations; `uid` is put in the patch so a recreated pod with the same name is rejected. */
  patchPodMetadata(namespace: string, name: string, uid: string, patch: PodMetadataPatch): Promise<Pod>;
  createNetworkPolicy(namespace: string, policy: NetworkPolicy): Promise<NetworkPolicy>;
  /** null when it does not exist (404). */
  readNetworkPolicy(namespace: string, name: string): Promise<NetworkPolicy | null>;
  listNetworkPolicies(namespace: string): Promise<NetworkPolicy[]>;
  /**
   * Merge patch of spec.podSelector.matchExpressions (the whole list: a merge
   * patch replaces lists) and annotations, guarded by resourceVersion: a policy
   * changed since it was read is refused (409), never overwritten.
   */
  patchNetworkPolicySelector(
    namespace: string,
    name: string,
    resourceVersion: string,
    matchExpressions: LabelSelectorRequirement[],
    annotations: Record<string, string | null>,
  ): Promise<NetworkPolicy>;
  /** Delete with a UID precondition: only the object that was read and checked can go (another → 409). */
  deleteNetworkPolicy(namespace: string, name: string, uid: string): Promise<void>;
  /** Merge patch of spec.unschedulable=true plus annotations; never sends spec.taints. */
  cordonNode(name: string, annotations: Record<string, string>): Promise<Node>;
  /**
   * Merge patch removing spec.unschedulable and the named annotations, guarded by
   * resourceVersion: a node changed since it was read (someone else cordoned it) is a 409.
   */
  uncordonNode(name: string, resourceVersion: string, removeAnnotations: string[]): Promise<Node>;
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

/** Whether the cluster's dataplane enforces NetworkPolicy objects (the API server stores them either way). */
export type NetworkPolicyEnforcement = 'enforced' | 'not-enforced' | 'unknown';

export interface ClusterFacts {
  networkPolicy: NetworkPolicyEnforcement;
  /** Where the answer comes from ("GKE Dataplane V2", "policy clusters entry", …). */
  networkPolicySource: string;
  /**
   * The cluster's GCP resource labels, as the Container API gave them (unvalidated: owner
   * resolution checks them). Absent when there are none or the connection has no such notion
   * (a kubeconfig-mapped cluster).
   */
  resourceLabels?: Record<string, string>;
}

/** Gives the KubeApi for a cluster, by its Container API name `projects/P/locations/L/clusters/C`. */
export interface ClusterConnector {
  connect(clusterName: string): Promise<KubeApi>;
  /** Facts about the cluster the actions need (read with the same Container API call connect makes; cached). */
  facts(clusterName: string): Promise<ClusterFacts>;
}
