// Cloud Logging query language builders. Every value is quoted and escaped so
// that a crafted finding can never close the string and widen the filter.
import type { Target } from '../finding/target.ts';

export type EvidenceKind = 'pod-logs' | 'cluster-audit-logs' | 'node-logs' | 'node-serial-console';

export interface TimeWindow {
  start: string;
  end: string;
}

export interface EvidenceQuery {
  kind: EvidenceKind;
  filter: string;
  /** Always the cluster's project: the client would otherwise default to the function's own. */
  resourceNames: string[];
  window: TimeWindow;
}

/** Quotes a value as a Logging query string literal. Control characters are escaped, never passed through. */
export function quoteFilterValue(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '\\') out += '\\\\';
    else if (ch === '"') out += '\\"';
    else if (
      code < 0x20 ||
      code === 0x7f ||
      (code >= 0x80 && code < 0xa0) ||
      code === 0x2028 ||
      code === 0x2029 ||
      // A lone surrogate would be turned into U+FFFD on the wire: escape it so the value stays exact.
      (code >= 0xd800 && code <= 0xdfff)
    ) {
      out += `\\u${code.toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return `${out}"`;
}

function eq(field: string, value: string): string {
  return `${field}=${quoteFilterValue(value)}`;
}

function windowClause(window: TimeWindow): string {
  // Mentioning `timestamp` also stops the client from adding its own 24 h bound.
  return `timestamp>=${quoteFilterValue(window.start)} AND timestamp<=${quoteFilterValue(window.end)}`;
}

/**
 * The query with its time window cut out: what stays the same for every
 * finding on one target (pod, node) whatever its event time. Keys the
 * per-target sharing of Logging reads during a burst.
 */
export function targetOf(query: Pick<EvidenceQuery, 'kind' | 'filter' | 'resourceNames' | 'window'>): string {
  return JSON.stringify([query.kind, [...query.resourceNames].sort(), query.filter.split(windowClause(query.window)).join('<window>')]);
}

export function evidenceWindow(eventTime: Date, beforeMinutes: number, afterMinutes: number): TimeWindow {
  const t = eventTime.getTime();
  return {
    start: new Date(t - beforeMinutes * 60_000).toISOString(),
    end: new Date(t + afterMinutes * 60_000).toISOString(),
  };
}

const POD_SUBRESOURCES = ['', '/exec', '/attach', '/portforward', '/log', '/eviction', '/binding', '/status', '/ephemeralcontainers'];

/** The resource-label clauses every GKE log entry of this cluster carries. */
function clusterClauses(resourceType: string, target: Target): string[] {
  return [
    eq('resource.type', resourceType),
    eq('resource.labels.project_id', target.project),
    eq('resource.labels.location', target.location),
    eq('resource.labels.cluster_name', target.cluster),
  ];
}

function k8sNodeClauses(target: Target & { node: string }): string[] {
  return [...clusterClauses('k8s_node', target), eq('resource.labels.node_name', target.node)];
}

function serialConsoleClauses(project: string, instanceId: string): string[] {
  return [
    eq('resource.type', 'gce_instance'),
    eq('resource.labels.instance_id', instanceId),
    eq('logName', `projects/${project}/logs/serialconsole.googleapis.com%2Fserial_port_1_output`),
  ];
}

function query(kind: EvidenceKind, project: string, filter: string, window: TimeWindow): EvidenceQuery {
  return { kind, filter, resourceNames: [`projects/${project}`], window };
}

export function podLogsQuery(target: Target & { namespace: string; pod: string }, window: TimeWindow): EvidenceQuery {
  const clauses = [
    ...clusterClauses('k8s_container', target),
    eq('resource.labels.namespace_name', target.namespace),
    eq('resource.labels.pod_name', target.pod),
  ];
  if (target.container) clauses.push(eq('resource.labels.container_name', target.container));
  clauses.push(windowClause(window));
  return query('pod-logs', target.project, clauses.join(' AND '), window);
}

/**
 * Admin-activity audit entries for this pod and its subresources (exec, attach, …),
 * matched exactly: a substring match on "pods/web" would also pull in "pods/web-2".
 */
export function clusterAuditQuery(target: Target & { namespace: string; pod: string }, window: TimeWindow): EvidenceQuery {
  const base = `core/v1/namespaces/${target.namespace}/pods/${target.pod}`;
  const names = POD_SUBRESOURCES.map((sub) => quoteFilterValue(base + sub)).join(' OR ');
  const clauses = [
    eq('logName', `projects/${target.project}/logs/cloudaudit.googleapis.com%2Factivity`),
    ...clusterClauses('k8s_cluster', target),
    `protoPayload.resourceName=(${names})`,
    windowClause(window),
  ];
  return query('cluster-audit-logs', target.project, clauses.join(' AND '), window);
}

export function nodeLogsQuery(target: Target & { node: string }, window: TimeWindow): EvidenceQuery {
  return query('node-logs', target.project, [...k8sNodeClauses(target), windowClause(window)].join(' AND '), window);
}

/** GCE instance ids are unsigned 64-bit integers; anything else did not come from a real Node annotation. */
export function isGceInstanceId(value: string): boolean {
  return /^[0-9]{1,20}$/.test(value);
}

/**
 * One query for everything about the node: its k8s_node logs (kubelet, container runtime)
 * and, when the instance id is known, the VM's serial console. One query instead of two keeps
 * the per-finding cost at three entries.list calls (quota: 60 a minute per project).
 */
export function nodeEvidenceQuery(target: Target & { node: string }, instanceId: string | null, window: TimeWindow): EvidenceQuery {
  if (instanceId === null) return nodeLogsQuery(target, window);
  const k8sNode = k8sNodeClauses(target).join(' AND ');
  const serial = serialConsoleClauses(target.project, instanceId).join(' AND ');
  return query('node-logs', target.project, `((${k8sNode}) OR (${serial})) AND ${windowClause(window)}`, window);
}

/** The node VM's serial console; the instance id comes from the Node's `container.googleapis.com/instance_id` annotation. */
export function nodeSerialConsoleQuery(project: string, instanceId: string, window: TimeWindow): EvidenceQuery {
  return query('node-serial-console', project, [...serialConsoleClauses(project, instanceId), windowClause(window)].join(' AND '), window);
}
