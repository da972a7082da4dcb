// Thin wrapper over @kubernetes/client-node 2.x: one method per API request the
// actions need (src/actions/kube-api.ts), plain JSON in and out, every failure
// turned into a KubeApiError with the HTTP status and the Status reason.
import { Writable } from 'node:stream';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  Exec,
  KubeConfig,
  NetworkingV1Api,
  PatchStrategy,
  setHeaderOptions,
  type V1NetworkPolicy,
} from '@kubernetes/client-node';
import {
  KubeApiError,
  type ExecResult,
  type KubeApi,
  type KubeEvent,
  type NetworkPolicy,
  type Node,
  type Pod,
  type PodMetadataPatch,
  type ReplicaSet,
} from '../actions/kube-api.ts';

export interface KubeApiOptions {
  /** Upper bound for one request; past it the call fails as a transient timeout. */
  requestTimeoutMs?: number;
  /** Recorded in managedFields of every write. */
  fieldManager?: string;
}

const DEFAULT_TIMEOUT_MS = 15_000;

/** The client returns class instances with Date fields; the actions work on the wire JSON. */
function plain<T>(value: unknown): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function toKubeApiError(error: unknown): KubeApiError {
  if (error instanceof KubeApiError) return error;
  if (error instanceof ApiException) {
    const code = (error as ApiException<unknown>).code;
    let body: unknown = (error as ApiException<unknown>).body;
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body);
      } catch {
        // not a Status: keep the text (bounded) as the message
      }
    }
    if (typeof body === 'object' && body !== null) {
      const status = body as { reason?: unknown; message?: unknown; details?: { causes?: { reason?: unknown; message?: unknown }[] } };
      const causeList = status.details?.causes ?? [];
      const causes = causeList.map((c) => String(c.reason ?? '')).filter((r) => r !== '');
      // The causes carry the useful part of some refusals (which PDB, how many healthy pods).
      const causeText = causeList.map((c) => (typeof c.message === 'string' ? c.message : '')).filter((m) => m !== '');
      const message = typeof status.message === 'string' ? status.message : `HTTP ${code}`;
      return new KubeApiError(
        code,
        typeof status.reason === 'string' ? status.reason : '',
        (causeText.length > 0 && !causeText.every((t) => message.includes(t)) ? `${message} (${causeText.join('; ')})` : message).slice(0, 500),
        causes,
        { cause: error },
      );
    }
    return new KubeApiError(code, '', typeof body === 'string' && body !== '' ? body.slice(0, 500) : `HTTP ${code}`, [], {
      cause: error,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new KubeApiError(0, 'NetworkError', message.slice(0, 500), [], { cause: error });
}

async function call<T>(what: string, timeoutMs: number, request: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new KubeApiError(0, 'Timeout', `${what} timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([request(), timeout]);
  } catch (error) {
    throw toKubeApiError(error);
  } finally {
    clearTimeout(timer);
  }
}

async function orNull<T>(promise: Promise<T>): Promise<T | null> {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof KubeApiError && error.status === 404) return null;
    throw error;
  }
}

class Collect extends Writable {
  chunks: Buffer[] = [];
  size = 0;
  readonly limit: number;
  constructor(limit: number) {
    super();
    this.limit = limit;
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    if (this.size < this.limit) {
      this.chunks.push(chunk.subarray(0, this.limit - this.size));
      this.size += chunk.length;
    }
    done();
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

const EXEC_OUTPUT_LIMIT = 256 * 1024;

export function createKubeApi(kc: KubeConfig, options: KubeApiOptions = {}): KubeApi {
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const networking = kc.makeApiClient(NetworkingV1Api);
  const timeoutMs = options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  const fieldManager = options.fieldManager ?? 'scc-responder';
  // client-node's PATCH default is application/json-patch+json, which the API
  // server rejects for an object body: every patch here names its content type.
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

  return {
    async readPod(namespace, name) {
      return orNull(call('read pod', timeoutMs, async () => plain<Pod>(await core.readNamespacedPod({ name, namespace }))));
    },
    async readNode(name) {
      return orNull(call('read node', timeoutMs, async () => plain<Node>(await core.readNode({ name }))));
    },
    async readReplicaSet(namespace, name) {
      return orNull(
        call('read replicaset', timeoutMs, async () => plain<ReplicaSet>(await apps.readNamespacedReplicaSet({ name, namespace }))),
      );
    },
    async listPods(namespace, labelSelector) {
      return call('list pods', timeoutMs, async () => {
        const list = await core.listNamespacedPod({ namespace, ...(labelSelector ? { labelSelector } : {}) });
        return plain<Pod[]>(list.items);
      });
    },
    async listEvents(namespace, fieldSelector) {
      return call('list events', timeoutMs, async () => {
        const list = await core.listNamespacedEvent({ namespace, fieldSelector, limit: 100 });
        return plain<KubeEvent[]>(list.items);
      });
    },
    async readPodLog(namespace, name, container, tailLines) {
      return call('read pod log', timeoutMs, async () =>
        String(await core.readNamespacedPodLog({ name, namespace, container, tailLines, limitBytes: 1024 * 1024 })),
      );
    },
    async patchPodMetadata(namespace, name, uid, patch) {
      const body = { metadata: { uid, ...patch } };
      return call('patch pod', timeoutMs, async () =>
        plain<Pod>(await core.patchNamespacedPod({ name, namespace, body, fieldManager }, mergePatch)),
      );
    },
    async createNetworkPolicy(namespace, policy) {
      return call('create networkpolicy', timeoutMs, async () =>
        plain<NetworkPolicy>(await networking.createNamespacedNetworkPolicy({ namespace, body: policy as V1NetworkPolicy, fieldManager })),
      );
    },
    async cordonNode(name, annotations) {
      // Merge patch: lists in it replace the node's lists, so it carries no taints.
      const body = { metadata: { annotations }, spec: { unschedulable: true } };
      return call('cordon node', timeoutMs, async () => plain<Node>(await core.patchNode({ name, body, fieldManager }, mergePatch)));
    },
    async evictPod(namespace, name, uid) {
      await call('evict pod', timeoutMs, () =>
        core.createNamespacedPodEviction({
          name,
          namespace,
          body: {
            apiVersion: 'policy/v1',
            kind: 'Eviction',
            metadata: { name, namespace },
            deleteOptions: { preconditions: { uid } },
          },
        }),
      );
    },
    async deletePod(namespace, name, uid, gracePeriodSeconds) {
      await call('delete pod', timeoutMs, () =>
        core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds, body: { gracePeriodSeconds, preconditions: { uid } } }),
      );
    },
    async exec(namespace, pod, container, argv, execTimeoutMs) {
      const stdout = new Collect(EXEC_OUTPUT_LIMIT);
      const stderr = new Collect(EXEC_OUTPUT_LIMIT);
      return new Promise<ExecResult>((resolve, reject) => {
        let settled = false;
        let socket: { close(): void } | undefined;
        const finish = (status: ExecResult['status']) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ stdout: stdout.text(), stderr: stderr.text(), status });
        };
        const timer = setTimeout(() => {
          if (settled) return;
          settled = true;
          socket?.close();
          reject(new KubeApiError(0, 'Timeout', `exec timed out after ${execTimeoutMs} ms`));
        }, execTimeoutMs);
        // argv, not a shell string: the command runs as given, nothing is interpreted.
        new Exec(kc)
          .exec(namespace, pod, container, argv, stdout, stderr, null, false, (status) => finish(plain(status)))
          .then((ws) => {
            socket = ws;
            ws.addEventListener('close', () => finish(null));
          })
          .catch((error: unknown) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            reject(toKubeApiError(error));
          });
      });
    },
  };
}

/** A KubeConfig from a kubeconfig file and optional context (the policy's cluster mapping). */
export function kubeConfigFromFile(path: string, context: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  if (context !== undefined) {
    if (!kc.getContexts().some((c) => c.name === context)) {
      throw new KubeApiError(0, 'ConfigError', `kubeconfig ${path} has no context ${JSON.stringify(context)}`);
    }
    kc.setCurrentContext(context);
  }
  return kc;
}

/** A KubeConfig for one GKE endpoint with a bearer token (no exec plugin, no file). */
export function kubeConfigForEndpoint(name: string, server: string, caData: string | undefined, token: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name, server, ...(caData ? { caData } : {}), skipTLSVerify: false }],
    users: [{ name: 'scc-responder', token }],
    contexts: [{ name, cluster: name, user: 'scc-responder' }],
    currentContext: name,
  });
  return kc;
}
