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
  Observable,
  PatchStrategy,
  setHeaderOptions,
  type ConfigurationOptions,
  type ObservableMiddleware,
  type CoreV1Event,
  type V1NetworkPolicy,
} from '@kubernetes/client-node';
import { isDns1123Label, isDns1123Subdomain } from '../core/finding/k8s-names.ts';
import {
  KubeApiError,
  type ExecResult,
  type KubeApi,
  type KubeEvent,
  type LabelSelectorRequirement,
  type Namespace,
  type NetworkPolicy,
  type Node,
  type Pod,
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

/**
 * OpenSSL's and Node's codes for a peer certificate that does not verify (chain,
 * validity, purpose) or does not name the host. Waiting fixes none of them: a
 * wrong CA or endpoint is configuration, and an impostor stays an impostor.
 */
const TLS_VERIFY_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_TLS_CERT_ALTNAME_FORMAT',
]);

export interface NetworkCause {
  /** The socket-level code: ECONNREFUSED, UND_ERR_CONNECT_TIMEOUT, UNABLE_TO_VERIFY_LEAF_SIGNATURE… */
  code: string;
  /** "fetch failed (UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate)". */
  message: string;
  /** The peer's certificate or host name did not verify: permanent. */
  tls: boolean;
}

/**
 * The useful part of a client error's cause chain. undici reports every
 * connection fault as `TypeError: fetch failed` and puts what happened in
 * `cause` (an AggregateError when several addresses were tried); gaxios and ws
 * put the code on the error itself. null when no link carries a string code.
 */
export function networkCause(error: unknown): NetworkCause | null {
  // Duck-typed, not instanceof: Node's socket errors may come from another realm (a vm context).
  const messageOf = (value: unknown): string => {
    const message = (value as { message?: unknown } | null)?.message;
    return typeof message === 'string' ? message : '';
  };
  let link: unknown = error;
  for (let depth = 0; depth < 6 && typeof link === 'object' && link !== null; depth += 1) {
    const code = (link as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') {
      const top = messageOf(error) || String(error);
      const detail = link === error ? '' : messageOf(link);
      const what = detail === '' ? code : detail.includes(code) ? detail : `${code}: ${detail}`;
      return { code, message: top.includes(code) ? top : `${top} (${what})`, tls: TLS_VERIFY_CODES.has(code) };
    }
    const errors = (link as { errors?: unknown }).errors;
    link = (link as { cause?: unknown }).cause ?? (Array.isArray(errors) ? errors[0] : undefined);
  }
  return null;
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
    // client-node 2.x throws a 401 away unread (body undefined, Status or not): the
    // reason is all the status code says, and it must reach the report.
    const reason = code === 401 ? 'Unauthorized' : '';
    const text = typeof body === 'string' && body !== '' ? body.slice(0, 500) : reason || `HTTP ${code}`;
    return new KubeApiError(code, reason, text, [], { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  // Thrown before any request when a kubeconfig names http:// without skipping TLS verification.
  if (/HTTP protocol is not allowed/.test(message)) return new KubeApiError(0, 'ConfigError', message.slice(0, 500), [], { cause: error });
  const cause = networkCause(error);
  if (cause === null) return new KubeApiError(0, 'NetworkError', message.slice(0, 500), [], { cause: error });
  return new KubeApiError(0, cause.tls ? 'TLSError' : 'NetworkError', cause.message.slice(0, 500), [], { cause: error });
}

/** Client options for one request; `base` carries the request's own (a PATCH content type). */
type WithDeadline = (base?: ConfigurationOptions) => ConfigurationOptions;

/**
 * One request with a deadline that also cancels it: past `timeoutMs` the
 * request's fetch is aborted (the connection closes, no write lands late) and
 * the call fails with a transient Timeout. `request` must pass `withDeadline()`
 * as the client method's options, or the deadline only stops the waiting.
 */
async function call<T>(what: string, timeoutMs: number, request: (withDeadline: WithDeadline) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const abortOnDeadline: ObservableMiddleware = {
    pre: (context) => {
      context.setSignal(controller.signal);
      return new Observable(Promise.resolve(context));
    },
    post: (response) => new Observable(Promise.resolve(response)),
  };
  // 'append': the client's own middleware (User-Agent) and the base's stay.
  const withDeadline: WithDeadline = (base) => ({
    ...base,
    middleware: [...(base?.middleware ?? []), abortOnDeadline],
    middlewareMergeStrategy: 'append',
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new KubeApiError(0, 'Timeout', `${what} timed out after ${timeoutMs} ms`);
      reject(error);
      controller.abort(error);
    }, timeoutMs);
  });
  try {
    return await Promise.race([request(withDeadline), timeout]);
  } catch (error) {
    throw toKubeApiError(error);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Every name is checked before it goes into a URL path: client-node builds the
 * path from it, and `..` or `.` there would address another object
 * (`/namespaces/payments/pods/..` is read as `/namespaces/payments`). Thrown as
 * a permanent error, so an invalid name from a finding never becomes a request.
 */
function checked(kind: 'namespace' | 'container' | 'name', value: string): string {
  const valid = kind === 'name' ? isDns1123Subdomain(value) : isDns1123Label(value);
  if (!valid) throw new KubeApiError(0, 'InvalidName', `refused to send a request for the invalid ${kind} ${JSON.stringify(value.slice(0, 80))}`);
  return value;
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
      checked('namespace', namespace);
      checked('name', name);
      return orNull(call('read pod', timeoutMs, async (withDeadline) => plain<Pod>(await core.readNamespacedPod({ name, namespace }, withDeadline()))));
    },
    async readNode(name) {
      checked('name', name);
      return orNull(call('read node', timeoutMs, async (withDeadline) => plain<Node>(await core.readNode({ name }, withDeadline()))));
    },
    async readNamespace(name, readOptions) {
      // A namespace name is a DNS-1123 label: checked like every path segment.
      checked('namespace', name);
      const deadline = Math.max(1, Math.min(readOptions?.timeoutMs ?? timeoutMs, timeoutMs));
      return orNull(call('read namespace', deadline, async (withDeadline) => plain<Namespace>(await core.readNamespace({ name }, withDeadline()))));
    },
    async readReplicaSet(namespace, name) {
      checked('namespace', namespace);
      checked('name', name);
      return orNull(
        call('read replicaset', timeoutMs, async (withDeadline) =>
          plain<ReplicaSet>(await apps.readNamespacedReplicaSet({ name, namespace }, withDeadline())),
        ),
      );
    },
    async listPods(namespace, labelSelector) {
      checked('namespace', namespace);
      return call('list pods', timeoutMs, async (withDeadline) => {
        const list = await core.listNamespacedPod({ namespace, ...(labelSelector ? { labelSelector } : {}) }, withDeadline());
        return plain<Pod[]>(list.items);
      });
    },
    async listEvents(namespace, fieldSelector) {
      checked('namespace', namespace);
      return call('list events', timeoutMs, async (withDeadline) => {
        const list = await core.listNamespacedEvent({ namespace, fieldSelector, limit: 100 }, withDeadline());
        return plain<KubeEvent[]>(list.items);
      });
    },
    async createEvent(namespace, event) {
      checked('namespace', namespace);
      await call('create event', timeoutMs, (withDeadline) =>
        core.createNamespacedEvent({ namespace, body: event as CoreV1Event, fieldManager }, withDeadline()),
      );
    },
    async readPodLog(namespace, name, container, tailLines) {
      checked('namespace', namespace);
      checked('name', name);
      checked('container', container);
      return call('read pod log', timeoutMs, async (withDeadline) =>
        String(await core.readNamespacedPodLog({ name, namespace, container, tailLines, limitBytes: 1024 * 1024 }, withDeadline())),
      );
    },
    async patchPodMetadata(namespace, name, uid, patch) {
      checked('namespace', namespace);
      checked('name', name);
      const body = { metadata: { uid, ...patch } };
      return call('patch pod', timeoutMs, async (withDeadline) =>
        plain<Pod>(await core.patchNamespacedPod({ name, namespace, body, fieldManager }, withDeadline(mergePatch))),
      );
    },
    async createNetworkPolicy(namespace, policy) {
      checked('namespace', namespace);
      return call('create networkpolicy', timeoutMs, async (withDeadline) =>
        plain<NetworkPolicy>(
          await networking.createNamespacedNetworkPolicy({ namespace, body: policy as V1NetworkPolicy, fieldManager }, withDeadline()),
        ),
      );
    },
    async readNetworkPolicy(namespace, name) {
      checked('namespace', namespace);
      checked('name', name);
      return orNull(
        call('read networkpolicy', timeoutMs, async (withDeadline) =>
          plain<NetworkPolicy>(await networking.readNamespacedNetworkPolicy({ name, namespace }, withDeadline())),
        ),
      );
    },
    async listNetworkPolicies(namespace) {
      checked('namespace', namespace);
      return call('list networkpolicies', timeoutMs, async (withDeadline) => {
        const list = await networking.listNamespacedNetworkPolicy({ namespace }, withDeadline());
        return plain<NetworkPolicy[]>(list.items);
      });
    },
    async patchNetworkPolicySelector(namespace, name, resourceVersion, matchExpressions: LabelSelectorRequirement[], annotations) {
      checked('namespace', namespace);
      checked('name', name);
      // resourceVersion in a merge patch is a precondition: a policy edited since we read it is a 409, not overwritten.
      const body = { metadata: { resourceVersion, annotations }, spec: { podSelector: { matchExpressions } } };
      return call('patch networkpolicy', timeoutMs, async (withDeadline) =>
        plain<NetworkPolicy>(await networking.patchNamespacedNetworkPolicy({ name, namespace, body, fieldManager }, withDeadline(mergePatch))),
      );
    },
    async deleteNetworkPolicy(namespace, name, uid) {
      checked('namespace', namespace);
      checked('name', name);
      await call('delete networkpolicy', timeoutMs, (withDeadline) =>
        networking.deleteNamespacedNetworkPolicy({ name, namespace, body: { preconditions: { uid } } }, withDeadline()),
      );
    },
    async uncordonNode(name, resourceVersion, removeAnnotations) {
      checked('name', name);
      const annotations = Object.fromEntries(removeAnnotations.map((k) => [k, null]));
      // null removes the field: the node is schedulable again, as `kubectl uncordon` leaves it.
      const body = { metadata: { resourceVersion, annotations }, spec: { unschedulable: null } };
      return call('uncordon node', timeoutMs, async (withDeadline) => plain<Node>(await core.patchNode({ name, body, fieldManager }, withDeadline(mergePatch))));
    },
    async cordonNode(name, annotations) {
      checked('name', name);
      // Merge patch: lists in it replace the node's lists, so it carries no taints.
      const body = { metadata: { annotations }, spec: { unschedulable: true } };
      return call('cordon node', timeoutMs, async (withDeadline) =>
        plain<Node>(await core.patchNode({ name, body, fieldManager }, withDeadline(mergePatch))),
      );
    },
    async evictPod(namespace, name, uid) {
      checked('namespace', namespace);
      checked('name', name);
      await call('evict pod', timeoutMs, (withDeadline) =>
        core.createNamespacedPodEviction(
          {
            name,
            namespace,
            body: {
              apiVersion: 'policy/v1',
              kind: 'Eviction',
              metadata: { name, namespace },
              deleteOptions: { preconditions: { uid } },
            },
          },
          withDeadline(),
        ),
      );
    },
    async deletePod(namespace, name, uid, gracePeriodSeconds) {
      checked('namespace', namespace);
      checked('name', name);
      await call('delete pod', timeoutMs, (withDeadline) =>
        core.deleteNamespacedPod(
          { name, namespace, gracePeriodSeconds, body: { gracePeriodSeconds, preconditions: { uid } } },
          withDeadline(),
        ),
      );
    },
    async exec(namespace, pod, container, argv, execTimeoutMs) {
      checked('namespace', namespace);
      checked('name', pod);
      checked('container', container);
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
