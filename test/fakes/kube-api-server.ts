// A strict fake of the Kubernetes API server on 127.0.0.1, for driving the real
// @kubernetes/client-node. It answers the way kube-apiserver does for the calls
// scc-responder makes — and refuses what the real one refuses:
//   - PATCH content types: merge (RFC 7386), JSON patch (RFC 6902; an object body
//     is a 400 decode error), strategic merge (list merge keys for taints,
//     containers, conditions…); anything else 415.
//   - Status bodies (kind Status, apiVersion v1, status Failure, reason, code) for
//     400/401/404/409/415/422/429/500.
//   - Eviction with PodDisruptionBudgets (429 + DisruptionBudget cause when
//     disruptionsAllowed is 0), delete with grace period and UID preconditions
//     (409 on mismatch), uid immutability on patch (422), resourceVersion bumps,
//     label selectors on list, field selectors on events, pod logs with tailLines,
//     exec over WebSocket (v4.channel.k8s.io).
//   - Namespace GET (labels and annotations, plus the kubernetes.io/metadata.name
//     label the API server sets on every namespace; 404 NotFound when missing).
// Every request is recorded (method, path, query, content type, body) so tests
// can assert the exact writes. Usable outside jest: `startFakeKubeApi({seed})`.
import { createHash, randomUUID } from 'node:crypto';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type Json = Record<string, any>;

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string | string[]>;
  contentType: string | null;
  body: unknown;
  status: number;
}

export interface ExecCall {
  namespace: string;
  pod: string;
  container: string;
  command: string[];
}

export interface ExecReply {
  stdout?: string;
  stderr?: string;
  exitCode?: number;
  /** Never answer (to test client-side timeouts). */
  hang?: boolean;
}

export interface Fault {
  method?: string;
  /** Matched against the request path (no query). */
  path: RegExp;
  /** The error status to answer; absent: no error, the request is only held (delayMs / waitFor) and then served. */
  status?: number;
  reason?: string;
  message?: string;
  causes?: { reason: string; message: string }[];
  /** How many requests it hits (default 1; Infinity for a lasting fault). */
  times?: number;
  /** Answer only after this long (a slow or hung API server; the client's deadline should fire first). */
  delayMs?: number;
  /** Answer only once this settles (hold a request until the test has broken something else). */
  waitFor?: () => Promise<unknown>;
}

export interface FakeKubeSeed {
  namespaces?: string[];
  /** Namespace objects with their metadata (labels, annotations); their names join `namespaces`. */
  namespaceObjects?: Json[];
  pods?: Json[];
  nodes?: Json[];
  replicaSets?: Json[];
  networkPolicies?: Json[];
  podDisruptionBudgets?: Json[];
  events?: Json[];
  /** "namespace/pod/container" → full log text. */
  logs?: Record<string, string>;
}

export interface FakeKubeState {
  namespaces: Set<string>;
  /** The Namespace objects GET returns, by name (made on first read for a namespace seeded by name only). */
  namespaceObjects: Map<string, Json>;
  pods: Map<string, Json>;
  nodes: Map<string, Json>;
  replicaSets: Map<string, Json>;
  networkPolicies: Map<string, Json>;
  podDisruptionBudgets: Map<string, Json>;
  events: Json[];
  logs: Map<string, string>;
  faults: Fault[];
  exec: (call: ExecCall) => ExecReply;
  /** Runs before each request is handled: tests use it to race the responder (replace a pod between read and write). */
  beforeRequest?: (req: { method: string; path: string }, state: FakeKubeState) => void;
}

export interface FakeKubeApi {
  url: string;
  token: string;
  /** A kubeconfig file pointing at the fake (context "fake"). */
  kubeconfigPath: string;
  kubeconfigYaml: string;
  state: FakeKubeState;
  requests: RecordedRequest[];
  /** Requests that change the objects the responder acts on (anything but GET, Event creation aside), in order. */
  writes(): RecordedRequest[];
  /** Event creations (the audit trail), apart from the writes above. */
  eventWrites(): RecordedRequest[];
  close(): Promise<void>;
}

let rvCounter = 1000;
const nextRv = () => String(++rvCounter);

const isEventCreate = (r: RecordedRequest) => r.method === 'POST' && /^\/api\/v1\/namespaces\/[^/]+\/events$/.test(r.path);

function key(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function status(code: number, reason: string, message: string, details?: Json): Json {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

function notFound(resource: string, name: string, group = ''): Json {
  const qualified = group ? `${resource}.${group}` : resource;
  return status(404, 'NotFound', `${qualified} "${name}" not found`, { name, ...(group ? { group } : {}), kind: resource });
}

class HttpError extends Error {
  readonly body: Json;
  constructor(body: Json) {
    super(String(body.message));
    this.body = body;
  }
}

// ---------- patch semantics ----------

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Json = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** patchMergeKey of the list fields a strategic merge patch merges instead of replacing. */
const STRATEGIC_MERGE_KEYS: Record<string, string> = {
  taints: 'key',
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  conditions: 'type',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  ownerReferences: 'uid',
  tolerations: '',
};

export function strategicMergePatch(target: unknown, patch: unknown, field = ''): unknown {
  if (Array.isArray(patch)) {
    const mergeKey = STRATEGIC_MERGE_KEYS[field];
    if (!mergeKey || !Array.isArray(target)) return structuredClone(patch);
    const out = target.map((x) => structuredClone(x));
    for (const item of patch) {
      if (!isObject(item)) continue;
      const idx = out.findIndex((x) => isObject(x) && x[mergeKey] === item[mergeKey]);
      if (item.$patch === 'delete') {
        if (idx >= 0) out.splice(idx, 1);
      } else if (idx >= 0) out[idx] = strategicMergePatch(out[idx], item);
      else out.push(structuredClone(item));
    }
    return out;
  }
  if (!isObject(patch)) return structuredClone(patch);
  const out: Json = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue;
    if (v === null) delete out[k];
    else out[k] = strategicMergePatch(out[k], v, k);
  }
  return out;
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new Error(`invalid JSON pointer ${path}`);
  return path
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

export function jsonPatch(doc: unknown, ops: Json[]): unknown {
  const root = structuredClone(doc) as Json;
  for (const op of ops) {
    const parts = pointer(String(op.path));
    const last = parts.pop();
    let parent: any = root;
    for (const p of parts) {
      if (parent === undefined || parent === null || typeof parent !== 'object') throw new Error(`missing value at ${op.path}`);
      parent = parent[p];
    }
    if (last === undefined || parent === undefined || parent === null || typeof parent !== 'object') {
      throw new Error(`doc is missing path: "${op.path}": missing value`);
    }
    switch (op.op) {
      case 'add':
        if (Array.isArray(parent)) parent.splice(last === '-' ? parent.length : Number(last), 0, op.value);
        else parent[last] = op.value;
        break;
      case 'replace':
        if (!(last in parent)) throw new Error(`replace operation does not apply: doc is missing key: ${op.path}: missing value`);
        parent[last] = op.value;
        break;
      case 'remove':
        if (!(last in parent)) throw new Error(`remove operation does not apply: doc is missing path: "${op.path}": missing value`);
        if (Array.isArray(parent)) parent.splice(Number(last), 1);
        else delete parent[last];
        break;
      case 'test':
        if (JSON.stringify(parent[last]) !== JSON.stringify(op.value)) throw new Error(`testing value ${op.path} failed: test failed`);
        break;
      default:
        throw new Error(`Unexpected kind: ${String(op.op)}`);
    }
  }
  return root;
}

// ---------- selectors ----------

type Requirement = (labels: Record<string, string>) => boolean;

export function parseLabelSelector(selector: string): Requirement[] {
  const reqs: Requirement[] = [];
  // split on commas that are not inside parentheses
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur !== '') parts.push(cur);
  const keyRe = /^([A-Za-z0-9][-A-Za-z0-9_./]*)$/;
  for (const raw of parts) {
    const part = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^([^!=\s]+)\s*(==|=|!=)\s*([^\s]*)$/.exec(part))) {
      const [, k = '', op, v = ''] = m;
      if (!keyRe.test(k)) throw new Error(`invalid label key "${k}"`);
      reqs.push(op === '!=' ? (l) => l[k] !== v : (l) => l[k] === v);
    } else if ((m = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(part))) {
      const [, k = '', op, list = ''] = m;
      const values = list.split(',').map((s) => s.trim());
      reqs.push(op === 'in' ? (l) => l[k] !== undefined && values.includes(l[k]!) : (l) => l[k] === undefined || !values.includes(l[k]!));
    } else if ((m = /^!(\S+)$/.exec(part))) {
      const k = m[1] ?? '';
      reqs.push((l) => l[k] === undefined);
    } else if (keyRe.test(part)) {
      reqs.push((l) => l[part] !== undefined);
    } else {
      throw new Error(`unable to parse requirement: ${JSON.stringify(part)}`);
    }
  }
  return reqs;
}

const EVENT_FIELDS = new Set([
  'involvedObject.kind',
  'involvedObject.namespace',
  'involvedObject.name',
  'involvedObject.uid',
  'involvedObject.apiVersion',
  'involvedObject.resourceVersion',
  'involvedObject.fieldPath',
  'reason',
  'reportingComponent',
  'source',
  'type',
  'metadata.name',
  'metadata.namespace',
]);

function get(obj: Json, dotted: string): unknown {
  return dotted.split('.').reduce<any>((o, k) => (o === undefined || o === null ? undefined : o[k]), obj);
}

function parseEventFieldSelector(selector: string): (e: Json) => boolean {
  const tests = selector
    .split(',')
    .filter((s) => s !== '')
    .map((part) => {
      const m = /^([^!=]+)(==|=|!=)(.*)$/.exec(part);
      if (!m) throw new HttpError(status(400, 'BadRequest', `invalid selector: '${selector}'; can't understand '${part}'`));
      const [, field = '', op, value] = m;
      if (!EVENT_FIELDS.has(field)) throw new HttpError(status(400, 'BadRequest', `field label not supported: ${field}`));
      return (e: Json) => (op === '!=' ? String(get(e, field) ?? '') !== value : String(get(e, field) ?? '') === value);
    });
  return (e) => tests.every((t) => t(e));
}

/**
 * metav1.LabelSelector as kube-apiserver and the dataplane evaluate it: every
 * matchLabels pair AND every matchExpressions requirement; `{}` selects all.
 * Written apart from the responder's own evaluator on purpose: the fake is the
 * reference the responder is checked against.
 */
export function selectorMatches(selector: Json | undefined, labels: Record<string, string>): boolean {
  const has = (k: string) => Object.prototype.hasOwnProperty.call(labels, k);
  for (const [k, v] of Object.entries(selector?.matchLabels ?? {})) if (!has(k) || labels[k] !== v) return false;
  for (const req of selector?.matchExpressions ?? []) {
    const values: string[] = req.values ?? [];
    switch (req.operator) {
      case 'In':
        if (!has(req.key) || !values.includes(labels[req.key]!)) return false;
        break;
      case 'NotIn':
        if (has(req.key) && values.includes(labels[req.key]!)) return false;
        break;
      case 'Exists':
        if (!has(req.key)) return false;
        break;
      case 'DoesNotExist':
        if (has(req.key)) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

function validateSelector(selector: Json | undefined, field: string): string[] {
  const problems: string[] = [];
  (selector?.matchExpressions ?? []).forEach((req: Json, i: number) => {
    const at = `${field}.matchExpressions[${i}]`;
    if (!['In', 'NotIn', 'Exists', 'DoesNotExist'].includes(req?.operator)) problems.push(`${at}.operator: Invalid value: ${JSON.stringify(req?.operator)}: not a valid selector operator`);
    const n = (req?.values ?? []).length;
    if ((req?.operator === 'In' || req?.operator === 'NotIn') && n === 0) problems.push(`${at}.values: Required value: must be specified when \`operator\` is 'In' or 'NotIn'`);
    if ((req?.operator === 'Exists' || req?.operator === 'DoesNotExist') && n > 0) problems.push(`${at}.values: Forbidden: may not be specified when \`operator\` is 'Exists' or 'DoesNotExist'`);
  });
  return problems;
}

/** Which pods a NetworkPolicy selects in its namespace (for tests that assert what is really isolated). */
export function podsSelectedBy(state: FakeKubeState, policy: Json): Json[] {
  return [...state.pods.values()].filter(
    (p) => p.metadata.namespace === policy.metadata.namespace && selectorMatches(policy.spec?.podSelector, p.metadata.labels ?? {}),
  );
}

// ---------- the server ----------

function isPodReady(pod: Json): boolean {
  return (pod.status?.conditions ?? []).some((c: Json) => c.type === 'Ready' && c.status === 'True');
}

function stamp(obj: Json, namespace?: string): Json {
  obj.metadata ??= {};
  obj.metadata.uid ??= randomUUID();
  obj.metadata.resourceVersion ??= nextRv();
  obj.metadata.creationTimestamp ??= '2026-11-18T09:12:40Z';
  if (namespace !== undefined) obj.metadata.namespace ??= namespace;
  return obj;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function queryOf(url: URL): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const k of new Set(url.searchParams.keys())) {
    const all = url.searchParams.getAll(k);
    out[k] = all.length === 1 ? (all[0] ?? '') : all;
  }
  return out;
}

/** What kube-apiserver stores for a namespace: the immutable name label is set on every one (since 1.21). */
function namespaceObject(obj: Json): Json {
  const named = stamp({ apiVersion: 'v1', kind: 'Namespace', ...obj });
  named.metadata.labels = { ...named.metadata.labels, 'kubernetes.io/metadata.name': named.metadata.name };
  named.spec ??= { finalizers: ['kubernetes'] };
  named.status ??= { phase: 'Active' };
  return named;
}

export function newFakeKubeState(seed: FakeKubeSeed = {}): FakeKubeState {
  const state: FakeKubeState = {
    // Every cluster has "default": it is where events about cluster-scoped objects (nodes) go.
    namespaces: new Set(['default', ...(seed.namespaces ?? [])]),
    namespaceObjects: new Map(),
    pods: new Map(),
    nodes: new Map(),
    replicaSets: new Map(),
    networkPolicies: new Map(),
    podDisruptionBudgets: new Map(),
    events: [],
    logs: new Map(Object.entries(seed.logs ?? {})),
    faults: [],
    exec: () => ({ stdout: '', exitCode: 0 }),
  };
  for (const n of seed.namespaceObjects ?? []) {
    const obj = namespaceObject(structuredClone(n));
    state.namespaces.add(obj.metadata.name);
    state.namespaceObjects.set(obj.metadata.name, obj);
  }
  for (const p of seed.pods ?? []) {
    const pod = stamp(structuredClone(p));
    state.namespaces.add(pod.metadata.namespace);
    state.pods.set(key(pod.metadata.namespace, pod.metadata.name), pod);
  }
  for (const n of seed.nodes ?? []) state.nodes.set(n.metadata.name, stamp(structuredClone(n)));
  for (const r of seed.replicaSets ?? []) {
    const rs = stamp(structuredClone(r));
    state.replicaSets.set(key(rs.metadata.namespace, rs.metadata.name), rs);
  }
  for (const np of seed.networkPolicies ?? []) {
    const obj = stamp(structuredClone(np));
    state.networkPolicies.set(key(obj.metadata.namespace, obj.metadata.name), obj);
  }
  for (const pdb of seed.podDisruptionBudgets ?? []) {
    const obj = stamp(structuredClone(pdb));
    state.podDisruptionBudgets.set(key(obj.metadata.namespace, obj.metadata.name), obj);
  }
  for (const e of seed.events ?? []) state.events.push(stamp(structuredClone(e)));
  return state;
}

export async function startFakeKubeApi(options: { seed?: FakeKubeSeed; token?: string } = {}): Promise<FakeKubeApi> {
  const state = newFakeKubeState(options.seed);
  const token = options.token ?? 'fake-kube-token';
  const requests: RecordedRequest[] = [];

  function takeFault(method: string, path: string): Fault | undefined {
    const idx = state.faults.findIndex((f) => (f.method === undefined || f.method === method) && f.path.test(path));
    if (idx < 0) return undefined;
    const fault = state.faults[idx]!;
    const left = (fault.times ?? 1) - 1;
    if (left <= 0) state.faults.splice(idx, 1);
    else fault.times = left;
    return fault;
  }

  function requirePod(ns: string, name: string): Json {
    const pod = state.pods.get(key(ns, name));
    if (!pod) throw new HttpError(notFound('pods', name));
    return pod;
  }

  function parseJsonBody(text: string, contentType: string | null): unknown {
    if (text === '') return undefined;
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new HttpError(status(400, 'BadRequest', `the body of the request was not valid JSON (${contentType}): ${(e as Error).message}`));
    }
  }

  function requireJsonContent(contentType: string | null): void {
    if (contentType !== 'application/json') {
      throw new HttpError(
        status(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf`),
      );
    }
  }

  function applyPatch(current: Json, contentType: string | null, text: string): Json {
    switch (contentType) {
      case 'application/merge-patch+json':
        return mergePatch(current, parseJsonBody(text, contentType)) as Json;
      case 'application/strategic-merge-patch+json':
        return strategicMergePatch(current, parseJsonBody(text, contentType)) as Json;
      case 'application/json-patch+json': {
        const ops = parseJsonBody(text, contentType);
        if (!Array.isArray(ops)) {
          const kind = isObject(ops) ? 'object' : typeof ops;
          throw new HttpError(status(400, 'BadRequest', `json: cannot unmarshal ${kind} into Go value of type []handlers.jsonPatchOp`));
        }
        try {
          return jsonPatch(current, ops as Json[]) as Json;
        } catch (e) {
          throw new HttpError(status(422, 'Invalid', `the server rejected our request due to an error in our request: ${(e as Error).message}`));
        }
      }
      default:
        throw new HttpError(
          status(
            415,
            'UnsupportedMediaType',
            'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json',
          ),
        );
    }
  }

  /** What kube-apiserver checks after any patch: name/namespace/uid are immutable, a given resourceVersion must match. */
  function finishPatch(kind: string, resource: string, current: Json, patched: Json): Json {
    const name = current.metadata.name;
    if (patched.metadata?.resourceVersion !== undefined && patched.metadata.resourceVersion !== current.metadata.resourceVersion) {
      throw new HttpError(
        status(409, 'Conflict', `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, kind: resource }),
      );
    }
    for (const field of ['uid', 'name', 'namespace'] as const) {
      if (patched.metadata?.[field] !== current.metadata[field]) {
        throw new HttpError(
          status(422, 'Invalid', `${kind} "${name}" is invalid: metadata.${field}: Invalid value: ${JSON.stringify(patched.metadata?.[field] ?? '')}: field is immutable`, {
            name,
            kind: resource,
            causes: [{ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(patched.metadata?.[field] ?? '')}: field is immutable`, field: `metadata.${field}` }],
          }),
        );
      }
    }
    const invalid: string[] = [];
    for (const [k, v] of Object.entries((patched.metadata?.labels ?? {}) as Record<string, unknown>)) {
      const slash = k.lastIndexOf('/');
      const keyName = slash >= 0 ? k.slice(slash + 1) : k;
      if (!/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(keyName) || keyName.length > 63) invalid.push(`metadata.labels: Invalid value: ${JSON.stringify(k)}: name part must consist of alphanumeric characters, '-', '_' or '.'`);
      if (typeof v !== 'string' || (v !== '' && (!/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(v) || v.length > 63))) invalid.push(`metadata.labels: Invalid value: ${JSON.stringify(v)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.'`);
    }
    // kube-apiserver caps the total size of all annotation keys and values at 256 KiB.
    const annotationBytes = Object.entries((patched.metadata?.annotations ?? {}) as Record<string, unknown>).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(String(v)), 0);
    if (annotationBytes > 262_144) invalid.push(`metadata.annotations: Too long: may not be more than 262144 bytes`);
    if (invalid.length > 0) throw new HttpError(status(422, 'Invalid', `${kind} "${name}" is invalid: ${invalid.join(', ')}`, { name, kind: resource }));
    if (patched.spec?.taints !== undefined && !Array.isArray(patched.spec.taints)) {
      throw new HttpError(status(400, 'BadRequest', 'json: cannot unmarshal object into Go struct field NodeSpec.spec.taints of type []v1.Taint'));
    }
    patched.metadata.resourceVersion = nextRv();
    return patched;
  }

  function checkUidPrecondition(resource: string, obj: Json, preconditions: Json | undefined): void {
    const uid = preconditions?.uid;
    if (uid !== undefined && uid !== obj.metadata.uid) {
      const name = obj.metadata.name;
      throw new HttpError(
        status(409, 'Conflict', `Operation cannot be fulfilled on ${resource} "${name}": Precondition failed: UID in precondition: ${uid}, UID in object meta: ${obj.metadata.uid}`, {
          name,
          kind: resource,
        }),
      );
    }
    const rv = preconditions?.resourceVersion;
    if (rv !== undefined && rv !== obj.metadata.resourceVersion) {
      throw new HttpError(
        status(409, 'Conflict', `Operation cannot be fulfilled on ${resource} "${obj.metadata.name}": Precondition failed: ResourceVersion in precondition: ${rv}, ResourceVersion in object meta: ${obj.metadata.resourceVersion}`),
      );
    }
  }

  function markDeleted(pod: Json, grace: number): void {
    if (pod.metadata.deletionTimestamp) return;
    if (grace === 0) {
      state.pods.delete(key(pod.metadata.namespace, pod.metadata.name));
      return;
    }
    pod.metadata.deletionTimestamp = new Date(Date.now() + grace * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    pod.metadata.deletionGracePeriodSeconds = grace;
    pod.metadata.resourceVersion = nextRv();
  }

  function evict(ns: string, name: string, body: Json): { code: number; body: Json } {
    const pod = requirePod(ns, name);
    if (body?.kind !== 'Eviction' || body?.apiVersion !== 'policy/v1') {
      throw new HttpError(status(400, 'BadRequest', `the body of the request is not a policy/v1 Eviction`));
    }
    checkUidPrecondition('pods', pod, body.deleteOptions?.preconditions);
    const labels: Record<string, string> = pod.metadata.labels ?? {};
    const pdbs = [...state.podDisruptionBudgets.values()].filter(
      (p) => p.metadata.namespace === ns && selectorMatches(p.spec?.selector, labels),
    );
    if (pdbs.length > 1) {
      throw new HttpError(status(500, 'InternalError', 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.'));
    }
    const pdb = pdbs[0];
    // A pod that is not ready does not count against the budget (kube-apiserver's unhealthy pod eviction rule).
    if (pdb && isPodReady(pod) && !pod.metadata.deletionTimestamp) {
      const allowed = Number(pdb.status?.disruptionsAllowed ?? 0);
      if (allowed <= 0) {
        const healthy = Number(pdb.status?.currentHealthy ?? 0);
        const desired = Number(pdb.status?.desiredHealthy ?? healthy);
        throw new HttpError(
          status(429, 'TooManyRequests', "Cannot evict pod as it would violate the pod's disruption budget.", {
            causes: [
              {
                reason: 'DisruptionBudget',
                message: `The disruption budget ${pdb.metadata.name} needs ${desired} healthy pods and has ${healthy} currently`,
              },
            ],
          }),
        );
      }
      pdb.status = { ...pdb.status, disruptionsAllowed: allowed - 1 };
    }
    const grace = body.deleteOptions?.gracePeriodSeconds ?? 30;
    markDeleted(pod, grace);
    return { code: 201, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 } };
  }

  async function route(req: IncomingMessage, url: URL, text: string, contentType: string | null): Promise<{ code: number; body: Json | string }> {
    const method = req.method ?? 'GET';
    const path = url.pathname;
    let m: RegExpExecArray | null;

    if ((m = /^\/api\/v1\/namespaces\/([^/]+)$/.exec(path)) && method === 'GET') {
      const name = decodeURIComponent(m[1]!);
      if (!state.namespaces.has(name)) throw new HttpError(notFound('namespaces', name));
      let ns = state.namespaceObjects.get(name);
      if (!ns) {
        ns = namespaceObject({ metadata: { name } });
        state.namespaceObjects.set(name, ns);
      }
      return { code: 200, body: ns };
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(path)) && method === 'GET') {
      const ns = decodeURIComponent(m[1]!);
      let reqs: Requirement[] = [];
      try {
        reqs = parseLabelSelector(url.searchParams.get('labelSelector') ?? '');
      } catch (e) {
        throw new HttpError(status(400, 'BadRequest', `unable to parse requirement: ${(e as Error).message}`));
      }
      const items = [...state.pods.values()].filter(
        (p) => p.metadata.namespace === ns && reqs.every((r) => r(p.metadata.labels ?? {})),
      );
      return { code: 200, body: { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: String(rvCounter) }, items } };
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(path))) {
      const [ns, name] = [decodeURIComponent(m[1]!), decodeURIComponent(m[2]!)];
      if (method === 'GET') return { code: 200, body: requirePod(ns, name) };
      if (method === 'PATCH') {
        const pod = requirePod(ns, name);
        const patched = finishPatch('Pod', 'pods', pod, applyPatch(pod, contentType, text));
        state.pods.set(key(ns, name), patched);
        return { code: 200, body: patched };
      }
      if (method === 'DELETE') {
        const pod = requirePod(ns, name);
        const body = text === '' ? {} : (parseJsonBody(text, contentType) as Json);
        checkUidPrecondition('pods', pod, body?.preconditions);
        const q = url.searchParams.get('gracePeriodSeconds');
        const grace = q !== null ? Number(q) : (body?.gracePeriodSeconds ?? 30);
        markDeleted(pod, grace);
        return { code: 200, body: state.pods.get(key(ns, name)) ?? pod };
      }
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/eviction$/.exec(path)) && method === 'POST') {
      requireJsonContent(contentType);
      return evict(decodeURIComponent(m[1]!), decodeURIComponent(m[2]!), parseJsonBody(text, contentType) as Json);
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/log$/.exec(path)) && method === 'GET') {
      const [ns, name] = [decodeURIComponent(m[1]!), decodeURIComponent(m[2]!)];
      const pod = requirePod(ns, name);
      const names: string[] = (pod.spec?.containers ?? []).map((c: Json) => c.name);
      let container = url.searchParams.get('container');
      if (container === null) {
        if (names.length !== 1) {
          throw new HttpError(status(400, 'BadRequest', `a container name must be specified for pod ${name}, choose one of: [${names.join(' ')}]`));
        }
        container = names[0]!;
      }
      if (!names.includes(container)) throw new HttpError(status(400, 'BadRequest', `container ${container} is not valid for pod ${name}`));
      let log = state.logs.get(`${ns}/${name}/${container}`) ?? '';
      const tail = url.searchParams.get('tailLines');
      if (tail !== null) {
        const lines = log.split('\n');
        if (lines[lines.length - 1] === '') lines.pop();
        log = lines.slice(Math.max(0, lines.length - Number(tail))).map((l) => `${l}\n`).join('');
      }
      return { code: 200, body: log };
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/events$/.exec(path)) && method === 'POST') {
      requireJsonContent(contentType);
      const ns = decodeURIComponent(m[1]!);
      if (!state.namespaces.has(ns)) throw new HttpError(notFound('namespaces', ns));
      const body = parseJsonBody(text, contentType) as Json;
      const invalid: string[] = [];
      const name = body?.metadata?.name ?? (typeof body?.metadata?.generateName === 'string' ? `${body.metadata.generateName}${randomUUID().slice(0, 5)}` : undefined);
      if (typeof name !== 'string') invalid.push('metadata.name: Required value: name or generateName is required');
      if (!isObject(body?.involvedObject)) invalid.push('involvedObject: Required value');
      else if (body.involvedObject.namespace !== undefined && body.involvedObject.namespace !== ns) {
        invalid.push(`involvedObject.namespace: Invalid value: ${JSON.stringify(body.involvedObject.namespace)}: does not match event.namespace`);
      }
      if (typeof body?.reason !== 'string' || body.reason === '') invalid.push('reason: Required value');
      if (typeof body?.message === 'string' && body.message.length > 1024) invalid.push('message: Too long: may not be more than 1024 bytes');
      if (invalid.length > 0) throw new HttpError(status(422, 'Invalid', `Event ${JSON.stringify(name ?? '')} is invalid: ${invalid.join(', ')}`));
      const created = stamp({ apiVersion: 'v1', kind: 'Event', ...structuredClone(body), metadata: { ...body.metadata, name, namespace: ns } }, ns);
      state.events.push(created);
      return { code: 201, body: created };
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/events$/.exec(path)) && method === 'GET') {
      const ns = decodeURIComponent(m[1]!);
      const test = parseEventFieldSelector(url.searchParams.get('fieldSelector') ?? '');
      const items = state.events.filter((e) => e.metadata.namespace === ns && test(e));
      return { code: 200, body: { kind: 'EventList', apiVersion: 'v1', metadata: { resourceVersion: String(rvCounter) }, items } };
    }
    if ((m = /^\/api\/v1\/nodes\/([^/]+)$/.exec(path))) {
      const name = decodeURIComponent(m[1]!);
      const node = state.nodes.get(name);
      if (!node) throw new HttpError(notFound('nodes', name));
      if (method === 'GET') return { code: 200, body: node };
      if (method === 'PATCH') {
        const patched = finishPatch('Node', 'nodes', node, applyPatch(node, contentType, text));
        state.nodes.set(name, patched);
        return { code: 200, body: patched };
      }
    }
    if ((m = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/replicasets\/([^/]+)$/.exec(path)) && method === 'GET') {
      const [ns, name] = [decodeURIComponent(m[1]!), decodeURIComponent(m[2]!)];
      const rs = state.replicaSets.get(key(ns, name));
      if (!rs) throw new HttpError(notFound('replicasets', name, 'apps'));
      return { code: 200, body: rs };
    }
    if ((m = /^\/apis\/networking\.k8s\.io\/v1\/namespaces\/([^/]+)\/networkpolicies$/.exec(path)) && method === 'POST') {
      requireJsonContent(contentType);
      const ns = decodeURIComponent(m[1]!);
      if (!state.namespaces.has(ns)) throw new HttpError(notFound('namespaces', ns));
      const body = parseJsonBody(text, contentType) as Json;
      const name = body?.metadata?.name;
      const invalid: string[] = [];
      if (typeof name !== 'string' || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(name) || name.length > 253) {
        invalid.push(`metadata.name: Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`);
      }
      if (body?.metadata?.namespace !== undefined && body.metadata.namespace !== ns) {
        throw new HttpError(status(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request'));
      }
      if (!isObject(body?.spec?.podSelector)) invalid.push('spec.podSelector: Required value');
      else invalid.push(...validateSelector(body.spec.podSelector, 'spec.podSelector'));
      for (const t of body?.spec?.policyTypes ?? []) {
        if (t !== 'Ingress' && t !== 'Egress') invalid.push(`spec.policyTypes: Unsupported value: ${JSON.stringify(t)}`);
      }
      if (invalid.length > 0) {
        throw new HttpError(status(422, 'Invalid', `NetworkPolicy.networking.k8s.io ${JSON.stringify(name ?? '')} is invalid: ${invalid.join(', ')}`));
      }
      if (state.networkPolicies.has(key(ns, name))) {
        throw new HttpError(
          status(409, 'AlreadyExists', `networkpolicies.networking.k8s.io "${name}" already exists`, { name, group: 'networking.k8s.io', kind: 'networkpolicies' }),
        );
      }
      const created = stamp({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', ...structuredClone(body) }, ns);
      created.metadata.generation = 1;
      created.metadata.uid = randomUUID();
      created.metadata.resourceVersion = nextRv();
      created.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
      state.networkPolicies.set(key(ns, name), created);
      return { code: 201, body: created };
    }
    if ((m = /^\/apis\/networking\.k8s\.io\/v1\/namespaces\/([^/]+)\/networkpolicies$/.exec(path)) && method === 'GET') {
      const ns = decodeURIComponent(m[1]!);
      const items = [...state.networkPolicies.values()].filter((np) => np.metadata.namespace === ns);
      return { code: 200, body: { kind: 'NetworkPolicyList', apiVersion: 'networking.k8s.io/v1', metadata: { resourceVersion: String(rvCounter) }, items } };
    }
    if ((m = /^\/apis\/networking\.k8s\.io\/v1\/namespaces\/([^/]+)\/networkpolicies\/([^/]+)$/.exec(path))) {
      const [ns, name] = [decodeURIComponent(m[1]!), decodeURIComponent(m[2]!)];
      const np = state.networkPolicies.get(key(ns, name));
      if (!np) throw new HttpError(notFound('networkpolicies', name, 'networking.k8s.io'));
      if (method === 'GET') return { code: 200, body: np };
      if (method === 'PATCH') {
        const patched = finishPatch('NetworkPolicy.networking.k8s.io', 'networkpolicies.networking.k8s.io', np, applyPatch(np, contentType, text));
        const invalid = validateSelector(patched.spec?.podSelector, 'spec.podSelector');
        if (invalid.length > 0) {
          throw new HttpError(status(422, 'Invalid', `NetworkPolicy.networking.k8s.io ${JSON.stringify(name)} is invalid: ${invalid.join(', ')}`));
        }
        patched.metadata.generation = Number(np.metadata.generation ?? 1) + 1;
        state.networkPolicies.set(key(ns, name), patched);
        return { code: 200, body: patched };
      }
      if (method === 'DELETE') {
        const body = text === '' ? {} : (parseJsonBody(text, contentType) as Json);
        checkUidPrecondition('networkpolicies.networking.k8s.io', np, body?.preconditions);
        state.networkPolicies.delete(key(ns, name));
        return { code: 200, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: 'networking.k8s.io', kind: 'networkpolicies', uid: np.metadata.uid } } };
      }
    }
    throw new HttpError(status(404, 'NotFound', 'the server could not find the requested resource'));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const text = await readBody(req);
    const contentType = req.headers['content-type']?.split(';')[0]?.trim() ?? null;
    const method = req.method ?? 'GET';
    const record: RecordedRequest = { method, path: url.pathname, query: queryOf(url), contentType, body: undefined, status: 0 };
    try {
      record.body = text === '' ? undefined : JSON.parse(text);
    } catch {
      record.body = text;
    }
    requests.push(record);
    let code: number;
    let body: Json | string;
    try {
      if (req.headers.authorization !== `Bearer ${token}`) {
        throw new HttpError(status(401, 'Unauthorized', 'Unauthorized'));
      }
      state.beforeRequest?.({ method, path: url.pathname }, state);
      const fault = takeFault(method, url.pathname);
      if (fault?.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
      if (fault?.waitFor !== undefined) await fault.waitFor().catch(() => undefined);
      if (fault?.status !== undefined) {
        throw new HttpError(
          status(fault.status, fault.reason ?? 'InternalError', fault.message ?? `injected fault ${fault.status}`, fault.causes ? { causes: fault.causes } : undefined),
        );
      }
      ({ code, body } = await route(req, url, text, contentType));
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      code = error.body.code;
      body = error.body;
    }
    record.status = code;
    if (typeof body === 'string') {
      res.writeHead(code, { 'content-type': 'text/plain' });
      res.end(body);
    } else {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify(status(500, 'InternalError', `fake kube-apiserver bug: ${String(error)}`)));
    });
  });

  // exec: WebSocket upgrade, v4.channel.k8s.io framing (1 stdout, 2 stderr, 3 status).
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const record: RecordedRequest = { method: 'GET', path: url.pathname, query: queryOf(url), contentType: null, body: undefined, status: 0 };
    requests.push(record);
    const refuse = (body: Json) => {
      record.status = body.code;
      const text = JSON.stringify(body);
      socket.end(`HTTP/1.1 ${body.code} ${body.reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
    };
    if (req.headers.authorization !== `Bearer ${token}`) return refuse(status(401, 'Unauthorized', 'Unauthorized'));
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec$/.exec(url.pathname);
    if (!m) return refuse(status(404, 'NotFound', 'the server could not find the requested resource'));
    const [ns, name] = [decodeURIComponent(m[1]!), decodeURIComponent(m[2]!)];
    const pod = state.pods.get(key(ns, name));
    if (!pod) return refuse(notFound('pods', name));
    const container = url.searchParams.get('container') ?? '';
    if (!(pod.spec?.containers ?? []).some((c: Json) => c.name === container)) {
      return refuse(status(400, 'BadRequest', `container ${container} is not valid for pod ${name}`));
    }
    const protocols = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim());
    if (!protocols.includes('v4.channel.k8s.io')) return refuse(status(400, 'BadRequest', 'no supported exec subprotocol'));
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    record.status = 101;
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n`,
    );
    socket.on('data', () => {
      // client frames (close, stdin) are not needed: nothing reads stdin here
    });
    socket.on('error', () => {});
    const reply = state.exec({ namespace: ns, pod: name, container, command: url.searchParams.getAll('command') });
    if (reply.hang) return;
    const frame = (opcode: number, payload: Buffer) => {
      const len = payload.length;
      const head =
        len < 126
          ? Buffer.from([0x80 | opcode, len])
          : len < 65536
            ? Buffer.from([0x80 | opcode, 126, len >> 8, len & 0xff])
            : Buffer.concat([Buffer.from([0x80 | opcode, 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(len)); return b; })()]);
      socket.write(Buffer.concat([head, payload]));
    };
    const channel = (n: number, data: string) => frame(0x2, Buffer.concat([Buffer.from([n]), Buffer.from(data, 'utf8')]));
    if (reply.stdout) channel(1, reply.stdout);
    if (reply.stderr) channel(2, reply.stderr);
    const exitCode = reply.exitCode ?? 0;
    channel(
      3,
      JSON.stringify(
        exitCode === 0
          ? { metadata: {}, status: 'Success' }
          : {
              metadata: {},
              status: 'Failure',
              message: `command terminated with non-zero exit code: exit status ${exitCode}`,
              reason: 'NonZeroExitCode',
              details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
            },
      ),
    );
    frame(0x8, Buffer.from([0x03, 0xe8]));
    socket.end();
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const dir = mkdtempSync(join(tmpdir(), 'fake-kube-'));
  const kubeconfigYaml = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: fake',
    '  cluster:',
    `    server: ${url}`,
    '    insecure-skip-tls-verify: true',
    'users:',
    '- name: fake',
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: fake',
    '  context: {cluster: fake, user: fake}',
    'current-context: fake',
    '',
  ].join('\n');
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigPath, kubeconfigYaml, { mode: 0o600 });

  return {
    url,
    token,
    kubeconfigPath,
    kubeconfigYaml,
    state,
    requests,
    writes: () => requests.filter((r) => r.method !== 'GET' && !isEventCreate(r)),
    eventWrites: () => requests.filter(isEventCreate),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
