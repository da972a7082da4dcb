// `scc-responder release`: find the incident (from the finding, or by id in the
// ledger), ask the ledger whether another open incident holds the node, undo
// this incident's quarantine on its cluster (src/actions/release.ts), record the
// release in the ledger and send its summary to the same sinks as a response.
// Only ports here: the composition root (src/cli.ts) hands in the adapters.
import { incidentOfFinding } from '../actions/action.ts';
import type { ClusterConnector } from '../actions/kube-api.ts';
import { decodeInput } from '../core/finding/envelope.ts';
import { PermanentError } from '../core/errors.ts';
import { isInForce, type ActionOutcome } from '../core/plan/outcome.ts';
import { plan as makePlan } from '../core/plan/plan.ts';
import type { Policy } from '../core/policy/policy.ts';
import type { IncidentRecord, IncidentStore, StepLogger, SummarySink } from '../core/ports.ts';
import type { FindingKey } from '../core/finding/key.ts';
import { buildReleaseSummary } from '../core/summary/release-summary.ts';
import { type Summary } from '../core/summary/document.ts';
import { findingKey } from '../core/finding/key.ts';
import { noLedgerSession, type ReportDeps } from './ledger-session.ts';
import { deliverSummary } from './summary-delivery.ts';

export interface ReleaseFlowDeps {
  policy: Policy;
  now: () => Date;
  log: StepLogger;
  /** Loaded only here: the cluster access (Container API or the policy's kubeconfig mapping). */
  connector: () => Promise<ClusterConnector>;
  /** The ledger's read side; absent → the release is not recorded and the node stays cordoned. */
  incidents?: () => Promise<IncidentStore>;
  summarySinks?: () => Promise<SummarySink[]>;
  sleep?: ReportDeps['sleep'];
}

export type ReleaseSubject = { finding: unknown } | { incidentId: string };

export interface ReleaseFlowOptions {
  dryRun: boolean;
  /** `projects/P/locations/L/clusters/C`: required with an incident id whose record has no cluster. */
  cluster?: string;
  by?: string | null;
}

export interface ReleaseFlowResult {
  summary: Summary;
  outcomes: ActionOutcome[];
}

interface Resolved {
  key: FindingKey;
  clusterName: string;
  target: Summary['target'];
}

const CLUSTER_NAME = /^projects\/([^/]+)\/locations\/([^/]+)\/clusters\/([^/]+)$/;
/** How far back the ledger is searched for an incident id or for other incidents on the node (its TTL). */
const LOOKBACK_MS = 30 * 86_400_000;

function emptyTarget(): Summary['target'] {
  return { project: null, location: null, cluster: null, namespace: null, pod: null, container: null, image: null, imageId: null, node: null, problems: [] };
}

function resolveFromFinding(input: unknown, policy: Policy, now: Date): Resolved {
  const decoded = decodeInput(input);
  const p = makePlan(decoded, policy, now);
  if (p.target === null) throw new PermanentError(`cannot release: ${p.reason}`);
  if (p.targetProblems.length > 0 && (p.target.namespace === null || p.target.pod === null)) {
    throw new PermanentError(`cannot release: ${p.targetProblems.join('; ')}`);
  }
  const t = p.target;
  return {
    key: findingKey(decoded.notification.finding),
    clusterName: t.clusterName,
    target: { ...emptyTarget(), project: t.project, location: t.location, cluster: t.cluster, namespace: t.namespace, pod: t.pod, container: t.container, image: t.image, node: t.node, problems: p.targetProblems },
  };
}

function resolveFromRecord(id: string, records: readonly IncidentRecord[], cluster: string | undefined): Resolved {
  const matches = records.filter((r) => r.id === id || (r.findingName !== null && r.findingName.endsWith(`/findings/${id}`)));
  // The most recent occurrence of that finding (records come most recently changed first).
  const record = matches[0];
  if (record === undefined) throw new PermanentError(`no incident ${JSON.stringify(id.slice(0, 80))} in the ledger (last 30 days)`);
  const target = record.summary?.target ?? emptyTarget();
  const clusterName =
    cluster ?? (target.project && target.location && target.cluster ? `projects/${target.project}/locations/${target.location}/clusters/${target.cluster}` : null);
  if (clusterName === null) throw new PermanentError('the ledger record names no cluster: pass --cluster projects/P/locations/L/clusters/C');
  return { key: { id: record.id, findingName: record.findingName, eventTime: record.eventTime }, clusterName, target };
}

/** Open incidents (never released for real) that cordoned, or found cordoned, the same node. */
function othersOnNode(records: readonly IncidentRecord[], self: Resolved, node: string | null): string[] {
  if (node === null) return [];
  const m = CLUSTER_NAME.exec(self.clusterName);
  return records
    .filter((r) => r.id !== self.key.id && (r.release === null || r.release.dryRun))
    .filter((r) => r.outcomes.some((o) => o.type === 'cordon-node' && isInForce(o.status)))
    .filter((r) => r.summary?.target.node === node && (m === null || (r.summary.target.project === m[1] && r.summary.target.cluster === m[3])))
    .map((r) => incidentOfFinding(r.findingName).id);
}

export async function releaseIncident(subject: ReleaseSubject, options: ReleaseFlowOptions, deps: ReleaseFlowDeps): Promise<ReleaseFlowResult> {
  const now = deps.now();
  const store = deps.incidents ? await deps.incidents() : undefined;
  const records = store ? await store.listIncidents(new Date(now.getTime() - LOOKBACK_MS)) : null;
  let resolved: Resolved;
  if ('finding' in subject) {
    resolved = resolveFromFinding(subject.finding, deps.policy, now);
    if (options.cluster !== undefined) resolved.clusterName = options.cluster;
  } else {
    if (records === null) throw new PermanentError('--incident needs a ledger to look the incident up: pass --finding FILE instead');
    resolved = resolveFromRecord(subject.incidentId, records, options.cluster);
  }
  const incident = incidentOfFinding(resolved.key.findingName);
  const ids = { finding: resolved.key.findingName, incident: incident.id };
  const connector = await deps.connector();
  const [kube, { runRelease }] = await Promise.all([connector.connect(resolved.clusterName), import('../actions/release.ts')]);
  const result = await runRelease(
    kube,
    deps.policy,
    {
      incident,
      occurrence: resolved.key.id,
      namespace: resolved.target.namespace,
      pod: resolved.target.pod,
      node: resolved.target.node,
      dryRun: options.dryRun,
      nodeHeldBy: records === null ? null : othersOnNode(records, resolved, resolved.target.node),
      releasedFindings: new Set((records ?? []).filter((r) => r.release !== null && !r.release.dryRun && r.findingName !== null).map((r) => r.findingName!)),
    },
    now,
  );
  const warnings = [...result.warnings];
  for (const o of result.outcomes) deps.log.log(o.status === 'failed' ? 'ERROR' : 'NOTICE', `release:${o.type}`, o.reason, { ...ids, status: o.status });
  if (store) {
    try {
      await store.recordRelease(resolved.key, { at: now.toISOString(), by: options.by ?? null, dryRun: options.dryRun, outcomes: result.outcomes }, now);
    } catch (error) {
      warnings.push(`release not recorded in the ledger: ${error instanceof Error ? error.message : String(error)}`);
    }
  } else {
    warnings.push('no ledger: this release is not recorded');
  }
  const summary = buildReleaseSummary({ key: resolved.key, target: resolved.target, outcomes: result.outcomes, warnings, dryRun: options.dryRun, rules: deps.policy.redaction, now });
  const reportDeps: ReportDeps = { now: deps.now, log: deps.log, ...(deps.summarySinks ? { summarySinks: deps.summarySinks } : {}), ...(deps.sleep ? { sleep: deps.sleep } : {}) };
  await deliverSummary(summary, noLedgerSession(''), reportDeps, ids);
  return { summary, outcomes: result.outcomes };
}
