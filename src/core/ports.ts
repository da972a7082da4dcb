// The small interfaces the pipeline depends on. Adapters implement them; the
// composition root (src/composition.ts) wires them; tests hand in fakes that record.
import type { ActionOutcome } from './outcome.ts';
import type { Plan } from './plan.ts';
import type { ActionType } from './policy.ts';

export type Severity = 'DEBUG' | 'INFO' | 'NOTICE' | 'WARNING' | 'ERROR' | 'CRITICAL';

/** One JSON line per step; `severity` is what Cloud Logging reads from stdout. */
export interface StepLogger {
  log(severity: Severity, step: string, message: string, fields?: Record<string, unknown>): void;
}

/** What the cluster looked like right before containment, kept as evidence. Plain JSON objects. */
export interface ClusterSnapshots {
  pod?: unknown;
  node?: unknown;
  events?: unknown[];
  /** container name → last lines of its log */
  containerLogs?: Record<string, string>;
  /** The Node annotation container.googleapis.com/instance_id, for the serial console query. */
  nodeInstanceId?: string;
  /** The node the live pod runs on (pod.spec.nodeName), which may differ from the finding's. */
  resolvedNode?: string;
}

export interface ContainmentResult {
  outcomes: ActionOutcome[];
  snapshots: ClusterSnapshots;
  warnings: string[];
}

export interface ContainmentRequest {
  plan: Plan;
  /** Actions the blast-radius budget refused: reported as skipped, never attempted. */
  deniedByBudget: ReadonlyMap<ActionType, string>;
  /** Outcomes already recorded by an earlier delivery of the same finding: not repeated. */
  previous?: ReadonlyMap<ActionType, ActionOutcome>;
}

/** Preflight + actions against the cluster (cluster-actions issue). Throws TransientError for faults that can heal. */
export interface ClusterResponder {
  contain(request: ContainmentRequest): Promise<ContainmentResult>;
}

/** Evidence gathered after containment (evidence issue). Must never throw: failures become `incomplete` notes. */
export interface EvidenceGatherer {
  gather(plan: Plan, snapshots: ClusterSnapshots): Promise<EvidenceReport>;
}

export interface EvidenceQueryResult {
  kind: string;
  filter: string;
  /** Logs Explorer URL for the same filter and window. */
  url: string | null;
  count: number;
  excerpts: string[];
  /** Set when the query did not complete: "quota", "error: …". */
  incomplete: string | null;
}

export interface EvidenceReport {
  queries: EvidenceQueryResult[];
  links: Record<string, string>;
  /** gs:// location of the kept bundle, when a bucket is configured. */
  bundle: string | null;
  notes: string[];
}
